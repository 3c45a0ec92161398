"""Database aliases built from environment variables.

Each service connects with its own role to two databases: its own, and the
shared auth/session database. With ``AUTH_DB_ROLE`` set, every connection to the
shared database runs ``SET ROLE`` to that role, so the shared tables belong to
one owner whichever service created them.
"""

from .env import env, required, secret

DB_PASSWORD_MIN_LENGTH = 16


def _connection(name: str, options: dict) -> dict:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": required("DB_USER"),
        "PASSWORD": secret("DB_PASSWORD", min_length=DB_PASSWORD_MIN_LENGTH),
        "HOST": env("DB_HOST", default="127.0.0.1"),
        "PORT": env("DB_PORT", default="5432"),
        # Persistent connections with a health check before reuse.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
        "CONN_MAX_AGE": env("DB_CONN_MAX_AGE", cast=int, default=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": env("DB_CONNECT_TIMEOUT", cast=int, default=5), **options},
        "TEST": {"NAME": f"test_{name}"},
    }


def databases(*, shared: str, service: str) -> dict:
    shared_options = {}
    role = env("AUTH_DB_ROLE", default="")
    if role:
        # https://docs.djangoproject.com/en/5.2/ref/databases/#assume-role
        shared_options["assume_role"] = role
    return {
        shared: _connection(env("AUTH_DB_NAME", default="sso_auth"), shared_options),
        service: _connection(required("SERVICE_DB_NAME"), {}),
    }
