"""The schemas of the one database: which one an alias creates in, and making them exist.

On a deployment the schemas exist before anything connects: provisioning
(db/provision.sql) creates the shared schema, owned by the migration role's
``sso_auth``, and one schema per service, owned by the service's role. A test
database is created empty by Django, as the test login, which may create them.
"""

import contextlib

from .routers import SHARED_MIGRATIONS_DB


def own_schema(connection) -> str:
    """The schema the alias's tables are created in: the first on its search_path."""
    return connection.settings_dict["SCHEMA"]


def missing_schemas(connection, schemas) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(schemas)])
        present = {name for (name,) in cursor.fetchall()}
    return [schema for schema in schemas if schema not in present]


def create_missing_schemas(connection, schemas) -> None:
    """Create the schemas that do not exist yet (a test database); never touch existing ones.

    Only missing ones: CREATE SCHEMA IF NOT EXISTS would still need the right to create
    schemas, which a service's role does not have.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for schema in missing_schemas(connection, schemas):
            cursor.execute(f"CREATE SCHEMA {quote(schema)}")


@contextlib.contextmanager
def with_search_path(connection, *schemas: str):
    """Only ``schemas`` on the connection's search_path meanwhile (then back to the one it opened with)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SET search_path TO " + ", ".join(quote(schema) for schema in schemas))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET search_path")


def shared_schema_is_migrated() -> bool:
    from .upgrades import unapplied_migrations

    return not unapplied_migrations(SHARED_MIGRATIONS_DB)
