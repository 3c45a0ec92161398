"""Django's async auth and session paths behave like their sync twins with our lockout and session store.

Each test runs the sync path and then the async one on the same kind of input and asserts the same
outcome: aauthenticate/authenticate through the lockout backend, alogin/login, asave/save,
aload/load (the user-id guard), acycle_key/cycle_key, aget_user/get_user. The coroutines run with
asgiref's async_to_sync, so they use the test's own database connection (its transaction), like an
async view under ASGI would use Django's thread for synchronous code.
"""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    aauthenticate,
    aget_user,
    alogin,
    authenticate,
    get_user,
    get_user_model,
    login,
)
from django.test import RequestFactory

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import AuditEvent, Session
from sso_shared.operations import audit
from sso_shared.sessions.store import SessionStore

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
PASSWORD = "a-long-password-1"
ADDRESS = "192.0.2.44"
LIMIT = 3
SYNC, ASYNC = "sync", "async"
BOTH = pytest.mark.parametrize("path", [SYNC, ASYNC])


@pytest.fixture(autouse=True)
def fast_hasher_small_limit(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def gina():
    return User.objects.create_user("gina", password=PASSWORD)


def login_request(address=ADDRESS, username="gina", password=PASSWORD):
    request = RequestFactory().post(
        "/accounts/login/", {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=address
    )
    request.session = SessionStore()
    return request


def check_password(path, request, username="gina", password=PASSWORD):
    if path == SYNC:
        return authenticate(request, username=username, password=password)
    return async_to_sync(aauthenticate)(request, username=username, password=password)


def log_in(path, request, user):
    if path == SYNC:
        login(request, user)
        request.session.save()
    else:

        async def both():
            await alogin(request, user)
            await request.session.asave()

        async_to_sync(both)()


def events(kind):
    return list(AuditEvent.objects.using(SHARED_DB).filter(kind=kind).values_list("username", "address"))


def integer_id_session() -> str:
    """A session as a project with integer user ids writes it (docs/troubleshooting.md)."""
    store = SessionStore()
    store.update({SESSION_KEY: "7", BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
    store[HASH_SESSION_KEY] = "0" * 64
    store["cart"] = ["a book"]
    store.create()
    return store.session_key


# --- the password check through the lockout backend -----------------------------------


@BOTH
def test_the_right_password_gets_the_user_and_a_wrong_one_is_audited(path, gina):
    assert check_password(path, login_request()) == gina
    assert check_password(path, login_request(), password="wrong") is None
    assert events(audit.LOGIN_FAILED) == [("gina", ADDRESS)]


@BOTH
def test_a_locked_pair_is_refused_before_its_password_is_checked_and_audited_once(path, gina):
    for _ in range(LIMIT):
        check_password(path, login_request(), password="wrong")
    refused = login_request()
    assert check_password(path, refused) is None  # the right password, refused
    assert getattr(refused, audit.REFUSED_BY_LOCKOUT, False) is True
    assert events(audit.LOGIN_FAILED) == [("gina", ADDRESS)] * LIMIT
    # The attempt that locked, then the refused one: each recorded once.
    assert events(audit.LOCKED_OUT) == [("gina", ADDRESS)] * 2
    # Another address is not locked, on either path.
    assert check_password(path, login_request(address="198.51.100.9")) == gina


@BOTH
def test_without_a_request_the_lockout_lets_the_check_through(path, gina):
    """A shell or a test calling authenticate() itself has no address to key on (docs/login-protection.md)."""
    check = authenticate if path == SYNC else async_to_sync(aauthenticate)
    assert check(None, username="gina", password=PASSWORD) == gina


# --- logging in and the session row ------------------------------------------------------


@BOTH
def test_logging_in_fills_the_session_rows_user_and_origin(path, gina):
    request = login_request()
    request.META["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
    user = check_password(path, request)
    log_in(path, request, user)
    row = Session.objects.get(pk=request.session.session_key)
    assert row.user_id == str(gina.pk)
    assert (row.service, row.address) == ("a", ADDRESS)
    assert row.user_agent.startswith("Mozilla/5.0") and row.started_at is not None
    assert events(audit.LOGIN) == [("gina", ADDRESS)]


@BOTH
def test_saving_a_logged_in_session_fills_the_user(path, gina):
    store = SessionStore()
    store.update({SESSION_KEY: str(gina.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
    if path == SYNC:
        store.save()
    else:
        async_to_sync(store.asave)()
    assert Session.objects.get(pk=store.session_key).user_id == str(gina.pk)


@BOTH
def test_a_new_session_key_keeps_the_user(path, gina):
    request = login_request()
    log_in(SYNC, request, check_password(SYNC, request))
    store = SessionStore(request.session.session_key)
    if path == SYNC:
        store.cycle_key()
    else:
        async_to_sync(store.acycle_key)()
    assert Session.objects.get(pk=store.session_key).user_id == str(gina.pk)


# --- reading a session: the user-id guard ------------------------------------------------


@BOTH
def test_a_session_naming_an_integer_user_id_reads_as_logged_out_with_a_log_line(path, caplog):
    store = SessionStore(integer_id_session())
    with caplog.at_level("ERROR", logger="sso_shared.sessions.store"):
        data = store.load() if path == SYNC else async_to_sync(store.aload)()
    assert data == {"cart": ["a book"]}
    assert "a session names the user id '7', which is not a sso_shared.User primary key" in caplog.text


@BOTH
def test_the_user_of_a_session_naming_an_integer_id_is_anonymous_not_an_error(path):
    request = RequestFactory().get("/whoami")
    request.session = SessionStore(integer_id_session())
    user = get_user(request) if path == SYNC else async_to_sync(aget_user)(request)
    assert user.is_authenticated is False


@BOTH
def test_reading_a_logged_in_session_gives_its_user(path, gina):
    request = login_request()
    log_in(SYNC, request, check_password(SYNC, request))
    reader = RequestFactory().get("/whoami")
    reader.session = SessionStore(request.session.session_key)
    user = get_user(reader) if path == SYNC else async_to_sync(aget_user)(reader)
    assert user == gina
