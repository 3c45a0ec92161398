"""Adopt an existing Django project: its users, groups and logged-in sessions (docs/adopting.md).

    manage.py sso_adopt --from db.sqlite3|postgres://... --secret-key-file FILE [--map FILE] [--dry-run]
                        [--keep-superusers] [--merge-group-permissions] [--join-existing-groups]
                        [--merge-user-permissions] [--take-passwords] [--take-sessions]
    manage.py sso_adopt --rewrite TABLE.COLUMN [--load FIXTURE] [--dry-run]

``./stack adopt a|b`` runs it with ``--inputs-on-stdin``: the source, key and map
arrive as a tar stream, never as paths or on a command line.
"""

import json
import sys
import tempfile
from dataclasses import fields

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command
from django.core.serializers.base import DeserializationError
from django.db import IntegrityError, connections, transaction

from sso_shared.adoption import adoption, inputs, privileges, report, rewrite
from sso_shared.adoption.carried_sessions import WrongSecretKey
from sso_shared.adoption.models import AdoptedUser
from sso_shared.database.locks import advisory_lock
from sso_shared.database.routers import SHARED_DB


class Command(BaseCommand):
    help = "Move a legacy Django project's users, groups and sessions onto the shared login (docs/adopting.md)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source_path", metavar="SOURCE", help="SQLite file or postgres:// URL")
        parser.add_argument("--secret-key-file", metavar="FILE", help="the legacy SECRET_KEY (then any fallbacks)")
        parser.add_argument("--map", dest="map_file", metavar="FILE", help="CSV: source username,target username|skip")
        parser.add_argument("--cookie", default="sessionid", help="the legacy session cookie's name (sessionid)")
        parser.add_argument("--name", help="the source's name in the old-pk mapping (default: this service's letter)")
        parser.add_argument("--rewrite", action="append", default=[], metavar="TABLE.COLUMN")
        parser.add_argument(
            "--load",
            metavar="FIXTURE",
            help="a JSON fixture of the project's own data (- for standard input): its --rewrite columns are "
            "rewritten on the way in, as their foreign keys to the user hold only then",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the report and change nothing")
        # What may raise a privilege held here or bring a credential to a user here (adoption/privileges.py).
        for option in fields(privileges.Options):
            parser.add_argument(
                privileges.option_flag(option.name), action="store_true", help=privileges.OPTION_HELP[option.name]
            )
        parser.add_argument("--inputs-on-stdin", action="store_true", help=argparse_suppress())

    def handle(self, *args, **options):
        service = settings.SSO_SERVICE_NAME
        source = options["name"] or service
        given = self.inputs(options)
        if given is None and not options["rewrite"]:
            raise CommandError("nothing to do: give --from SOURCE --secret-key-file FILE, or --rewrite TABLE.COLUMN")
        self.require_tables()
        dry_run = options["dry_run"]
        with advisory_lock(SHARED_DB, report=self.stderr.write):
            if given is not None:
                allowed = privileges.Options(
                    **{option.name: options[option.name] for option in fields(privileges.Options)}
                )
                self.adopt(
                    given, service=service, source=source, cookie=options["cookie"], dry_run=dry_run, allowed=allowed
                )
            if options["rewrite"]:
                self.load_and_rewrite(options["load"], options["rewrite"], source=source, dry_run=dry_run)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")

    def load_and_rewrite(self, fixture, targets, *, source, dry_run):
        """The fixture's user columns rewritten on the way in, then loaded; or the rows in the tables rewritten."""
        if not fixture:
            with transaction.atomic():
                for target in targets:
                    found = rewrite.survey(target, source)
                    self.stdout.write(rewrite.render(found))
                    if found.changes and not dry_run:
                        rewrite.apply(found)
            return
        objects = read_fixture(fixture)
        for target in targets:
            found = rewrite.survey_fixture(objects, target, source)
            self.stdout.write(rewrite.render(found))
            rewrite.apply_to_fixture(objects, found)
        if dry_run:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".json") as rewritten:
            json.dump(objects, rewritten)
            rewritten.flush()
            try:
                call_command("loaddata", rewritten.name, stdout=self.stdout._out)
            except (IntegrityError, DeserializationError) as error:
                raise CommandError(
                    "The rows do not all point at a user, so nothing was loaded: "
                    f"{str(error).strip()}. Adopt their source first (--from), or give each user column with --rewrite."
                ) from None

    def adopt(self, given, *, service, source, cookie, dry_run, allowed):
        try:
            found = adoption.survey(given, service=service, source=source, cookie=cookie, options=allowed)
        except WrongSecretKey as error:
            raise CommandError(str(error)) from None
        text = report.render(found, dry_run=dry_run)
        if found.users.clashes:
            raise CommandError(
                f"{text}\nAdoption refused: {plural(len(found.users.clashes), 'clash', 'clashes')}, nothing was "
                "changed. Resolve each with --map FILE (CSV lines 'source username,target username' or "
                "'source username,skip')."
            )
        self.stdout.write(text)
        if not found.changes_anything():
            self.stdout.write("Nothing to do: this source was adopted before; nothing changed.")
            return
        if dry_run:
            return
        adoption.apply(found)
        self.stdout.write(self.style.SUCCESS("Adopted: written to the shared database in one transaction."))

    @staticmethod
    def inputs(options):
        if options["inputs_on_stdin"]:
            return inputs.from_stream(sys.stdin.buffer)
        if options["source_path"] or options["secret_key_file"]:
            if not (options["source_path"] and options["secret_key_file"]):
                raise CommandError("--from and --secret-key-file go together")
            return inputs.from_paths(options["source_path"], options["secret_key_file"], options["map_file"])
        return None

    @staticmethod
    def require_tables():
        connection = connections[SHARED_DB]
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
        if AdoptedUser._meta.db_table not in tables:
            raise CommandError("the shared database lacks the adoption tables: run sso_migrate (./stack up) first")


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def read_fixture(fixture: str) -> list[dict]:
    """A JSON fixture (dumpdata's format) from a file, or - for standard input."""
    try:
        if fixture == "-":
            return json.load(sys.stdin)
        with open(fixture) as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise CommandError(f"--load {fixture}: not a JSON fixture ({error})") from None
