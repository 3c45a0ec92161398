"""What users see when a part of the native stack fails under load, counted (docs/failures.md).

Loopback only, each test bounded to about ten seconds of load by a few clients.
"""

import os
import re
import signal
import time
from pathlib import Path

import psycopg2
import pytest

from sso_shared.environment.envfile import read_env_file

from ..client import SiteClient
from ..conftest import BASE_URL, VERIFY
from .conftest import STATE, Load, LogTail, alive, stack

pytestmark = pytest.mark.usefixtures("logged_in_clients")

PATHS = ("/b/", "/a/whoami")
OUTAGE_SECONDS = 3
RECOVERY_SECONDS = 5  # every request sent this long after PostgreSQL is back must succeed


def gunicorn_pid(service: str) -> int:
    return int((STATE / "run" / service / "gunicorn.pid").read_text())


def worker_pids(master: int) -> list[int]:
    children = []
    for task in os.listdir(f"/proc/{master}/task"):
        children += [int(pid) for pid in Path(f"/proc/{master}/task/{task}/children").read_text().split()]
    return children


def wait_until(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def test_postgresql_stopped_for_3_seconds_is_503s_then_200s_and_nobody_logged_out(logged_in_clients):
    logs = {name: LogTail(name) for name in ("a.log", "b.log")}
    with Load(logged_in_clients, PATHS) as load:
        time.sleep(2)
        stopped_at = time.monotonic()
        stack("_database", "stop")
        time.sleep(OUTAGE_SECONDS)
        stack("_database", "start")
        back_at = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 2)
    last_503 = max((hit.at for hit in load.hits if hit.status == 503), default=back_at) - back_at
    print(f"last 503 sent {last_503:+.2f} s after PostgreSQL answered again")
    load.check_database_outage(stopped_at, back_at, RECOVERY_SECONDS)
    for username, client in logged_in_clients:
        assert client.whoami("a")["username"] == username
        assert client.get("/b/", allow_redirects=False).status_code == 200
    # One line per 503, no traceback, in the services' logs.
    for log in logs.values():
        text = log.text()
        assert "Traceback" not in text
    assert "database unavailable, answered 503" in logs["b.log"].text()


def test_a_b_worker_killed_fails_at_most_the_request_in_flight(logged_in_clients):
    with Load(logged_in_clients, PATHS) as load:
        time.sleep(1.5)
        victim = worker_pids(gunicorn_pid("b"))[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(4)
    statuses = load.statuses()
    print(f"all: {dict(statuses)}")
    assert not alive(victim)
    failed = sum(count for status, count in statuses.items() if status != 200)
    # Each of the four clients has at most one request in flight on B at the moment of the kill.
    assert failed <= 1, statuses
    assert statuses[200] > 20


def test_b_stopped_is_nginxs_page_naming_b_and_a_keeps_working(logged_in_clients, supervisor_paused):
    master = gunicorn_pid("b")
    os.kill(master, signal.SIGTERM)
    assert wait_until(lambda: not alive(master), timeout=25)
    with Load(logged_in_clients, ("/a/whoami", "/a/")) as on_a:
        time.sleep(3)
        page = SiteClient(BASE_URL, verify=VERIFY).get("/b/")
    assert page.status_code == 502
    assert "<h1>System B · Review is not available right now</h1>" in page.text
    assert '<a class="other-service" href="/a/">Go to System A · Intake →</a>' in page.text
    assert '<link rel="stylesheet" href="/b/static/sso_shared/site.css">' in page.text
    statuses = on_a.statuses()
    print(f"A while B is stopped: {dict(statuses)}")
    assert set(statuses) == {200} and statuses[200] > 10, statuses


def test_the_supervisor_starts_a_killed_b_again(logged_in_clients):
    username, client = logged_in_clients[0]
    master = gunicorn_pid("b")
    orphans = worker_pids(master)
    os.kill(master, signal.SIGKILL)
    # The killed master's workers notice within a second or so and quit; the supervisor starts a new B.
    assert wait_until(lambda: not any(alive(pid) for pid in orphans), timeout=20)
    assert wait_until(lambda: gunicorn_pid_or_none("b") not in (None, master), timeout=20)
    assert wait_until(lambda: client.get("/b/", allow_redirects=False).status_code == 200, timeout=20)
    assert worker_pids(gunicorn_pid("b"))
    assert "System B is not running; starting it again" in (STATE / "log" / "supervisor.log").read_text()


def gunicorn_pid_or_none(service: str) -> int | None:
    try:
        return gunicorn_pid(service)
    except (OSError, ValueError):
        return None


def test_a_500s_traceback_is_in_bs_log_under_the_request_id_nginx_gave_it(logged_in_clients):
    """A real 500 with no test hook in the code: B's table (in its schema of the one database) is renamed
    away for the moment of one request."""
    username, client = logged_in_clients[0]
    env = read_env_file(os.environ["E2E_ENV_FILE"])
    database = psycopg2.connect(
        host="127.0.0.1",
        port=os.environ["STACK_PG_PORT"],
        user="postgres",
        password=env["POSTGRES_PASSWORD"],
        dbname="sso",
    )
    database.autocommit = True
    logs = {name: LogTail(name) for name in ("b.log", "nginx-access.log")}
    probe = f"/b/?probe={os.urandom(6).hex()}"
    try:
        with database.cursor() as cursor:
            cursor.execute("ALTER TABLE system_b.review_review RENAME TO review_review_away")
        response = client.get(probe)
    finally:
        with database.cursor() as cursor:
            cursor.execute("ALTER TABLE system_b.review_review_away RENAME TO review_review")
        database.close()
    assert response.status_code == 500
    assert "Traceback" not in response.text
    access = next(line for line in logs["nginx-access.log"].text().splitlines() if probe in line)
    assert f'"GET {probe} HTTP/1.1" 500 ' in access
    request_id = re.search(r" rid=([0-9a-f]{32}) ", access).group(1)
    log = logs["b.log"].text()
    record = re.search(rf"^.* ERROR rid={request_id} django.request Internal Server Error: /b/\n", log, re.M)
    assert record, log[-3000:]
    traceback = log[record.end() :].split(" rid=", 1)[0]
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'relation "review_review" does not exist' in traceback
    assert client.get("/b/").status_code == 200
