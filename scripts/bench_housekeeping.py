"""Benchmark: /b/ throughput with a million expired sessions in the table, and after housekeeping.

Against a running native stack (./stack up --native): makes a throwaway superuser,
fills sso_session with --sessions expired sessions (default 1,000,000; one INSERT
with generate_series, as the superuser), measures /b/ throughput (--clients logged-in
clients for --seconds), runs `./stack housekeeping` (timed; as the maintenance role), measures
again, and prints the figures. A measurement, not a test: it asserts nothing.

    .venv/bin/python scripts/bench_housekeeping.py --base-url http://127.0.0.1:8080/ \\
        --env-file .env --pg-port 55432 [--sessions 1000000] [--clients 4] [--seconds 10]

(With STACK_STATE/STACK_ENV_FILE/ports exported as for the stack itself, so that
./stack manage reaches the same stack.)
"""

import argparse
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e.client import SiteClient  # noqa: E402 (after the path is set)
from sso_shared.environment.envfile import read_env_file  # noqa: E402

FILL = """
    INSERT INTO sso_session (session_key, session_data, expire_date, user_id)
    SELECT md5(%s || g::text) || substr(md5(g::text), 1, 8), 'e30:', now() - interval '1 day', NULL
      FROM generate_series(1, %s) AS g
"""


def stack(*args: str, env: dict | None = None) -> str:
    command = [str(ROOT / "stack"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"./stack {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def throughput(clients: list[SiteClient], seconds: float) -> tuple[float, int]:
    """Requests per second of /b/ over all clients, and how many answers were not 200."""
    done, failed, stop = [0], [0], threading.Event()
    lock = threading.Lock()

    def ask(client: SiteClient) -> None:
        while not stop.is_set():
            ok = client.get("/b/", allow_redirects=False).status_code == 200
            with lock:
                done[0] += 1
                failed[0] += not ok

    threads = [threading.Thread(target=ask, args=(client,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return done[0] / (time.perf_counter() - started), failed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/")
    parser.add_argument("--env-file", default=str(ROOT / ".env"))
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    env = read_env_file(args.env_file)
    username, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    stack(
        "manage", "a", "createsuperuser", "--noinput", "--username", username, "--email", f"{username}@example.com",
        env={**os.environ, "DJANGO_SUPERUSER_PASSWORD": password},
    )  # fmt: skip
    clients = []
    for _ in range(args.clients):
        client = SiteClient(args.base_url)
        if client.login(username, password).status_code != 302:
            raise SystemExit("login failed")
        clients.append(client)
    database = psycopg2.connect(
        host="127.0.0.1",
        port=args.pg_port,
        user="postgres",
        password=env["POSTGRES_PASSWORD"],
        dbname="sso",
        options="-c search_path=shared",
    )
    database.autocommit = True

    def rows() -> int:
        with database.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sso_session")
            return cursor.fetchone()[0]

    started = time.perf_counter()
    with database.cursor() as cursor:
        cursor.execute(FILL, [secrets.token_hex(8), args.sessions])
        cursor.execute("ANALYZE sso_session")
    print(f"filled {args.sessions:,} expired sessions in {time.perf_counter() - started:.1f} s; table: {rows():,} rows")

    throughput(clients, 2)  # warm up
    before, failed_before = throughput(clients, args.seconds)
    load = f"{args.clients} clients, {args.seconds:g} s"
    print(f"/b/ before housekeeping: {before:8.1f} req/s ({load}, {failed_before} not 200)")

    started = time.perf_counter()
    line = stack("housekeeping").strip()
    took = time.perf_counter() - started
    print(f"housekeeping took {took:.1f} s: {line}; table: {rows():,} rows")

    after, failed_after = throughput(clients, args.seconds)
    print(f"/b/ after housekeeping:  {after:8.1f} req/s ({load}, {failed_after} not 200)")
    print(f"difference: {(after - before) / before * 100:+.1f} %")
    database.close()


if __name__ == "__main__":
    main()
