"""Benchmark: how many writes to the session table a logged-in user's page views cost.

Logs one user in through nginx, then opens /a/whoami and /b/whoami in turn for
--seconds, and counts the rows PostgreSQL updated in sso_session meanwhile
(pg_stat_user_tables.n_tup_upd of the shared database). Last seen is written at
most once a minute per session (docs/sessions.md), so a run of S seconds should
show about S / 60 writes, however many requests it made. Run it against a stack
nobody else uses: every session's updates count. It is a measurement, not a
test: it asserts nothing.

    .venv/bin/python scripts/bench_last_seen.py --base-url http://127.0.0.1:8080/ \\
        --username alice --password '...' --pg-port 5432 [--seconds 125]
    (the PostgreSQL superuser's password from POSTGRES_PASSWORD in the environment)
"""

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e.client import SiteClient  # noqa: E402 (after the path is set)

PATHS = ("/a/whoami", "/b/whoami")
# PostgreSQL publishes a backend's table statistics when it is idle, at the latest 10 s after
# (PGSTAT_IDLE_INTERVAL); waiting longer counts the login's own write before the run, not in it.
STATISTICS_DELAY = 11


def updated_rows(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'sso_session'")
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--database", default="sso")
    parser.add_argument("--seconds", type=float, default=125)
    args = parser.parse_args()

    connection = psycopg2.connect(
        host=args.pg_host,
        port=args.pg_port,
        dbname=args.database,
        user="postgres",
        password=os.environ["POSTGRES_PASSWORD"],
    )
    connection.autocommit = True
    client = SiteClient(args.base_url)
    if client.login(args.username, args.password).status_code != 302:
        raise SystemExit("login failed")
    time.sleep(STATISTICS_DELAY)
    before = updated_rows(connection)

    requests = 0
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        response = client.get(PATHS[requests % len(PATHS)])
        if response.status_code != 200 or not response.json()["authenticated"]:
            raise SystemExit(f"{response.url} answered {response.status_code}; is the user logged in?")
        requests += 1
    elapsed = time.monotonic() - started
    time.sleep(STATISTICS_DELAY)
    writes = updated_rows(connection) - before

    print(f"{requests} requests in {elapsed:.0f} s ({requests / elapsed:.0f} req/s), alternating {' and '.join(PATHS)}")
    per_request, per_minute = writes / requests, writes / elapsed * 60
    print(f"rows updated in sso_session: {writes} ({per_request:.5f} per request, {per_minute:.2f} a minute)")


if __name__ == "__main__":
    main()
