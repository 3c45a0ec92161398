"""A Django project added as a service with ``./stack add-service``, left as its authors wrote it: the layer
that runs it under the one login. ``settings`` loads the project's own settings and puts the shared ones
on top (user model, sessions, cookies, secret, databases, middleware, login URL); ``urls`` puts the shared
URLs (whoami, health, logout, the one login for its admins) before the project's own; ``project`` and
``requirements`` are the checks ``./stack add-service`` makes before it declares the project in
services.toml: a user model of its own is refused, and so are requirements that disagree with the
site's pins. docs/adding-a-service.md.
"""
