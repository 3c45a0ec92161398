"""Django's loaddata into both databases when no ``--database`` is given.

Django loads into one database and skips every object the router keeps
elsewhere: a fixture of users loaded into "default" (the service's database)
installs nothing. Without ``--database`` this loads the fixtures into the shared
database, then the service's; each object lands in the one that holds its model.
"""

from django.core.management.commands import loaddata as django_command

from sso_shared.management.shared_database import databases_holding


class Command(django_command.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database=None)

    def handle(self, *fixture_labels, **options):
        if options["database"]:
            return super().handle(*fixture_labels, **options)
        for alias in databases_holding(()):
            super().handle(*fixture_labels, **{**options, "database": alias})
