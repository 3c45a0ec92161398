"""Compare this service's settings with the other services' records, then record its own.

Run it before starting the service (the native stack does; gunicorn's start-up
hook does the same): on a disagreement it exits non-zero, names the setting and
writes nothing.
"""

from django.core.management import BaseCommand, CommandError

from sso_shared.agreement.records import this_service
from sso_shared.agreement.startup import StartRefused, register_or_refuse


class Command(BaseCommand):
    help = "Record this service's settings fingerprint in the shared database, refusing on a mismatch."
    # It runs the comparison itself, inside its lock: no need to run it twice.
    requires_system_checks = []

    def handle(self, *args, verbosity, **options):
        try:
            register_or_refuse(report=lambda warning: self.stderr.write(self.style.WARNING(warning)))
        except StartRefused as refusal:
            raise CommandError(str(refusal)) from None
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"[{this_service()}] settings recorded in the shared database."))
