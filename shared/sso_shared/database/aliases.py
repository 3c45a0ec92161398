"""Database aliases built from environment variables: one database, a schema per service.

At run time a service connects once, with its own role, to the deployment's one
database (``DB_NAME``). The connection's ``search_path`` is the service's own
schema (``DB_SCHEMA``, by default named after its role), then the shared schema:
unqualified table names find the service's tables first, then the shared ones.
The role owns its schema and may only read and write rows in the shared one.

The alias "shared" points at the same database with the shared schema alone on
its ``search_path``. Only the migrate step uses it: it logs in as the migration
role (``AUTH_DB_USER=sso_migrator``) over a local socket (``AUTH_DB_HOST``, a socket
folder; PostgreSQL's peer authentication, no password) and, with
``AUTH_DB_ROLE=sso_auth``, runs ``SET ROLE`` on every connection, so the shared
tables belong to one owner whichever service migrated them (db/provision.sql).
https://docs.djangoproject.com/en/5.2/ref/databases/#postgresql-notes
https://www.postgresql.org/docs/15/ddl-schemas.html#DDL-SCHEMAS-PATH
"""

import re

from django.core.exceptions import ImproperlyConfigured

from sso_shared.database.routers import SHARED_SCHEMA
from sso_shared.environment.values import env, required, secret

DB_PASSWORD_MIN_LENGTH = 16
DEFAULT_DB_NAME = "sso"


SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def search_path(*schemas: str) -> dict:
    # Set when the connection opens (libpq's options): no statement per request.
    # https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNECT-OPTIONS
    return {"options": "-c search_path=" + ",".join(schemas)}


def _connection(schema: str, options: dict, *, user: str, password: str, host: str) -> dict:
    name = env("DB_NAME", default=DEFAULT_DB_NAME)
    return {
        # Not a Django setting: the schema this alias creates its tables in (sso_shared.database.schemas).
        "SCHEMA": schema,
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


def service_schema(service_login: dict) -> str:
    """The service's own schema: DB_SCHEMA, else the schema named after its role."""
    schema = env("DB_SCHEMA", default=service_login["user"])
    if not SCHEMA_NAME.fullmatch(schema) or schema == SHARED_SCHEMA:
        raise ImproperlyConfigured(
            f"DB_SCHEMA={schema!r} is not a service schema: lower-case letters, digits and _ "
            f"(not starting with a digit), and not {SHARED_SCHEMA!r}, the shared one."
        )
    return schema


def databases(*, shared: str, service: str) -> dict:
    service_login = _service_login()
    own = service_schema(service_login)
    shared_options = search_path(SHARED_SCHEMA)
    role = env("AUTH_DB_ROLE", default="")
    if role:
        # https://docs.djangoproject.com/en/5.2/ref/databases/#assume-role
        shared_options["assume_role"] = role
    return {
        service: _connection(own, search_path(own, SHARED_SCHEMA), **service_login),
        shared: {
            **_connection(SHARED_SCHEMA, shared_options, **_shared_login(service_login)),
            # One database with "default": Django creates its test copy once, through "default"
            # (sso_shared.management.commands.migrate migrates the shared schema first), and
            # tests run in one transaction, on "default".
            # https://docs.djangoproject.com/en/5.2/topics/testing/advanced/#testing-primary-replica-configurations
            "TEST": {"MIRROR": service},
        },
    }
