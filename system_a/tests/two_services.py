"""System A and System B as they run: each its own manage.py (or gunicorn) in its own
process with its own environment, against a fresh database on the test PostgreSQL.

Unit tests log in as the cluster's superuser, so they can create the database a
deployment has, with its shared schema and one schema per service, and drop it after.
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

from sso_shared.agreement.presence import PRESENCE_NAMESPACE, presence_key

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIRS = {"a": ROOT / "system_a", "b": ROOT / "system_b"}
SUPPORT = Path(__file__).resolve().parent / "support"
SERVICE_PREFIX = {"a": "/a", "b": "/b"}


@contextmanager
def superuser_cursor(dbname: str = "postgres"):
    """A cursor as the superuser; in a deployment's database, unqualified names are the shared schema's."""
    connection = psycopg2.connect(
        options="-c search_path=shared",
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


SCHEMAS = {"shared": "shared", "a": "system_a", "b": "system_b"}


@dataclass
class TwoServices:
    """A fresh database with the deployment's schemas, and the environment each service runs with."""

    name: str = field(default_factory=lambda: f"sso_{secrets.token_hex(4)}")

    @property
    def database(self) -> str:
        return self.name

    @staticmethod
    def schema(service: str) -> str:
        """The schema of "shared" or of service "a" or "b"."""
        return SCHEMAS[service]

    def create(self) -> "TwoServices":
        with superuser_cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{self.name}"')
        with superuser_cursor(self.name) as cursor:
            for schema in SCHEMAS.values():
                cursor.execute(f'CREATE SCHEMA "{schema}"')
        return self

    def drop(self) -> None:
        with superuser_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def tables(self, service: str) -> set[str]:
        """The tables in the schema of "shared" or of service "a" or "b"."""
        rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = %s", [self.schema(service)])
        return {name for (name,) in rows}

    def env(self, service: str, settings: dict | None = None, **overrides) -> dict:
        env = {
            **os.environ,
            "DB_NAME": self.name,
            "DB_SCHEMA": self.schema(service),
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

    def query(self, sql: str, params=()) -> list[tuple]:
        with superuser_cursor(self.name) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def migrate_both(self) -> None:
        for service in ("a", "b"):
            result = self.manage(service, "sso_migrate", "--noinput")
            assert result.returncode == 0, result.stderr

    @contextmanager
    def running(self, service: str):
        """The service counts as running: its presence lock is held, as each of its gunicorn workers holds it."""
        with superuser_cursor(self.name) as cursor:
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
