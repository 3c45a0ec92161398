"""The environment: what this deployment is, read from outside the code.
``values`` is the one place that reads the process environment (and the ``.env`` file it names),
refusing a missing or placeholder secret; ``envfile`` reads a ``.env`` file exactly as Docker Compose
does (standard library only, so ``./stack`` runs it before any virtual environment exists);
``services`` lists the services that share the login and where each lives under the domain.
"""
