"""Sessions name their user in a column of their own (sso_shared.sessions.store), and old ones carry over."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sso_shared.models import Session
from sso_shared.sessions.store import SessionStore, end_sessions_of, sessions_of

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
PASSWORD = "a-long-password-1"


@pytest.fixture
def erin():
    return User.objects.create_user("erin", password=PASSWORD)


@pytest.fixture
def frank():
    return User.objects.create_user("frank", password=PASSWORD)


def logged_in_session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.session.session_key


def anonymous_session() -> str:
    store = SessionStore()
    store["cart"] = ["a book"]
    store.create()
    return store.session_key


def user_of(session_key: str) -> str | None:
    return Session.objects.get(pk=session_key).user_id


def test_the_store_signs_like_djangos_own_so_sessions_read_both_ways():
    assert SessionStore().key_salt == db.SessionStore().key_salt == "django.contrib.sessions.SessionStore"
    data = {SESSION_KEY: "d6f0c8a2-5b1e-4c1f-9a43-1f0e2b7c9d10", "cart": [1, 2]}
    assert SessionStore().decode(db.SessionStore().encode(data)) == data
    assert db.SessionStore().decode(SessionStore().encode(data)) == data


def test_logging_in_with_the_test_client_fills_the_user(erin, frank):
    assert user_of(logged_in_session(erin)) == str(erin.pk)
    client = Client()
    assert client.login(username="frank", password=PASSWORD)
    assert user_of(client.session.session_key) == str(frank.pk)


def test_logging_in_through_the_login_page_fills_the_user(client, erin):
    response = client.post("/accounts/login/", {"username": "erin", "password": PASSWORD})
    assert response.status_code == 302
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert user_of(session_key) == str(erin.pk)
    assert client.get("/whoami").json()["username"] == "erin"


def test_logging_out_through_the_page_deletes_the_row(client, erin):
    client.post("/accounts/login/", {"username": "erin", "password": PASSWORD})
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(pk=session_key).exists()


def test_an_anonymous_session_has_no_user():
    session_key = anonymous_session()
    assert Session.objects.filter(pk=session_key).values_list("user_id", flat=True).get() is None


def test_a_new_session_key_keeps_the_user(erin):
    """Django cycles the key at login and at a password change; the new row must still name the user."""
    store = SessionStore(logged_in_session(erin))
    store.cycle_key()
    assert user_of(store.session_key) == str(erin.pk)


def test_sessions_of_lists_the_users_live_sessions_only(erin, frank):
    first, second = logged_in_session(erin), logged_in_session(erin)
    expired = logged_in_session(erin)
    Session.objects.filter(pk=expired).update(expire_date=timezone.now() - timedelta(seconds=1))
    logged_in_session(frank)
    anonymous_session()
    assert {session.pk for session in sessions_of(erin)} == {first, second}


def test_end_sessions_of_logs_these_users_out_everywhere_and_no_one_else(erin, frank):
    erins = {logged_in_session(erin), logged_in_session(erin)}
    franks, anonymous = logged_in_session(frank), anonymous_session()
    assert end_sessions_of([erin]) == 2
    assert not Session.objects.filter(pk__in=erins).exists()
    assert set(Session.objects.values_list("pk", flat=True)) >= {franks, anonymous}
    assert Client().get("/whoami").json()["authenticated"] is False


def test_clearsessions_removes_the_expired_rows_of_the_session_table(erin):
    live, expired = logged_in_session(erin), anonymous_session()
    Session.objects.filter(pk=expired).update(expire_date=timezone.now() - timedelta(seconds=1))
    call_command("clearsessions")
    assert list(Session.objects.values_list("pk", flat=True)) == [live]


def test_a_session_naming_an_integer_user_id_is_logged_out_with_a_log_line_not_a_500(client, erin, caplog):
    """Written by a project whose users have integer ids (docs/troubleshooting.md): no 500, and the login works."""
    store = SessionStore()
    store[SESSION_KEY] = "7"
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = "0" * 64
    store["cart"] = ["a book"]
    store.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    with caplog.at_level("ERROR", logger="sso_shared.sessions.store"):
        page = client.get("/")
        whoami = client.get("/whoami")
    assert page.status_code == 302 and page["Location"].startswith("/a/accounts/login/")
    assert whoami.status_code == 200 and whoami.json()["authenticated"] is False
    assert "a session names the user id '7', which is not a sso_shared.User primary key" in caplog.text
    assert store.session_key not in caplog.text
    # The other things in the session are kept; logging in from that browser works and replaces it.
    assert SessionStore(store.session_key).load() == {"cart": ["a book"]}
    login = client.post("/accounts/login/", {"username": "erin", "password": PASSWORD})
    assert login.status_code == 302
    assert client.get("/whoami").json()["username"] == "erin"
