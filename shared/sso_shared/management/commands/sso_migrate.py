"""Migrate the shared schema, then this service's own, under one advisory lock.

Run it instead of ``migrate`` on every deploy: the shared schema is migrated on
its own alias, as the migration role (sso_shared.database.aliases), which also writes
this service's content types and permissions into the shared tables; and two
services migrating at once would race.

It refuses only what would break a running service: migrations of the shared
tables that a service running now does not know (sso_shared.agreement.upgrades). A stale
record of a stopped service, or another service's settings, never block it.
"""

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command
from django.db import connections

from sso_shared.agreement.checks import AGREEMENT_TAG, SHARED_SCHEMA_KEYS_TAG
from sso_shared.agreement.records import this_service
from sso_shared.agreement.upgrades import blocked_message, pending_shared_migrations, wait_until_unblocked
from sso_shared.database import table_rights
from sso_shared.database.locks import advisory_lock
from sso_shared.database.routers import SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB
from sso_shared.database.schemas import data_still_in_the_layout_before
from sso_shared.operations import audit

SCHEMA_OF = {SHARED_MIGRATIONS_DB: "the shared schema", SERVICE_DB: "this service's schema"}


class Command(BaseCommand):
    help = "Migrate the shared schema, then this service's own, while holding an advisory lock."
    # The checks run below, all but the comparison with the other services: a
    # disagreeing setting breaks logins, not migrations, and starting refuses it.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")
        parser.add_argument("--skip-checks", action="store_true", help="skip the system checks")
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait this long for running services that do not know the new shared migrations to stop",
        )
        parser.add_argument(
            "--skip-if-blocked",
            action="store_true",
            help="exit 0 without migrating while running services block it (the one-shot job of a Compose "
            "upgrade: each new service migrates when it starts, once the old ones have stopped)",
        )

    def handle(self, *args, interactive, verbosity, wait, skip_if_blocked, **options):
        # The check of keys out of the shared schema runs before anything is migrated, even with
        # --skip-checks or from call_command (which skips checks by default): such a key fails in the
        # shared schema's migration. SystemCheckError names the fix.
        skipped = {AGREEMENT_TAG} if not options["skip_checks"] else self.registered_tags() - {SHARED_SCHEMA_KEYS_TAG}
        self.check(tags=sorted(self.registered_tags() - skipped))
        name = settings.SSO_SERVICE_NAME
        if data_still_in_the_layout_before(connections[SHARED_DB]):
            raise CommandError(
                "This site's data is still in the three databases of the layout before (sso_auth, system_a, "
                "system_b): migrating now would start an empty site beside them. Run ./stack up once: it backs "
                "them up and moves them into the schemas of one database (docs/operations.md, 'Upgrading')."
            )
        with advisory_lock(SHARED_DB, report=self.stdout.write):
            blockers = wait_until_unblocked(pending_shared_migrations(), wait, report=self.stdout.write)
            if blockers and skip_if_blocked:
                self.stdout.write(
                    f"{blocked_message(this_service(), blockers)}\nSkipped: each service migrates when it starts."
                )
                return
            if blockers:
                raise CommandError(blocked_message(this_service(), blockers))
            # The shared schema first: this service's tables have foreign keys into it.
            for alias in (SHARED_MIGRATIONS_DB, SERVICE_DB):
                if verbosity:
                    self.stdout.write(f"[{name}] migrating {SCHEMA_OF[alias]}")
                call_command("migrate", database=alias, interactive=interactive, verbosity=max(verbosity - 1, 0))
                if alias == SHARED_MIGRATIONS_DB:
                    # Before any service sees its migrations done: the audit trail only grows for them.
                    table_rights.apply(connections[SHARED_MIGRATIONS_DB])
        # The audit trail's old events go on every deploy (and with each housekeeping run, as the maintenance role).
        pruned = audit.prune()
        if verbosity and pruned:
            self.stdout.write(f"[{name}] deleted {pruned} audit events older than SSO_AUDIT_RETENTION_DAYS.")
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"[{name}] the shared schema and this service's are up to date."))

    @staticmethod
    def registered_tags() -> set[str]:
        from django.core.checks import registry

        return registry.registry.tags_available(deployment_checks=False)
