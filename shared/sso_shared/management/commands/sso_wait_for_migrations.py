"""Wait until the migrate step has brought both schemas up to this code's migrations.

A service starts with it instead of migrating: at run time its role may not change the
shared tables' schema (db/provision.sql), so the migrate step (``sso_migrate`` as the
migration role) does that, and the service waits for it. Read-only: it only looks at
``django_migrations`` of both schemas.
"""

import time

from django.core.management import BaseCommand, CommandError
from django.db import DatabaseError, connections

from sso_shared.agreement.upgrades import unapplied_migrations
from sso_shared.database.routers import SERVICE_DB, SHARED_MIGRATIONS_DB

MIGRATION_ALIASES = (SHARED_MIGRATIONS_DB, SERVICE_DB)


class Command(BaseCommand):
    help = "Wait until the shared schema and this service's hold every migration of this code."
    # Checks read tables the migrate step may not have made yet.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS")

    def handle(self, *args, timeout, verbosity, **options):
        deadline = time.monotonic() + timeout
        said = None
        while True:
            try:
                missing = {
                    alias: names
                    for alias in (SHARED_MIGRATIONS_DB, SERVICE_DB)
                    if (names := unapplied_migrations(alias))
                }
            except DatabaseError as error:
                missing = {"database": [str(error).strip().splitlines()[0]]}
                for alias in MIGRATION_ALIASES:
                    connections[alias].close()
            if not missing:
                if verbosity:
                    self.stdout.write("The shared schema and this service's hold every migration of this code.")
                return
            summary = "; ".join(f"{alias}: {', '.join(names)}" for alias, names in missing.items())
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"Gave up after {timeout:.0f} s waiting for the migrate step ({summary}). "
                    "Its log says why (docker compose logs migrate, or ./stack up's output)."
                )
            if verbosity and summary != said:
                self.stdout.write(f"Waiting for the migrate step: {summary}")
                said = summary
            time.sleep(1)
