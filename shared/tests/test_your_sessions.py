"""Your sessions (sso_shared.sessions.your_sessions): the list, ending one or all others, only one's own; last seen
written at most once a minute (sso_shared.sessions.store); the admin's "log out everywhere"
(sso_shared.sessions.admin_actions).
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import AuditEvent, Session
from sso_shared.sessions.store import SessionStore
from sso_shared.sessions.your_sessions import public_id

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
PASSWORD = "a-long-password-1"
GROUP_A = "Access to System A · Intake"
PAGE = "/accounts/sessions/"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


def new_user(username: str, *, permissions=(), **fields):
    """A user of A only, so that a staff user of A with change_user does not fall short of them."""
    user = User.objects.create_user(username, password=PASSWORD, **fields)
    user.groups.set(Group.objects.filter(name=GROUP_A))
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return user


@pytest.fixture
def erin():
    return new_user("erin")


@pytest.fixture
def frank():
    return new_user("frank")


def browser(username: str, user_agent: str = FIREFOX, address: str = "127.0.0.1", **login) -> Client:
    """A browser logged in through the login page, with its header and the address nginx saw."""
    client = Client(HTTP_USER_AGENT=user_agent, HTTP_X_FORWARDED_FOR=f"198.51.100.66, {address}")
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD, **login})
    assert response.status_code == 302
    return client


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def is_logged_in(client: Client) -> bool:
    return client.get("/whoami").json()["authenticated"]


def rows(client: Client) -> list[str]:
    """The page's sessions as text, one string per row, cells separated by " | "."""
    html = client.get(PAGE).content.decode()
    body = re.search(r'<table data-testid="sessions".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        " | ".join(text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in re.findall(r"<tr.*?</tr>", body, re.S)
    ]


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("\xa0", " ").strip()


def revoked_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.using(SHARED_DB).filter(kind="session_revoked").order_by("time", "id"))


# --- the page ---------------------------------------------------------------------


def test_the_page_lists_the_users_live_sessions_on_every_service_this_one_first(erin, frank):
    laptop = browser("erin", FIREFOX, "10.0.0.7")
    phone = browser("erin", IPHONE, "2001:db8::5", next="/b/")
    browser("frank", CHROME, "10.0.0.9")
    expired = browser("erin", CHROME, "10.0.0.8")
    Session.objects.filter(pk=key_of(expired)).update(expire_date=timezone.now() - timedelta(seconds=1))

    listed = rows(laptop)
    assert len(listed) == 2, listed
    this_one, other = listed
    assert re.fullmatch(
        r"System A · Intake \| 10\.0\.0\.7 \| Firefox on Ubuntu \| \d{4}-\d\d-\d\d \d\d:\d\d \| 0 minutes ago \| "
        r"This session",
        this_one,
    ), this_one
    assert re.fullmatch(
        r"System B · Review \| 2001:db8::5 \| Mobile Safari on iOS \| \d{4}-\d\d-\d\d \d\d:\d\d \| 0 minutes ago \| "
        r"End",
        other,
    ), other
    # The page names sessions by a digest, never by the key (which is the login itself).
    page = laptop.get(PAGE).content.decode()
    assert key_of(phone) not in page and key_of(laptop) not in page
    assert f'value="{public_id(key_of(phone))}"' in page
    # Seen from the phone, the phone's own session is this one.
    assert rows(phone)[0].startswith("System B · Review | 2001:db8::5 | Mobile Safari on iOS")
    assert rows(phone)[0].endswith("This session")


def test_the_header_of_every_page_links_to_the_page(erin):
    client = browser("erin")
    assert (
        f'<a class="sessions-link" href="{settings.SSO_SESSIONS_URL}">Your sessions</a>'
        in client.get("/").content.decode()
    )
    assert "Your sessions" not in Client().get("/accounts/login/").content.decode()


def test_a_session_saved_by_the_release_before_shows_what_is_not_known(erin):
    """A service without migration 0006 writes none of the new columns: the database fills them."""
    client = browser("erin")
    old = browser("erin")
    row = Session.objects.get(pk=key_of(old))
    Session.objects.filter(pk=row.pk).delete()
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(
            "INSERT INTO sso_session (session_key, session_data, expire_date, user_id) VALUES (%s, %s, %s, %s)",
            [row.session_key, row.session_data, row.expire_date, row.user_id],
        )
    assert is_logged_in(old)
    assert rows(client)[1] == "Not known | Not known | Unknown browser | Not known | 0 minutes ago | End"


def test_sessions_a_password_change_logged_out_are_not_listed(erin):
    laptop, phone = browser("erin"), browser("erin")
    response = laptop.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "another-long-pass-2", "new_password2": "another-long-pass-2"},
    )
    assert response.status_code == 302
    assert [row.endswith("This session") for row in rows(laptop)] == [True]
    assert "Log out everywhere else" not in laptop.get(PAGE).content.decode()
    assert not is_logged_in(phone)


def test_users_without_access_to_this_service_still_see_their_sessions(erin):
    client = browser("erin")
    erin.groups.clear()
    assert client.get("/").status_code == 403
    assert len(rows(client)) == 1


