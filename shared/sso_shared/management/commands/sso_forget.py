"""Forget a stopped service's fingerprint record.

A record is as fresh as its service's last start. After changing a shared
setting in every service on purpose, the first one to start still sees the
others' old records and refuses; forget those (while they are stopped) and
each writes a fresh record when it starts.
"""

from django.core.management import BaseCommand, CommandError

from sso_shared.agreement.records import SharedDatabaseUnavailable, forget


class Command(BaseCommand):
    help = "Delete a stopped service's fingerprint record (it records a fresh one when it starts)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("service", help="the service as messages name it, e.g. system_b")

    def handle(self, *args, service, verbosity, **options):
        try:
            found = forget(service)
        except SharedDatabaseUnavailable as error:
            raise CommandError(str(error)) from None
        if not found:
            raise CommandError(f"No record of {service} in the shared database.")
        if verbosity:
            self.stdout.write(f"Forgot the record of {service}; it records its settings again when it starts.")
