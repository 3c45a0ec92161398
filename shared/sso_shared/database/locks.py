"""A PostgreSQL advisory lock held while the shared tables are migrated.

Django takes no lock around ``migrate``: two services migrating the shared
database at once fail with "already exists" or duplicate content types.
https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS
"""

import contextlib
import time

from django.db import connections

# Any fixed 64-bit number both services agree on; derived from a readable name.
MIGRATE_LOCK_ID = int.from_bytes(b"sso-migr", "big") & 0x7FFF_FFFF_FFFF_FFFF
# Held while a service compares its fingerprint and writes it, so two services
# starting at once cannot both compare against the other's old record.
REGISTER_LOCK_ID = int.from_bytes(b"sso-regi", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextlib.contextmanager
def advisory_lock(alias: str, lock_id: int = MIGRATE_LOCK_ID, *, report=None):
    """Hold a session-level advisory lock on the database behind ``alias``."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        acquired = cursor.fetchone()[0]
        if not acquired:
            if report:
                report("Another migration holds the shared-database lock; waiting for it to finish.")
            started = time.monotonic()
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
            if report:
                report(f"Lock acquired after {time.monotonic() - started:.1f} s.")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def transaction_lock(alias: str, lock_id: int) -> None:
    """Wait for an advisory lock released at the end of the current transaction."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


# Held by one housekeeping run (sso_shared.operations.housekeeping); a second run at the same time skips.
HOUSEKEEPING_LOCK_ID = int.from_bytes(b"sso-hous", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextlib.contextmanager
def advisory_lock_or_none(alias: str, lock_id: int):
    """Take a session-level advisory lock without waiting; yields whether it was taken."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
