"""The SQL round trips of B's pages, per database, pinned: a page that starts costing more fails here.

Counted with Django's query capture, one per alias. The connection health check (one per request,
sso_shared.health_checks) does not show here: Django's test client never runs it. docs/performance.md
has the same figures counted from PostgreSQL's own statement log by ./stack bench.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connections
from django.test.utils import CaptureQueriesContext

from review.models import Review
from sso_shared.database.routers import SERVICE_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
ACCESS_TO_B = "Access to System B · Review"


@pytest.fixture
def ordinary_user(client):
    """A user with access to B through the default group, neither staff nor superuser."""
    user = User.objects.create_user("olga", password="a-long-password-1")
    client.force_login(user)
    return user


def main_table(sql: str) -> str:
    """The table a statement reads, or the prepared statement it runs (sso_shared.sessions.prepared_statements)."""
    if sql.startswith("EXECUTE "):
        return "EXECUTE " + sql.split()[1].rsplit("_", 1)[0]
    while re.search(r"\([^()]*\)", sql):
        sql = re.sub(r"\([^()]*\)", "", sql)
    return sql.split(" FROM ")[1].split()[0].strip('"')


def tables_read(captured) -> list[str]:
    return [main_table(query["sql"]) for query in captured]


def capture(client, path):
    # Once per process: the access permission's id (sso_shared.access.service_access.access_permission_id); once per
    # connection: PREPARE of the session row with the access decision.
    client.get(path)
    with CaptureQueriesContext(connections[SERVICE_DB]) as captured:
        response = client.get(path)
    return response, tables_read(captured.captured_queries)


def test_whoami_reads_the_session_with_its_user_and_nothing_else(client, ordinary_user):
    response, tables = capture(client, "/whoami")
    assert response.json()["username"] == "olga"
    assert tables == ["EXECUTE sso_session_row"]  # the user joined to the session row (sso_shared.sessions.user_row)


def test_the_home_page_checks_access_inside_the_session_query_and_joins_its_reviewers(client, ordinary_user):
    other = User.objects.create_user("oskar", password="a-long-password-1")
    for number in range(30):
        Review.objects.create(subject=f"Request {number}", reviewer=(ordinary_user, other)[number % 2])
    response, tables = capture(client, "/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<td class="owner">olga</td>' in page and '<td class="owner">oskar</td>' in page
    # The session row with its user and the access decision (prepared once per connection, sso_shared.sessions.store
    # and sso_shared.sessions.user_row), and the reviews joined with their reviewers: where a standalone project
    # reads the session, then the user, then the reviews.
    assert tables == ["EXECUTE sso_session_row", "review_review"]


def test_taking_the_group_away_closes_b_on_the_very_next_request(client, ordinary_user):
    assert client.get("/").status_code == 200
    ordinary_user.groups.remove(Group.objects.get(name=ACCESS_TO_B))
    assert client.get("/").status_code == 403
    ordinary_user.groups.add(Group.objects.get(name=ACCESS_TO_B))
    assert client.get("/").status_code == 200


def test_taking_the_permission_away_from_the_group_closes_b_on_the_very_next_request(client, ordinary_user):
    assert client.get("/").status_code == 200
    group = Group.objects.get(name=ACCESS_TO_B)
    permission = group.permissions.get()
    group.permissions.remove(permission)
    assert client.get("/").status_code == 403
    ordinary_user.user_permissions.add(permission)  # granted to the user directly
    assert client.get("/").status_code == 200


def test_deactivating_the_user_ends_access_on_the_next_request(client, ordinary_user):
    assert client.get("/").status_code == 200
    User.objects.filter(pk=ordinary_user.pk).update(is_active=False)
    assert client.get("/").status_code == 302  # ModelBackend no longer returns the user: logged out


def test_a_session_row_naming_no_uuid_user_still_loads(client, settings):
    """The access decision turns the row's user id into a UUID only when it is one."""
    from sso_shared.sessions.store import SessionStore

    store = SessionStore()
    store.create()
    store.model.objects.filter(session_key=store.session_key).update(user_id="legacy-7")
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/a/accounts/login/")
