"""Say, line by line, whether this service and the others can share the login.

Read-only. Exits non-zero when any line is FAIL; WARN lines need a look but do
not break logins by themselves.
"""

import django
from django.conf import settings
from django.core.management import BaseCommand, CommandError
from django.utils.timesince import timesince

from sso_shared.access.groups import access_groups_granting_more, violation
from sso_shared.access.permission_rows import missing_permissions
from sso_shared.agreement.checks import missing_permissions_message
from sso_shared.agreement.compare import compare_setting, label_clashes
from sso_shared.agreement.fingerprint import SHARED_SETTINGS
from sso_shared.agreement.records import (
    SharedDatabaseUnavailable,
    other_records,
    shared_database_errors,
    stored_records,
    this_record,
    this_service,
)
from sso_shared.database.routers import SERVICE_DB, SHARED_SCHEMA
from sso_shared.environment.services import service_label

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"


def recorded(record) -> str:
    return f"{timesince(record.updated_at)} ago, at {record.updated_at:%Y-%m-%d %H:%M:%S} UTC"


class Command(BaseCommand):
    help = "Check, read-only, that this service and the others agree on everything the shared login needs."
    requires_system_checks = []

    def handle(self, *args, **options):
        self.failures = 0
        self.stdout.write(f"sso_doctor: {this_service()} (Django {django.get_version()})")
        try:
            records = stored_records()
        except SharedDatabaseUnavailable as error:
            self.line(FAIL, str(error))
            self.line(SKIP, "every other check needs the shared database")
            return self.finish()
        database = settings.DATABASES[SERVICE_DB]
        self.line(
            PASS,
            f"shared schema answers ({SHARED_SCHEMA} in database {database['NAME']} on "
            f"{database['HOST']}:{database['PORT']})",
        )
        mine = this_record()
        self.own_record(mine, records)
        others = other_records(records)
        self.missing_records(others)
        for theirs in others:
            self.compare(mine, theirs)
        self.access_groups()
        self.permissions()
        return self.finish()

    def line(self, status: str, text: str, hint: str = "") -> None:
        style = {PASS: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}.get(status, str)
        self.stdout.write(f"{style(status)}  {text}")
        if hint:
            self.stdout.write(f"      HINT: {hint}")
        if status == FAIL:
            self.failures += 1

    def own_record(self, mine, records) -> None:
        own = next((record for record in records if record.service == mine.service), None)
        if own is None:
            self.line(WARN, f"{mine.service} has not recorded its settings yet: it does when it starts (sso_register)")
        elif (own.fingerprint, own.app_labels) != (mine.fingerprint, mine.app_labels):
            self.line(
                WARN,
                f"{mine.service} recorded other settings than these ({recorded(own)}): restart it (or run "
                "`manage.py sso_register`) so the others compare with what it runs",
            )
        else:
            self.line(PASS, f"{mine.service} recorded these settings ({recorded(own)})")

    def missing_records(self, others) -> None:
        known = {record.service for record in others}
        for name in settings.SSO_SERVICES:
            label = service_label(name)
            if label != this_service() and label not in known:
                self.line(
                    WARN,
                    f"{label} has not recorded its settings: nothing to compare with until it starts "
                    f"(or its `manage.py sso_register` runs)",
                )

    def compare(self, mine, theirs) -> None:
        if theirs.running:
            self.line(PASS, f"{theirs.service} is running; it recorded its settings ({recorded(theirs)})")
        else:
            self.line(
                PASS,
                f"{theirs.service} is not running; its record ({recorded(theirs)}) blocks nothing and is "
                "replaced when it starts",
            )
        for setting in SHARED_SETTINGS:
            if setting.name not in theirs.fingerprint:
                self.line(SKIP, f"{setting.name}: {theirs.service}'s record does not include it")
                continue
            finding = compare_setting(setting, mine, theirs)
            if finding is None:
                self.line(PASS, f"{setting.name} agrees with {theirs.service}")
            elif theirs.running:
                self.line(FAIL if finding.is_error else WARN, finding.message, finding.hint)
            else:
                self.line(
                    WARN,
                    f"{setting.name} differs from what {theirs.service} ran last: it starts only with the same "
                    f"{setting.name} as {mine.service}, or while {mine.service} is stopped.",
                )
        clashes = label_clashes(mine, theirs)
        for clash in clashes:
            self.line(FAIL, clash.message)
        if not clashes:
            self.line(PASS, f"app labels of {mine.service} ({', '.join(mine.app_labels) or 'none'}) are its own")

    def permissions(self) -> None:
        try:
            missing = missing_permissions()
        except SharedDatabaseUnavailable as error:
            self.line(FAIL, f"permissions: {error}")
            return
        if missing:
            self.line(FAIL, missing_permissions_message(missing))
        else:
            self.line(PASS, f"permissions of {this_service()}'s models exist in the shared schema")

    def access_groups(self) -> None:
        try:
            with shared_database_errors():
                found = access_groups_granting_more()
        except SharedDatabaseUnavailable as error:
            self.line(FAIL, f"access groups: {error}")
            return
        for name, extra in found.items():
            self.line(FAIL, violation(name, extra), "remove them from the group as a superuser, in either admin")
        if not found:
            self.line(PASS, "the access groups grant only their own service")

    def finish(self) -> None:
        if self.failures:
            raise CommandError(f"{self.failures} check(s) failed: see FAIL above.")
        self.stdout.write("All checks passed.")
