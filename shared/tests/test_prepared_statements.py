"""The session row with the access decision is a prepared statement: planned once per connection.

Against the real PostgreSQL: what the connection sends (PREPARE once, then EXECUTE), that the
answer is the same as the plain query's, and that a new connection (after a restart of PostgreSQL,
a health check that failed, CONN_MAX_AGE) prepares it again instead of failing.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connections
from django.test.utils import CaptureQueriesContext

from sso_shared.database.routers import SHARED_DB
from sso_shared.sessions.prepared_statements import execute_prepared, statement_name

# Outside a transaction: the tests close connections, which Django refuses inside one.
pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
User = get_user_model()
GROUP_A = "Access to System A · Intake"
SQL = "SELECT %s::int + %s::int"


def statements(captured) -> list[str]:
    return [query["sql"].split()[0] for query in captured]


def run(sql: str, params: list) -> tuple:
    connection = connections[SHARED_DB]
    with connection.cursor() as cursor:
        execute_prepared(connection, cursor, "sso_test", sql, params)
        return cursor.fetchone()


def test_a_statement_is_prepared_once_per_connection_and_then_executed():
    connections[SHARED_DB].close()
    with CaptureQueriesContext(connections[SHARED_DB]) as captured:
        assert run(SQL, [2, 3]) == (5,)
        assert run(SQL, [40, 2]) == (42,)
    assert statements(captured.captured_queries) == ["PREPARE", "EXECUTE", "EXECUTE"]


def test_a_new_connection_prepares_it_again():
    assert run(SQL, [1, 1]) == (2,)
    connections[SHARED_DB].close()
    with CaptureQueriesContext(connections[SHARED_DB]) as captured:
        assert run(SQL, [2, 2]) == (4,)
    assert statements(captured.captured_queries) == ["PREPARE", "EXECUTE"]


def test_each_text_has_a_name_of_its_own():
    other = "SELECT %s::int * %s::int"
    assert statement_name("sso_test", SQL) != statement_name("sso_test", other)
    assert run(SQL, [3, 4]) == (7,)
    assert run(other, [3, 4]) == (12,)


@pytest.fixture
def carol(client):
    user = User.objects.create_user("carol", password="a-long-password-1")
    client.force_login(user)
    return user


def test_the_access_gate_answers_the_same_through_a_new_connection(client, carol):
    with CaptureQueriesContext(connections[SHARED_DB]) as captured:
        assert client.get("/").status_code == 200
        assert client.get("/").status_code == 200
    session_reads = [sql for sql in statements(captured.captured_queries) if sql in ("PREPARE", "EXECUTE")]
    assert session_reads.count("EXECUTE") == 2 and session_reads.count("PREPARE") <= 1
    connections[SHARED_DB].close()
    carol.groups.remove(Group.objects.get(name=GROUP_A))
    connections[SHARED_DB].close()
    assert client.get("/").status_code == 403
    carol.groups.add(Group.objects.get(name=GROUP_A))
    assert client.get("/").status_code == 200
