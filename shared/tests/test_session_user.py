"""The user read with the session row (sso_shared.sessions.user_row): one query for both, never a stale or
wrong user."""

import pytest
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import connections
from django.test.utils import CaptureQueriesContext

from sso_shared.database.routers import SHARED_DB
from sso_shared.sessions import user_row as session_user

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"


@pytest.fixture
def vera(client):
    user = User.objects.create_user("vera", password=PASSWORD)
    client.force_login(user)
    client.get("/whoami")  # the session row's statement is prepared once per connection
    return user


def test_the_session_row_brings_its_user_so_a_page_asks_once(client, vera):
    with CaptureQueriesContext(connections[SHARED_DB]) as captured:
        assert client.get("/whoami").json()["username"] == "vera"
    assert [query["sql"].split()[0] for query in captured.captured_queries] == ["EXECUTE"]


def test_a_change_to_the_user_shows_on_the_next_request(client, vera):
    User.objects.filter(pk=vera.pk).update(username="vera-renamed")
    assert client.get("/whoami").json()["username"] == "vera-renamed"
    User.objects.filter(pk=vera.pk).update(is_active=False)
    assert client.get("/whoami").json()["authenticated"] is False


def test_a_password_changed_elsewhere_logs_the_session_out_on_the_next_request(client, vera):
    vera.set_password("another-long-password-2")
    vera.save()
    assert client.get("/whoami").json()["authenticated"] is False


def test_a_deleted_user_is_logged_out_not_an_error(client, vera):
    User.objects.filter(pk=vera.pk).delete()
    assert client.get("/whoami").json()["authenticated"] is False


@pytest.fixture
def in_a_request():
    session_user.request_starts()
    yield
    session_user.request_ends()


def test_the_row_is_handed_over_once_and_only_for_its_own_primary_key(vera, in_a_request):
    other = User.objects.create_user("walt", password=PASSWORD)
    session_user.keep(vera)
    assert session_user.take(other.pk) is None
    assert User.objects.get(pk=other.pk) == other  # another lookup queries as always
    assert session_user.take(vera.pk) is vera
    assert session_user.take(vera.pk) is None  # once


@pytest.mark.parametrize(
    ("signal", "uid"),
    [
        (request_started, "sso_shared.sessions.user_row.forget_at_start"),
        (request_finished, "sso_shared.sessions.user_row.forget_at_end"),
    ],
)
def test_the_receivers_are_connected(signal, uid):
    assert uid in [entry[0][0] for entry in signal.receivers]  # (sending them here would close connections)


def read_afresh(user) -> bool:
    with CaptureQueriesContext(connections[SHARED_DB]) as captured:
        assert User.objects.get(pk=user.pk).username == user.username
    return len(captured.captured_queries) == 1


def test_the_row_is_forgotten_when_the_request_ends(vera, in_a_request):
    session_user.keep(vera)
    session_user.request_ends()
    assert read_afresh(vera)


def test_outside_a_request_a_session_read_keeps_no_user(vera):
    session_user.keep(vera)  # as a management command reading sessions would
    assert read_afresh(vera)
