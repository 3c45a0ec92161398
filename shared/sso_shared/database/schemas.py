"""The schemas of the one database: which one an alias creates in, and making them exist.

On a deployment the schemas exist before anything connects: provisioning
(db/provision.sql) creates the shared schema, owned by the migration role's
``sso_auth``, and one schema per service, owned by the service's role. A test
database is created empty by Django, as the test login, which may create them.
"""

import contextlib

from django.contrib.auth import get_user_model

from sso_shared.database.routers import SHARED_MIGRATIONS_DB, SHARED_SCHEMA


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
    from sso_shared.agreement.upgrades import unapplied_migrations

    return not unapplied_migrations(SHARED_MIGRATIONS_DB)


def models_apps_point_at():
    """The shared models a service's own apps may hold foreign keys to: users, groups, permissions, content types."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    return [get_user_model(), Group, Permission, ContentType]


def let_services_point_at_shared_tables(connection) -> None:
    """Let every role that reaches the shared schema hold foreign keys to the tables apps point at.

    Run by the migrate step as the owner of the shared tables, right after migrating them: a
    service's migration that adds such a key needs REFERENCES on the table it points at. Only
    these four: a service holding a key to a session or an audit event could keep it from being
    deleted. PUBLIC, because only the roles provisioning gave USAGE on the shared schema can use it.
    """
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in models_apps_point_at())
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT REFERENCES ON {tables} TO PUBLIC")


# The shared database of the layout before one database with a schema per service.
LEGACY_SHARED_DATABASE = "sso_auth"


def data_still_in_the_layout_before(connection) -> bool:
    """True while the site's users are in the three databases of the layout before, not moved yet.

    Migrating then would make an empty site beside them: ./stack up moves them first (a backup,
    then each database into its schema: scripts/stack/55-backup.sh, move_to_schemas).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = %s), "
            "pg_catalog.to_regclass(%s) IS NOT NULL",
            [LEGACY_SHARED_DATABASE, f"{SHARED_SCHEMA}.{get_user_model()._meta.db_table}"],
        )
        legacy, moved = cursor.fetchone()
    return legacy and not moved
