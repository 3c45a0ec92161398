"""Remove expired sessions, old audit events and stale lockout rows (sso_shared.operations.housekeeping).

Safe to run at any time and several at once: a run that finds another one
running skips. Prints one line saying what it removed. Runs as the maintenance
role (``./stack housekeeping``): a service's own role may not delete audit events.
"""

from django.core.management import BaseCommand, CommandError

from sso_shared.operations import audit, housekeeping


class Command(BaseCommand):
    help = "Remove expired sessions, audit events past SSO_AUDIT_RETENTION_DAYS and stale lockout rows."

    def handle(self, *args, **options):
        try:
            report = housekeeping.run()
        except audit.PruneRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(report.line())
