"""Benchmark: one user's sessions among many, found by the indexed user column and by the old full scan.

Fills the session table with live sessions of other users (1,000, then 100,000, then
1,000,000 by default) and prints, for each size, the median time of deleting one
user (``tombstone_users``, which ends their sessions) and of listing one user's
sessions (``sessions_of``). For comparison, the same two operations the way they
were done before sso_session had a user column: decoding every live session
(skipped above ``--old-scan-up-to``, as it takes seconds per 100,000 sessions).
It is a measurement, not a test: it asserts nothing about time.

It connects like the unit tests do (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD; the
user must be allowed to create databases; SECRET_KEY set), creates a throwaway
database of its own, migrates it with the settings of shared/tests, and drops it
at the end, whatever happens:

    DB_HOST=127.0.0.1 DB_PORT=5432 DB_USER=postgres DB_PASSWORD=... SECRET_KEY=... \\
        .venv/bin/python scripts/bench_sessions_by_user.py [--sizes 1000,100000,1000000] [--repeat 7]
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_PER_USER = 3


def on_the_server(statement: sql.Composable) -> None:
    """Run CREATE or DROP DATABASE from the server's maintenance database (outside any transaction)."""
    connection = psycopg2.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=os.environ.get("DB_PORT", "5432"),
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        dbname="postgres",
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def set_up_django(database: str) -> None:
    os.environ["DB_NAME"] = database
    os.environ["DB_SCHEMA"] = "system_a"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    sys.path.insert(0, str(ROOT / "shared"))
    import django

    django.setup()


class Bench:
    """The operations timed, on the database the router sends sessions to."""

    def __init__(self):
        from django.contrib.auth import get_user_model

        from sso_shared.database.routers import SHARED_DB
        from sso_shared.sessions.store import session_model

        self.db = SHARED_DB
        self.User = get_user_model()
        self.Session = session_model()
        self.filled = 0

    def fill_to(self, size: int) -> None:
        """Live sessions of random other users, in one INSERT ... SELECT; all carry one validly signed blob."""
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.db import connections

        from sso_shared.sessions.store import SessionStore

        data = SessionStore().encode(
            {SESSION_KEY: str(uuid.uuid4()), BACKEND_SESSION_KEY: "x.Backend", HASH_SESSION_KEY: "0" * 64}
        )
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                "INSERT INTO sso_session (session_key, session_data, expire_date, user_id) "
                "SELECT md5('bench-' || i), %s, now() + interval '12 hours', gen_random_uuid()::text "
                "FROM generate_series(%s, %s) AS i",
                [data, self.filled + 1, size],
            )
            cursor.execute("ANALYZE sso_session")
        self.filled = size

    def user_with_sessions(self):
        from django.test import Client

        user = self.User(username=f"bench-{uuid.uuid4().hex}")
        user.set_unusable_password()
        user.save(using=self.db)
        for _ in range(SESSIONS_PER_USER):
            Client().force_login(user)
        return user

    def delete_user(self, end_sessions) -> float:
        """Time ``tombstone_users`` for a fresh user, ending sessions with ``end_sessions``."""
        from sso_shared.accounts import tombstones

        user = self.user_with_sessions()
        original, tombstones.end_sessions_of = tombstones.end_sessions_of, end_sessions
        try:
            started = time.perf_counter()
            tombstones.tombstone_users([user])
            elapsed = time.perf_counter() - started
        finally:
            tombstones.end_sessions_of = original
        if self.Session.objects.using(self.db).filter(user_id=str(user.pk)).exists():
            raise SystemExit(f"{end_sessions.__name__} left sessions of the deleted user behind")
        return elapsed

    def list_sessions(self, user, sessions_of) -> float:
        started = time.perf_counter()
        found = list(sessions_of(user))
        elapsed = time.perf_counter() - started
        if len(found) != SESSIONS_PER_USER:
            raise SystemExit(f"{sessions_of.__name__} found {len(found)} sessions, not {SESSIONS_PER_USER}")
        return elapsed

    # The approach before sso_session had a user column: decode every live session.
    def scanned_sessions_of(self, user):
        from django.contrib.auth import SESSION_KEY
        from django.utils import timezone

        live = self.Session.objects.using(self.db).filter(expire_date__gt=timezone.now())
        return [session for session in live.iterator() if session.get_decoded().get(SESSION_KEY) == str(user.pk)]

    def scan_and_end_sessions(self, users):
        from django.contrib.auth import SESSION_KEY
        from django.utils import timezone

        user_ids = {str(user.pk) for user in users}
        live = self.Session.objects.using(self.db).filter(expire_date__gt=timezone.now())
        doomed = [session.pk for session in live.iterator() if session.get_decoded().get(SESSION_KEY) in user_ids]
        self.Session.objects.using(self.db).filter(pk__in=doomed).delete()


def median_ms(measure, repeat: int) -> float:
    measure()  # warm-up, not counted
    return statistics.median(measure() for _ in range(repeat)) * 1000


def run(sizes: list[int], repeat: int, old_repeat: int, old_scan_up_to: int) -> None:
    from sso_shared.sessions.store import end_sessions_of, sessions_of

    bench = Bench()
    listed = bench.user_with_sessions()
    columns = ("sessions in table", "delete one user", "list one user's", "old scan: delete", "old scan: list")
    print(f"median ms of {repeat} runs (old scan: {old_repeat}); each user has {SESSIONS_PER_USER} sessions")
    print("  ".join(f"{name:>17}" for name in columns))
    for size in sizes:
        bench.fill_to(size)
        row = [
            median_ms(lambda: bench.delete_user(end_sessions_of), repeat),
            median_ms(lambda: bench.list_sessions(listed, sessions_of), repeat),
        ]
        if size <= old_scan_up_to:
            row += [
                median_ms(lambda: bench.delete_user(bench.scan_and_end_sessions), old_repeat),
                median_ms(lambda: bench.list_sessions(listed, bench.scanned_sessions_of), old_repeat),
            ]
        cells = [f"{value:>17.1f}" for value in row] + [f"{'skipped':>17}"] * (len(columns) - 1 - len(row))
        print(f"{size:>17,}  " + "  ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="1000,100000,1000000", help="session counts, ascending (default: %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (default: %(default)s)")
    parser.add_argument("--old-repeat", type=int, default=3, help="runs per old-scan figure (default: %(default)s)")
    parser.add_argument("--old-scan-up-to", type=int, default=100_000, help="largest size scanned the old way")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    database = f"sso_bench_sessions_{os.getpid()}"
    on_the_server(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        set_up_django(database)
        from django.core.management import call_command

        from sso_shared.database.routers import SERVICE_DB

        # The schemas made and the shared one migrated first, as a test database is.
        call_command("migrate", database=SERVICE_DB, verbosity=0)
        run(sizes, args.repeat, args.old_repeat, args.old_scan_up_to)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        on_the_server(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


if __name__ == "__main__":
    main()
