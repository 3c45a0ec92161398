"""The contract every service imports: who the user is, where they live, and what all must agree on.

This level holds a service's entry points: ``settings`` (``from sso_shared.settings import *``),
``urls`` (included in its URLconf), ``cli`` (its ``manage.py``), ``gunicorn_defaults`` (its gunicorn
config) and ``testing`` (its pytest fixtures); and where Django looks by name: ``apps``, ``models``,
``admin``, ``migrations``, ``management``, ``templates`` and ``static``. The rest is in subpackages,
one per part, which a service's code may import from too (its URLconf's ``handler500`` is
``sso_shared.operations.unavailable.server_error``): ``sessions``, ``accounts``, ``second_factor``,
``access``, ``login_protection``, ``agreement``, ``database``, ``operations``, ``environment`` and
``adoption`` (a Django app of its own). docs/architecture.md, "Layout".
"""