def test_anonymous_visitors_are_sent_to_log_in_and_end_nothing(erin):
    logged_in = browser("erin")
    anonymous = Client()
    response = anonymous.get(PAGE)
    assert (response.status_code, response["Location"]) == (302, f"{settings.LOGIN_URL}?next={PAGE}")
    anonymous.post(PAGE, {"end": public_id(key_of(logged_in))})
    anonymous.post(PAGE, {"end_others": "1"})
    assert is_logged_in(logged_in)


# --- ending sessions --------------------------------------------------------------


def test_ending_another_session_logs_that_browser_out_and_is_audited(erin):
    laptop, phone = browser("erin", FIREFOX, "10.0.0.7"), browser("erin", IPHONE)
    response = laptop.post(PAGE, {"end": public_id(key_of(phone))}, follow=True)
    assert "Session ended: that browser is logged out of every service." in response.content.decode()
    assert not is_logged_in(phone)
    assert not Session.objects.filter(pk=key_of(phone)).exists()
    assert is_logged_in(laptop)
    assert len(rows(laptop)) == 1
    [event] = revoked_events()
    assert (event.username, event.service, event.address) == ("erin", "a", "10.0.0.7")
    assert event.user_agent == FIREFOX


def test_another_users_session_cannot_be_ended_with_its_id(erin, frank):
    erins, franks = browser("erin"), browser("frank")
    response = erins.post(PAGE, {"end": public_id(key_of(franks))}, follow=True)
    assert "No such session of yours: it may have ended already." in response.content.decode()
    assert is_logged_in(franks)
    assert revoked_events() == []


def test_made_up_ids_and_this_sessions_own_id_end_nothing(erin):
    laptop, phone = browser("erin"), browser("erin")
    for made_up in (public_id(key_of(laptop)), key_of(phone), "", "x" * 5000, "é" * 32):
        laptop.post(PAGE, {"end": made_up})
    assert is_logged_in(laptop) and is_logged_in(phone)
    assert revoked_events() == []


def test_a_post_without_the_csrf_token_is_refused(erin):
    phone = browser("erin")
    laptop = Client(enforce_csrf_checks=True)
    laptop.force_login(erin)
    assert laptop.post(PAGE, {"end": public_id(key_of(phone))}).status_code == 403
    assert laptop.post(PAGE, {"end_others": "1"}).status_code == 403
    assert is_logged_in(phone)


def test_log_out_everywhere_else_keeps_this_session_only(erin, frank):
    laptop, phone, tablet = browser("erin"), browser("erin"), browser("erin")
    franks = browser("frank")
    response = laptop.post(PAGE, {"end_others": "1"}, follow=True)
    assert "Logged out everywhere else: 2 other sessions ended." in response.content.decode()
    assert (is_logged_in(laptop), is_logged_in(phone), is_logged_in(tablet)) == (True, False, False)
    assert is_logged_in(franks)
    assert [row.endswith("This session") for row in rows(laptop)] == [True]
    assert [event.username for event in revoked_events()] == ["erin", "erin"]
    # Alone now: the button is gone.
    assert "Log out everywhere else" not in laptop.get(PAGE).content.decode()


# --- last seen --------------------------------------------------------------------


def writes_to_the_session_table(queries) -> list[str]:
    return [q["sql"] for q in queries if re.match(r"(UPDATE|INSERT|DELETE)\b.*\bsso_session\b", q["sql"], re.S)]


def set_last_seen(session_key: str, ago: timedelta) -> None:
    Session.objects.filter(pk=session_key).update(last_seen=timezone.now() - ago)


def last_seen(session_key: str):
    return Session.objects.get(pk=session_key).last_seen


def test_many_requests_within_a_minute_write_last_seen_once(erin):
    client = browser("erin")
    set_last_seen(key_of(client), timedelta(minutes=2))
    before = timezone.now()
    with CaptureQueriesContext(connections[SHARED_DB]) as queries:
        for path in ["/whoami", "/", PAGE] * 10:
            assert client.get(path).status_code == 200
    writes = writes_to_the_session_table(queries)
    assert len(writes) == 1, writes
    assert writes[0].startswith('UPDATE "sso_session" SET "last_seen"')
    assert "session_data" not in writes[0]
    assert last_seen(key_of(client)) >= before


def test_a_session_seen_less_than_a_minute_ago_is_not_written(erin):
    client = browser("erin")
    set_last_seen(key_of(client), timedelta(seconds=50))
    with CaptureQueriesContext(connections[SHARED_DB]) as queries:
        for _ in range(20):
            client.get("/whoami")
    assert writes_to_the_session_table(queries) == []


def test_anonymous_sessions_get_no_last_seen():
    store = SessionStore()
    store["cart"] = ["a book"]
    store.create()
    with CaptureQueriesContext(connections[SHARED_DB]) as queries:
        SessionStore(store.session_key).load()
    assert writes_to_the_session_table(queries) == []
    assert last_seen(store.session_key) is None


