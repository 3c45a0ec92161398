import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from intake.models import Request
from sso_shared.database.routers import SERVICE_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


@pytest.fixture
def alice(client):
    user = User.objects.create_user("alice", password="a-long-password-1")
    client.force_login(user)
    return user


def test_home_requires_login_on_a(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/a/accounts/login/?next=/a/"


def test_a_request_records_its_owner_from_the_shared_database(client, alice):
    response = client.post("/", {"title": "New laptop", "details": "for the intake desk"})
    assert response.status_code == 302
    request = Request.objects.get(title="New laptop")
    assert request._state.db == SERVICE_DB
    assert request.owner == alice
    assert request.owner._state.db == SERVICE_DB  # the shared user, through the one connection
    page = client.get("/").content.decode()
    assert "New laptop" in page
    assert '<td class="owner">alice</td>' in page


def titles_on_home_page(user) -> list[str]:
    client = Client()
    client.force_login(user)
    page = client.get("/").content.decode()
    return re.findall(r'<td class="title">([^<]*)</td>', page)


def test_each_user_sees_only_their_own_requests_and_staff_see_all(alice):
    bob = User.objects.create_user("bob", password="a-long-password-1")
    Request.objects.create(title="Chair for Alice", owner=alice)
    Request.objects.create(title="Desk for Bob", owner=bob)
    stan = User.objects.create_user("stan", password="a-long-password-1", is_staff=True)
    assert titles_on_home_page(alice) == ["Chair for Alice"]
    assert titles_on_home_page(bob) == ["Desk for Bob"]
    assert titles_on_home_page(stan) == ["Desk for Bob", "Chair for Alice"]


def test_the_list_says_whose_requests_it_shows(client, alice):
    assert "<h2>Your recent requests</h2>" in client.get("/").content.decode()
    alice.is_staff = True
    alice.save()
    assert "<h2>Everyone's recent requests</h2>" in client.get("/").content.decode()


def test_records_can_be_filtered_by_their_owner(alice):
    bob = User.objects.create_user("bob", password="a-long-password-1")
    Request.objects.create(title="Alice's", owner=alice)
    Request.objects.create(title="Bob's", owner=bob)
    assert list(Request.objects.filter(owner=alice).values_list("title", flat=True)) == ["Alice's"]


def test_urls_and_static_carry_the_a_prefix(client, alice):
    page = client.get("/").content.decode()
    assert 'href="/a/static/sso_shared/site.css"' in page
    assert 'action="/a/accounts/logout/"' in page
    assert 'href="/b/"' in page


def test_an_authenticated_page_costs_less_than_it_would_in_a_single_project(client, alice):
    """The session row with its user and the per-service access decision (one prepared query), and the page's
    own query joined with the owners: a standalone project reads the session and the user apart
    (docs/performance.md)."""
    Request.objects.create(title="One", owner=alice)
    client.get("/")  # once per process: the access permission's id; once per connection: the PREPARE
    with CaptureQueriesContext(connections[SERVICE_DB]) as captured:
        assert client.get("/").status_code == 200
    tables = [main_table(q["sql"]) for q in captured.captured_queries]
    assert tables == ["EXECUTE sso_session_row", "intake_request"]


def main_table(sql: str) -> str:
    """The table a statement reads, past the subqueries in its select list, or the prepared statement it runs."""
    if sql.startswith("EXECUTE "):
        return "EXECUTE " + sql.split()[1].rsplit("_", 1)[0]
    while re.search(r"\([^()]*\)", sql):
        sql = re.sub(r"\([^()]*\)", "", sql)
    return sql.split(" FROM ")[1].split()[0].strip('"')


def test_the_owner_key_is_a_real_foreign_key_to_the_shared_user():
    field = Request._meta.get_field("owner")
    assert field.db_constraint is True
    assert field.related_model is User
