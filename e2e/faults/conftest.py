"""Fixtures for the fault tests: the native stack ./stack test started, load on loopback, its logs.

They stop PostgreSQL, kill gunicorn processes and stop the supervisor, so they run
only when asked (E2E_FAULTS=1, as ./stack test does after the native end-to-end
suite) and put everything back before they end.
"""

import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..client import SiteClient
from ..conftest import BASE_URL, STACK, VERIFY, create_user_in_admin, new_password, unique

if not os.environ.get("E2E_FAULTS"):
    collect_ignore_glob = ["test_*.py"]

STATE = Path(os.environ.get("STACK_STATE", "/nonexistent"))
LOGS = STATE / "log"


def stack(*args: str, timeout: float = 120) -> str:
    result = subprocess.run([STACK, *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"./stack {' '.join(args)} failed:\n{result.stderr}"
    return result.stderr


@dataclass
class Hit:
    at: float  # when the request was sent, time.monotonic()
    path: str
    status: int  # 0: no answer at all (connection error or timeout)
    logged_in: bool | None = None


@dataclass
class Load:
    """A few logged-in clients asking in a loop, each its own session, until stopped."""

    clients: list[tuple[str, SiteClient]]
    paths: tuple[str, ...]
    hits: list[Hit] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def ask(self, username: str, client: SiteClient) -> None:
        turn = 0
        while not self.stopping.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            sent = time.monotonic()
            try:
                response = client.http.get(client.url(path), allow_redirects=False, timeout=10, verify=client.verify)
            except Exception:  # no answer at all counts as a failure, never as a pass
                self.hits.append(Hit(sent, path, 0))
                continue
            logged_in = None
            if path.endswith("/whoami") and response.status_code == 200:
                logged_in = response.json()["username"] == username
            elif response.status_code == 200 or response.status_code == 302:
                logged_in = response.status_code == 200  # B sends a logged-out visitor to the login
            self.hits.append(Hit(sent, path, response.status_code, logged_in))

    def __enter__(self):
        for username, client in self.clients:
            thread = threading.Thread(target=self.ask, args=(username, client), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def statuses(self, since: float = 0.0, until: float = float("inf"), path_prefix: str = "/") -> Counter:
        return Counter(hit.status for hit in self.hits if since <= hit.at < until and hit.path.startswith(path_prefix))

    def check_database_outage(self, stopped_at: float, back_at: float, recovery_seconds: float) -> None:
        """What users saw around a database outage: 503s and 200s, never a 500; all 200 from
        recovery_seconds after the database answered again; nobody logged out."""
        everything = self.statuses()
        during = self.statuses(since=stopped_at, until=back_at)
        after = self.statuses(since=back_at + recovery_seconds)
        print(f"all: {dict(everything)}  during the outage: {dict(during)}  from 5 s after: {dict(after)}")
        assert everything[500] == 0
        assert set(everything) <= {200, 503}, everything
        assert during[503] > 0
        assert set(after) == {200} and after[200] > 10, after
        # Every answer that said who is asking said the right person.
        assert [hit for hit in self.hits if hit.logged_in is False] == []


@pytest.fixture(scope="module")
def logged_in_clients(admin_credentials) -> list[tuple[str, SiteClient]]:
    """Four people logged in once for all the tests: a session lost by any test fails the next ones too."""
    admin = SiteClient(BASE_URL, verify=VERIFY)
    assert admin.login(*admin_credentials).status_code == 302
    clients = []
    for _ in range(4):
        username, password = unique("load"), new_password()
        create_user_in_admin(admin, username, password)
        client = SiteClient(BASE_URL, verify=VERIFY)
        assert client.login(username, password).status_code == 302
        clients.append((username, client))
    return clients


class LogTail:
    """What a log file under .stack/<name>/log/ gained since the tail was made."""

    def __init__(self, name: str):
        self.path = LOGS / name
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def text(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"


@pytest.fixture
def supervisor_paused():
    """Stop the native supervisor for a test that needs a service to stay down; `up` restarts it after."""
    pidfile = STATE / "run" / "supervisor.pid"
    pid = int(pidfile.read_text())
    os.kill(pid, 15)
    for _ in range(100):
        if not alive(pid):
            break
        time.sleep(0.1)
    yield
    stack("up", "--native")
