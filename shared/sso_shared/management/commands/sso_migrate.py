"""Migrate the shared database and this service's own, under one advisory lock.

Run it instead of ``migrate`` on every deploy: a plain ``migrate`` writes this
service's content types and permissions into the shared database only when the
shared alias is migrated, and two services migrating at once would race.
"""

from django.conf import settings
from django.core.management import BaseCommand, call_command

from sso_shared.checks import CROSS_DATABASE_TAG
from sso_shared.locks import advisory_lock
from sso_shared.routers import SERVICE_DB, SHARED_DB


class Command(BaseCommand):
    help = "Migrate the shared auth database and this service's database while holding an advisory lock."

    def add_arguments(self, parser):
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, interactive, verbosity, **options):
        name = settings.SSO_SERVICE_NAME
        # Before anything is migrated, even with --skip-checks or from call_command (which skips
        # checks by default): a foreign key across databases fails in the second database, after
        # the first was migrated. Raises SystemCheckError, which names the field and the fix.
        self.check(tags=[CROSS_DATABASE_TAG])
        with advisory_lock(SHARED_DB, report=self.stdout.write):
            for alias in (SHARED_DB, SERVICE_DB):
                if verbosity:
                    self.stdout.write(f"[{name}] migrating database '{alias}'")
                call_command("migrate", database=alias, interactive=interactive, verbosity=max(verbosity - 1, 0))
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"[{name}] shared and service databases are up to date."))
