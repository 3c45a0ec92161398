"""The services' fingerprint records in the shared database: read, compare, write.

Each service writes its record when it starts (``sso_register``, or gunicorn's
``on_starting`` hook) and compares it with the records of the services that run
now (sso_shared.agreement.presence). A record of a stopped service blocks nothing: it
says only what that service ran last, and is replaced when it starts again.
"""

import contextlib

from django.conf import settings
from django.db import DatabaseError, OperationalError, transaction

from sso_shared.agreement.compare import Finding, Record, disagreements
from sso_shared.agreement.fingerprint import current_fingerprint, own_app_labels
from sso_shared.agreement.presence import running
from sso_shared.database.locks import REGISTER_LOCK_ID, transaction_lock
from sso_shared.database.routers import SHARED_DB
from sso_shared.environment.services import service_label
from sso_shared.models import ServiceFingerprint


class SharedDatabaseUnavailable(Exception):
    """The shared database cannot be read: unreachable, or not migrated yet."""


@contextlib.contextmanager
def shared_database_errors():
    try:
        yield
    except OperationalError as error:
        raise SharedDatabaseUnavailable(f"cannot reach the shared database: {first_line(error)}") from error
    except DatabaseError as error:
        raise SharedDatabaseUnavailable(
            f"the shared database is not ready ({first_line(error)}): run `manage.py sso_migrate` first"
        ) from error


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0]


def this_service() -> str:
    return service_label(settings.SSO_SERVICE_NAME)


def this_record() -> Record:
    return Record(this_service(), current_fingerprint(), own_app_labels())


def stored_records() -> list[Record]:
    with shared_database_errors():
        rows = list(ServiceFingerprint.objects.using(SHARED_DB).order_by("service"))
        live = running(row.service for row in rows)
    return [Record(row.service, row.fingerprint, row.app_labels, row.updated_at, row.service in live) for row in rows]


def other_records(records: list[Record] | None = None) -> list[Record]:
    me = this_service()
    return [record for record in (stored_records() if records is None else records) if record.service != me]


def running_others(records: list[Record] | None = None) -> list[Record]:
    """The other services' records that count: those of services running now."""
    return [record for record in other_records(records) if record.running]


def register() -> list[Finding]:
    """Compare with the others' records, then write this service's; on an error nothing is written."""
    mine = this_record()
    with shared_database_errors(), transaction.atomic(using=SHARED_DB):
        transaction_lock(SHARED_DB, REGISTER_LOCK_ID)
        findings = disagreements(mine, running_others())
        if not any(finding.is_error for finding in findings):
            ServiceFingerprint.objects.using(SHARED_DB).update_or_create(
                service=mine.service, defaults={"fingerprint": mine.fingerprint, "app_labels": mine.app_labels}
            )
    return findings


def forget(service: str) -> bool:
    """Delete a stopped service's record; it writes a fresh one when it starts."""
    with shared_database_errors():
        deleted, _ = ServiceFingerprint.objects.using(SHARED_DB).filter(service=service).delete()
    return bool(deleted)
