"""Django's dumpdata across both databases when no ``--database`` is given.

Django dumps one database and silently leaves out every model the router keeps
elsewhere: ``dumpdata auth`` from "default" (the service's database) is empty.
Without ``--database`` this dumps each app from the database that holds it,
shared apps first, into one fixture.
"""

import json
from io import StringIO

from django.core.management import CommandError
from django.core.management.base import OutputWrapper
from django.core.management.commands import dumpdata as django_command

from sso_shared.management.shared_database import databases_holding

MERGEABLE_FORMATS = ("json", "jsonl")


class Command(django_command.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database=None)

    def handle(self, *app_labels, **options):
        if options["database"]:
            return super().handle(*app_labels, **options)
        aliases = databases_holding(app_labels)
        if len(aliases) == 1:
            return super().handle(*app_labels, **{**options, "database": aliases[0]})
        if options["format"] not in MERGEABLE_FORMATS:
            raise CommandError(
                f"These apps live in two databases ({', '.join(aliases)}) and {options['format']} fixtures cannot be "
                "joined: dump each with --database, or use --format json."
            )
        dumps = [self.dump(app_labels, options, alias) for alias in aliases]
        self.write(joined(dumps, options), options["output"])

    def dump(self, app_labels, options, alias: str) -> str:
        captured, self.stdout = self.stdout, OutputWrapper(StringIO())
        try:
            super().handle(*app_labels, **{**options, "database": alias, "output": None})
            return self.stdout._out.getvalue()
        finally:
            self.stdout = captured

    def write(self, text: str, output: str | None) -> None:
        if output:
            with open(output, "w") as stream:
                stream.write(text)
        else:
            self.stdout.ending = None
            self.stdout.write(text)


def joined(dumps: list[str], options) -> str:
    if options["format"] == "jsonl":
        return "".join(dumps)
    objects = [item for dump in dumps for item in json.loads(dump or "[]")]
    return json.dumps(objects, indent=options["indent"], ensure_ascii=False)
