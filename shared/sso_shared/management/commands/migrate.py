"""Django's migrate, in the order the schema layout needs.

The shared apps are migrated on the alias "shared", a service's own apps on
"default" (sso_shared.database.routers). Both aliases are one database; "default" sees
the shared schema after the service's own on its ``search_path``.

Migrating "shared" walks the shared apps only, one by one, so the shared
schema's ``django_migrations`` lists no service's apps. Migrating "default"
takes care of two things first:

* Django records applied migrations in the first ``django_migrations`` table its
  ``search_path`` finds. While the service's schema has none, that is the shared
  schema's, and the service's migrations would be recorded there (so every other
  service would take them for its own). The service's table is created first, in
  the service's schema.
* A service model with a foreign key to the user needs the shared tables. Where
  the shared schema is not migrated yet and may be migrated by this login (a test
  database, which Django creates and migrates through "default" alone), the
  shared apps are migrated first. On a deployment, sso_migrate migrates the
  shared schema first anyway, as the migration role.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.core.management import CommandError, call_command
from django.core.management.commands import migrate as django_command
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from sso_shared.database.routers import SERVICE_DB, SHARED_MIGRATIONS_DB, SHARED_SCHEMA, shared_app_labels
from sso_shared.database.schemas import (
    create_missing_schemas,
    let_services_point_at_shared_tables,
    own_schema,
    shared_schema_is_migrated,
    with_search_path,
)


class Command(django_command.Command):
    def handle(self, *args, **options):
        if options["database"] == SERVICE_DB:
            prepare_service_schema(self, options)
        elif options["database"] == SHARED_MIGRATIONS_DB and not options["app_label"]:
            return self.migrate_each_shared_app(options)
        return super().handle(*args, **options)

    def migrate_each_shared_app(self, options) -> None:
        """Only the shared apps' migrations, so the shared schema records only those.

        Django records every migration it walks through on an alias, those of apps whose
        tables live elsewhere too (as no-ops): migrating "shared" whole would record each
        service's own apps in the one table every service reads. One app at a time, Django
        walks only that app's migrations and those it depends on (shared apps too).
        """
        shared = connections[SHARED_MIGRATIONS_DB]
        forget_other_apps_migrations(shared)
        loader = MigrationLoader(shared, ignore_no_migrations=True)
        for label in sorted(loader.migrated_apps & shared_app_labels()):
            super().handle(**{**options, "app_label": label, "migration_name": None})
        # The content types and permissions of every app this service runs, its own included: after
        # each app above, Django made them only for the apps it walked (they live in the shared schema).
        for app_config in apps.get_app_configs():
            create_permissions(app_config, verbosity=options["verbosity"], using=SHARED_MIGRATIONS_DB)
        let_services_point_at_shared_tables(connections[SHARED_MIGRATIONS_DB])


def forget_other_apps_migrations(shared) -> None:
    """Records of services' apps in the shared schema's table: a site moved from the layout before
    brings them (its shared database recorded every app, as no-ops). No shared app depends on them."""
    if not MigrationRecorder(shared).has_table():
        return
    with shared.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE NOT (app = ANY(%s))", [sorted(shared_app_labels())])


def prepare_service_schema(command, options) -> None:
    service, shared = connections[SERVICE_DB], connections[SHARED_MIGRATIONS_DB]
    follow_test_database(service, shared)
    create_missing_schemas(service, [own_schema(service), SHARED_SCHEMA])
    with with_search_path(service, own_schema(service)):
        MigrationRecorder(service).ensure_schema()
    try:
        migrate_shared_schema_first(command, options)
    finally:
        # Its work is done; an open connection would keep Django from dropping a test database.
        shared.close()


def migrate_shared_schema_first(command, options) -> None:
    if shared_schema_is_migrated():
        return
    try:
        call_command(
            "migrate",
            database=SHARED_MIGRATIONS_DB,
            interactive=False,
            verbosity=options["verbosity"],
            stdout=command.stdout._out,
            stderr=command.stderr._out,
        )
    except DatabaseError as error:
        raise CommandError(
            f"The shared schema is not migrated yet, and this login may not migrate it ({error}".strip()
            + "). Run `manage.py sso_migrate`: it migrates the shared schema first, as the migration role."
        ) from error


def follow_test_database(service, shared) -> None:
    """While Django creates the test database through "default", point "shared" at it too.

    "shared" is a test mirror of "default" (sso_shared.database.aliases), so Django's test runner
    creates the test database through "default" and points "shared" at it only afterwards
    (``set_as_test_mirror``). The shared schema has to be migrated in between.
    """
    creating_test_database = (
        shared.settings_dict["TEST"]["MIRROR"] == SERVICE_DB
        and shared.settings_dict["NAME"] != service.settings_dict["NAME"]
    )
    if creating_test_database:
        shared.close()
        shared.creation.set_as_test_mirror(service.settings_dict)
