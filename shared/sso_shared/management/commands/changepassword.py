"""Django's changepassword, acting on the shared users without `--database`."""

from django.contrib.auth.management.commands import changepassword as django_command

from sso_shared.management.shared_database import default_to_shared_database


class Command(django_command.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        default_to_shared_database(parser)
