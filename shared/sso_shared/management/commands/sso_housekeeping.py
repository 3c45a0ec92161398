"""Remove expired sessions, old audit events and stale lockout rows (sso_shared.housekeeping).

Safe to run at any time and several at once: a run that finds another one
running skips. Prints one line saying what it removed.
"""

from django.core.management import BaseCommand

from sso_shared import housekeeping


class Command(BaseCommand):
    help = "Remove expired sessions, audit events past SSO_AUDIT_RETENTION_DAYS and stale lockout rows."

    def handle(self, *args, **options):
        report = housekeeping.run()
        self.stdout.write(report.line())
