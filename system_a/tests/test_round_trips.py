"""The SQL round trips of the login POST, on the one connection, pinned (see system_b/tests/test_round_trips.py).

Counted where they leave: what psycopg2 sends to PostgreSQL, one round trip per query text."""

import re

import psycopg2
import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from sso_shared.database.routers import SERVICE_DB
from sso_shared.login_protection.password_checks import SLOTS_LOCK_KEY
from sso_shared.models import AuditEvent

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


def verb_and_table(sql: str) -> str:
    table = (
        re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
        or re.search(r"(pg_\w*advisory_\w+)", sql)
        or re.search(r"FROM (pg_locks)", sql)
    )
    return f"{sql.split()[0]} {table[1]}"


class SentToPostgres:
    """Every query text psycopg2 sends on the connection in the block: one round trip each (its statements
    joined by "; " when it holds more than one)."""

    def __init__(self, connection):
        self.connection = connection
        self.round_trips: list[str] = []

    def __enter__(self):
        self.connection.ensure_connection()
        sent = self.round_trips

        class Recording(psycopg2.extensions.cursor):
            def execute(self, sql, params=None):
                sent.append(sql.decode() if isinstance(sql, bytes) else sql)
                return super().execute(sql, params)

        self.raw = self.connection.connection
        self.before, self.raw.cursor_factory = self.raw.cursor_factory, Recording
        return self

    def __exit__(self, *exc):
        self.raw.cursor_factory = self.before


def slots_held(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND pid = pg_backend_pid()",
            [SLOTS_LOCK_KEY],
        )
        return cursor.fetchone()[0]


def test_logging_in_costs_these_round_trips(client):
    User.objects.create_user("lena", password="a-long-password-1")
    client.get("/accounts/login/")
    connection = connections[SERVICE_DB]
    with SentToPostgres(connection) as sent:
        response = client.post("/accounts/login/", {"username": "lena", "password": "a-long-password-1"})
    assert response.status_code == 302
    round_trips = [sql for sql in sent.round_trips if "SAVEPOINT" not in sql]
    described = [" + ".join(verb_and_table(statement) for statement in sql.split("; ")) for sql in round_trips]
    # Savepoints aside (the test runs in a transaction; in production they are BEGIN/COMMIT around the two
    # session writes):
    # 1. sso_shared.login_protection.login_gate, before the view: "is anything counting at this address?" (nothing, so
    #    django-axes asks nothing of the pair, neither before the password nor after it), and in the same
    #    query, since nothing counts there, a password-check slot taken for the first place in line;
    # 2. the user (then the hash, in that slot);
    # 3. the slot given back with the next statement, "has the user a second factor?" (one query over the
    #    apps and passkeys: none, so the password logs in at once);
    # 4. "is this new session key free?", 5. the new session;
    # 6. the audit event and last_login, in one statement;
    # 7. the session's data.
    assert described == [
        "WITH axes_accessattempt",
        "SELECT sso_user",
        "SELECT pg_advisory_unlock + (SELECT otp_totp_totpdevice",  # (a UNION: its first SELECT in parentheses)
        "SELECT sso_session",
        "INSERT sso_session",
        "WITH sso_audit_event",
        "UPDATE sso_session",
    ]
    assert "pg_try_advisory_lock" in round_trips[0]
    assert 'UPDATE "sso_user" SET "last_login"' in round_trips[5]
    assert slots_held(connection) == 0
    lena = User.objects.get(username="lena")
    assert lena.last_login is not None
    assert AuditEvent.objects.filter(kind="login", username="lena").count() == 1
