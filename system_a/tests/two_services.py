"""System A and System B as they run: each its own manage.py (or gunicorn) in its own
process with its own environment, against fresh databases on the test PostgreSQL.

Unit tests log in as the cluster's superuser, so they can create the three
databases a deployment has (shared auth, system_a, system_b) and drop them after.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import requests

from sso_shared.presence import PRESENCE_NAMESPACE, presence_key

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIRS = {"a": ROOT / "system_a", "b": ROOT / "system_b"}
SUPPORT = Path(__file__).resolve().parent / "support"
SERVICE_PREFIX = {"a": "/a", "b": "/b"}


@contextmanager
def superuser_cursor(dbname: str = "postgres"):
    connection = psycopg2.connect(
        dbname=dbname,
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=os.environ.get("DB_PORT", "5432"),
    )
    connection.autocommit = True  # CREATE DATABASE refuses to run in a transaction
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def new_key() -> str:
    return secrets.token_urlsafe(48)


@dataclass
class TwoServices:
    """Three fresh databases and the environment each service runs with."""

    name: str = field(default_factory=lambda: f"sso_{secrets.token_hex(4)}")

    @property
    def auth_db(self) -> str:
        return f"{self.name}_auth"

    def service_db(self, service: str) -> str:
        return f"{self.name}_{service}"

    @property
    def databases(self) -> list[str]:
        return [self.auth_db, self.service_db("a"), self.service_db("b")]

    def create(self) -> "TwoServices":
        with superuser_cursor() as cursor:
            for name in self.databases:
                cursor.execute(f'CREATE DATABASE "{name}"')
        return self

    def drop(self) -> None:
        with superuser_cursor() as cursor:
            for name in self.databases:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def env(self, service: str, settings: dict | None = None, **overrides) -> dict:
        env = {
            **os.environ,
            "AUTH_DB_NAME": self.auth_db,
            "SERVICE_DB_NAME": self.service_db(service),
            "WEB_CONCURRENCY": "1",
            **overrides,
        }
        if settings:
            env["DJANGO_SETTINGS_MODULE"] = "settings_with_overrides"
            env["SSO_TEST_SETTINGS"] = json.dumps(settings)
            env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), str(SERVICE_DIRS["a"])])
        return {key: value for key, value in env.items() if value is not None}

    def manage(self, service: str, *args: str, settings: dict | None = None, **env) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 (arguments written by the tests)
            [sys.executable, "manage.py", *args],
            cwd=SERVICE_DIRS[service],
            env=self.env(service, settings, **env),
            capture_output=True,
            text=True,
            timeout=180,
        )

    def start_manage(self, service: str, *args: str, **env) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 (arguments written by the tests)
            [sys.executable, "manage.py", *args],
            cwd=SERVICE_DIRS[service],
            env=self.env(service, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def query(self, sql: str, params=(), *, database: str | None = None) -> list[tuple]:
        with superuser_cursor(database or self.auth_db) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def migrate_both(self) -> None:
        for service in ("a", "b"):
            result = self.manage(service, "sso_migrate", "--noinput")
            assert result.returncode == 0, result.stderr

    @contextmanager
    def running(self, service: str):
        """The service counts as running: its presence lock is held, as each of its gunicorn workers holds it."""
        with superuser_cursor(self.auth_db) as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock_shared(%s, %s)", [PRESENCE_NAMESPACE, presence_key(f"system_{service}")]
            )
            yield

    def gunicorn_command(self, port: int) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]

    @contextmanager
    def gunicorn(self, service: str, **env):
        """Start the service's gunicorn as the stack does; yields its base URL (with the prefix)."""
        port = free_port()
        with tempfile.TemporaryFile("w+") as log:
            process = subprocess.Popen(  # noqa: S603 (arguments written by the tests)
                self.gunicorn_command(port),
                cwd=SERVICE_DIRS[service],
                env=self.env(service, **env),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            base = f"http://127.0.0.1:{port}{SERVICE_PREFIX[service]}"
            try:
                wait_for_health(base, process, log)
                yield base
            finally:
                process.terminate()
                process.wait(timeout=30)

    def gunicorn_refusing(self, service: str, **env) -> subprocess.CompletedProcess:
        """Run gunicorn expecting it to stop by itself before serving."""
        return subprocess.run(  # noqa: S603 (arguments written by the tests)
            self.gunicorn_command(free_port()),
            cwd=SERVICE_DIRS[service],
            env=self.env(service, **env),
            capture_output=True,
            text=True,
            timeout=60,
        )


def wait_for_health(base: str, process: subprocess.Popen, log, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log.read()}")
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base}/health did not answer within {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
