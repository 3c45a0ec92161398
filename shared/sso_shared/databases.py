"""Database aliases built from environment variables.

At run time each service connects with its own role to two databases: its own (which it
owns) and the shared auth/session database, where it may only read and write rows.

Only the migrate step changes the shared tables' schema. It connects to the shared
database as the migration role (``AUTH_DB_USER=sso_migrator``) over a local socket
(``AUTH_DB_HOST``, a socket folder; PostgreSQL's peer authentication, no password) and,
with ``AUTH_DB_ROLE=sso_auth``, runs ``SET ROLE`` on every connection, so the shared
tables belong to one owner whichever service migrated them (db/provision.sql).
"""

from .env import env, required, secret

DB_PASSWORD_MIN_LENGTH = 16


def _connection(name: str, options: dict, *, user: str, password: str, host: str) -> dict:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user,
        "PASSWORD": password,
        "HOST": host,
        "PORT": env("DB_PORT", default="5432"),
        # Persistent connections with a health check before reuse.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
        "CONN_MAX_AGE": env("DB_CONN_MAX_AGE", cast=int, default=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": env("DB_CONNECT_TIMEOUT", cast=int, default=5), **options},
        "TEST": {"NAME": f"test_{name}"},
    }


def _service_login() -> dict:
    return {
        "user": required("DB_USER"),
        "password": secret("DB_PASSWORD", min_length=DB_PASSWORD_MIN_LENGTH),
        "host": env("DB_HOST", default="127.0.0.1"),
    }


def _shared_login(service_login: dict) -> dict:
    """The service's own login, or the migrate step's (AUTH_DB_USER, over AUTH_DB_HOST's socket)."""
    user = env("AUTH_DB_USER", default="")
    if not user:
        return service_login
    return {
        "user": user,
        "password": secret("AUTH_DB_PASSWORD", required=False, min_length=DB_PASSWORD_MIN_LENGTH),
        "host": env("AUTH_DB_HOST", default=service_login["host"]),
    }


def databases(*, shared: str, service: str) -> dict:
    shared_options = {}
    role = env("AUTH_DB_ROLE", default="")
    if role:
        # https://docs.djangoproject.com/en/5.2/ref/databases/#assume-role
        shared_options["assume_role"] = role
    service_login = _service_login()
    return {
        shared: _connection(env("AUTH_DB_NAME", default="sso_auth"), shared_options, **_shared_login(service_login)),
        service: _connection(required("SERVICE_DB_NAME"), {}, **service_login),
    }
