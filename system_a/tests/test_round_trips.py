"""The SQL round trips of the login POST, on the one connection, pinned (see system_b/tests/test_round_trips.py)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test.utils import CaptureQueriesContext

from sso_shared.routers import SERVICE_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


def verb_and_table(sql: str) -> str:
    table = (
        re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
        or re.search(r"(pg_\w*advisory_\w+)", sql)
        or re.search(r"FROM (pg_locks)", sql)
    )
    return f"{sql.split()[0]} {table[1]}"


def test_logging_in_costs_these_statements(client):
    User.objects.create_user("lena", password="a-long-password-1")
    client.get("/accounts/login/")
    with CaptureQueriesContext(connections[SERVICE_DB]) as captured:
        response = client.post("/accounts/login/", {"username": "lena", "password": "a-long-password-1"})
    assert response.status_code == 302
    statements = [
        verb_and_table(query["sql"]) for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]
    ]
    # Savepoints aside (the test runs in a transaction; in production they are BEGIN/COMMIT around the two
    # session writes): "is anything counting at this address?" (sso_shared.login_gate, before the view:
    # nothing, so django-axes asks nothing of the pair, neither before the password nor after it, and the
    # first place in line needs no look), the user, a password-check slot taken and given back around the
    # hash (sso_shared.password_checks), "has the user a second factor?" (one query over the apps and
    # passkeys: none, so the password logs in at once), "is this new session key free?", the new session,
    # the audit event, last_login, the session's data.
    assert statements == [
        "SELECT axes_accessattempt",
        "SELECT sso_user",
        "SELECT pg_try_advisory_lock",
        "SELECT pg_advisory_unlock",
        "(SELECT otp_totp_totpdevice",  # (a UNION: its first SELECT in parentheses)
        "SELECT sso_session",
        "INSERT sso_session",
        "INSERT sso_audit_event",
        "UPDATE sso_user",
        "UPDATE sso_session",
    ]
