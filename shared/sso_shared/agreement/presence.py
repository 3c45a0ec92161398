"""Which services are running right now, told by PostgreSQL itself.

Every gunicorn worker of a service holds a shared advisory lock named after its
service, on a connection of its own to the shared database, for as long as the
worker lives. PostgreSQL drops the lock the moment that connection ends: a
worker that exits, crashes or loses its host releases it with no clock and no
clean-up. A service runs while at least one such lock is held.

So a record left by a service that is stopped (after ``./stack down``, a crash,
a reboot, an old version replaced) blocks nothing, and one of a service that
runs is compared as before. ``pg_locks`` is readable by every role.
https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS
"""

import contextlib
import logging
import threading
import zlib

from django.db import connections

from sso_shared.database.routers import SHARED_DB

log = logging.getLogger(__name__)

# Two int4 keys (namespace, service): pg_locks shows them as classid, objid with objsubid 2.
PRESENCE_NAMESPACE = int.from_bytes(b"ssoP", "big") & 0x7FFF_FFFF
# How often a holder checks its connection and re-takes the lock after the database
# was away: a running service may look stopped for at most this long after a restart
# of PostgreSQL.
RECHECK_SECONDS = 5


def presence_key(service: str) -> int:
    return zlib.crc32(service.encode()) & 0x7FFF_FFFF


RUNNING_KEYS_SQL = """
    SELECT DISTINCT objid::bigint FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND classid = %s AND objsubid = 2
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def running(services) -> set[str]:
    """Those of ``services`` (names as records give them) that hold their presence lock now."""
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(RUNNING_KEYS_SQL, [PRESENCE_NAMESPACE])
        held = {row[0] for row in cursor.fetchall()}
    return {service for service in services if presence_key(service) in held}


class PresenceHolder(threading.Thread):
    """Holds this process's presence lock on a connection of its own; re-takes it after an outage."""

    def __init__(self, service: str):
        super().__init__(name=f"sso-presence-{service}", daemon=True)
        self.service = service
        self.stopped = threading.Event()
        self.holding = threading.Event()
        self.connection = None

    def run(self):
        while not self.stopped.is_set():
            try:
                self.hold_until_lost()
            except Exception as error:  # the database is away: try again, never kill the worker
                log.warning("presence lock of %s lost (%s); retrying in %s s", self.service, error, RECHECK_SECONDS)
            self.holding.clear()
            self.close()
            self.stopped.wait(RECHECK_SECONDS)
        self.close()

    def hold_until_lost(self):
        wrapper = connections[SHARED_DB]
        self.connection = wrapper.Database.connect(**wrapper.get_connection_params())
        self.connection.autocommit = True
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", [PRESENCE_NAMESPACE, presence_key(self.service)])
        self.holding.set()
        while not self.stopped.wait(RECHECK_SECONDS):
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT 1")

    def close(self):
        if self.connection is not None:
            # A broken connection has nothing left to release.
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def stop(self):
        self.stopped.set()
        self.close()


def hold_presence(service: str) -> PresenceHolder:
    holder = PresenceHolder(service)
    holder.start()
    return holder