def test_saving_the_session_keeps_where_it_started(erin):
    client = browser("erin", CHROME, "10.0.0.7", next="/b/")
    key = key_of(client)
    started = Session.objects.get(pk=key)
    store = SessionStore(key)
    store["cart"] = ["a book"]
    store.save()
    saved = Session.objects.get(pk=key)
    assert (saved.service, saved.address, saved.user_agent) == ("b", "10.0.0.7", CHROME)
    assert saved.started_at == started.started_at
    assert saved.user_id == str(erin.pk)


def test_the_test_clients_force_login_has_a_session_that_starts_on_this_service(erin):
    client = Client()
    client.force_login(erin)
    session = Session.objects.get(pk=client.session.session_key)
    assert (session.service, session.address, session.user_agent) == ("a", None, "")
    assert session.started_at is not None


# --- the admin's "log out everywhere" ---------------------------------------------


@pytest.fixture
def root():
    return User.objects.create_superuser("root", password=PASSWORD)


@pytest.fixture
def hank():
    """Staff who may change users (of A, as he is)."""
    return new_user("hank", is_staff=True, permissions=["view_user", "change_user"])


@pytest.fixture
def vera():
    """Staff who may only look at users."""
    return new_user("vera", is_staff=True, permissions=["view_user"])


def admin_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(admin: Client, *users):
    return admin.post(
        "/admin/sso_shared/user/",
        {"action": "end_sessions", "_selected_action": [str(user.pk) for user in users]},
        follow=True,
    )


def test_a_superuser_logs_users_out_everywhere_with_the_action(root, erin, frank):
    erins, franks = [browser("erin"), browser("erin")], browser("frank")
    response = run_action(admin_of(root), erin, frank)
    assert "Logged out everywhere: 2 users, 3 sessions ended." in response.content.decode()
    assert not any(is_logged_in(client) for client in [*erins, franks])
    assert sorted(event.username for event in revoked_events()) == ["erin", "frank"]


def test_staff_who_may_change_users_log_out_only_those_they_may_change(hank, erin, root):
    erins, roots = browser("erin"), browser("root")
    response = run_action(admin_of(hank), erin, root)
    page = response.content.decode()
    assert "Logged out everywhere: 1 user, 1 session ended." in page
    assert "1 user left logged in: you may not change them." in page
    assert not is_logged_in(erins)
    assert is_logged_in(roots)


def test_staff_who_may_only_view_users_have_no_such_action(vera, erin):
    erins = browser("erin")
    assert "end_sessions" not in admin_of(vera).get("/admin/sso_shared/user/").content.decode()
    assert run_action(admin_of(vera), erin).status_code == 200
    assert is_logged_in(erins)
    assert admin_of(vera).post(f"/admin/sso_shared/user/{erin.pk}/end-sessions/").status_code == 403
    assert is_logged_in(erins)


def test_the_users_page_asks_then_logs_them_out_everywhere(hank, erin):
    erins = [browser("erin"), browser("erin")]
    admin = admin_of(hank)
    change_page = admin.get(f"/admin/sso_shared/user/{erin.pk}/change/").content.decode()
    assert f'href="/admin/sso_shared/user/{erin.pk}/end-sessions/" class="end-sessions-link"' in change_page
    asking = admin.get(f"/admin/sso_shared/user/{erin.pk}/end-sessions/").content.decode()
    assert "erin has 2 active sessions, on every service." in asking
    assert all(is_logged_in(client) for client in erins)

    response = admin.post(f"/admin/sso_shared/user/{erin.pk}/end-sessions/")
    assert (response.status_code, response["Location"]) == (302, f"/admin/sso_shared/user/{erin.pk}/change/")
    assert not any(is_logged_in(client) for client in erins)
    page = admin.get(response["Location"]).content.decode()
    assert "Logged erin out everywhere: 2 sessions ended." in page
    assert [event.username for event in revoked_events()] == ["erin"]


def test_an_admin_logging_themselves_out_everywhere_keeps_the_session_in_use(hank):
    elsewhere = browser("hank")
    admin = admin_of(hank)
    response = admin.post(f"/admin/sso_shared/user/{hank.pk}/end-sessions/", follow=True)
    assert response.status_code == 200
    assert "Logged hank out everywhere: 1 session ended." in response.content.decode()
    assert not is_logged_in(elsewhere)
    assert is_logged_in(admin)
    assert "Logged out everywhere: 1 user, 0 sessions ended." in run_action(admin, hank).content.decode()
    assert is_logged_in(admin)


def test_staff_cannot_log_out_a_superuser_from_the_users_page(hank, root):
    roots = browser("root")
    admin = admin_of(hank)
    assert "end-sessions-link" not in admin.get(f"/admin/sso_shared/user/{root.pk}/change/").content.decode()
    assert admin.get(f"/admin/sso_shared/user/{root.pk}/end-sessions/").status_code == 403
    assert admin.post(f"/admin/sso_shared/user/{root.pk}/end-sessions/").status_code == 403
    assert is_logged_in(roots)
