"""The audit trail (sso_shared.operations.audit): each kind of event, the sso_audit command, pruning, the
read-only admin."""

import logging
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connections
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from sso_shared.database.routers import SERVICE_DB, SHARED_DB
from sso_shared.models import AuditEvent
from sso_shared.operations import audit
from sso_shared.sessions.store import SESSION_ROW_STATEMENT

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"
GROUP_A = "Access to System A · Intake"
FAKE_FORWARDED = "203.0.113.9"


@pytest.fixture
def carol():
    return User.objects.create_user("carol", password=PASSWORD)


def events(**filters):
    return list(AuditEvent.objects.using(SHARED_DB).filter(**filters).order_by("time", "id"))


def only_event(kind):
    found = events(kind=kind)
    assert len(found) == 1, found
    return found[0]


def test_a_login_is_recorded_with_the_user_address_and_browser(client, carol):
    response = client.post(
        "/accounts/login/",
        {"username": "carol", "password": PASSWORD},
        REMOTE_ADDR="10.1.2.3",
        HTTP_USER_AGENT="Mozilla/5.0 " + "x" * 1000,
    )
    assert response.status_code == 302
    event = only_event("login")
    assert (event.service, event.user_id, event.username, event.address) == ("a", carol.pk, "carol", "10.1.2.3")
    assert event.user_agent.startswith("Mozilla/5.0 ") and len(event.user_agent) == audit.USER_AGENT_LENGTH


def test_the_address_is_the_one_nginx_added_last_never_what_the_client_sent(client, carol):
    # nginx: X-Forwarded-For $proxy_add_x_forwarded_for = the client's own header, then $remote_addr.
    client.post(
        "/accounts/login/",
        {"username": "carol", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=f"{FAKE_FORWARDED}, 192.0.2.7",
    )
    assert only_event("login").address == "192.0.2.7"


def test_without_a_forwarded_header_the_address_is_remote_addr_and_garbage_is_ignored():
    factory = RequestFactory()
    assert audit.client_address(factory.get("/", REMOTE_ADDR="192.0.2.1")) == "192.0.2.1"
    assert audit.client_address(factory.get("/", HTTP_X_FORWARDED_FOR="nonsense", REMOTE_ADDR="::1")) == "::1"
    assert audit.client_address(factory.get("/", REMOTE_ADDR="not-an-ip")) is None


def test_a_failed_login_is_recorded_with_the_name_tried_and_no_user(client, carol):
    response = client.post("/accounts/login/", {"username": "carol", "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 200
    event = only_event("login_failed")
    assert (event.user_id, event.username, event.address, event.service) == (None, "carol", "10.9.9.9", "a")
    client.post("/accounts/login/", {"username": "nobody-here", "password": "wrong"})
    assert events(kind="login_failed")[-1].username == "nobody-here"
    assert not events(kind="login")


def test_a_logout_is_recorded(client, carol):
    client.force_login(carol)
    assert client.post("/accounts/logout/").status_code == 302
    event = only_event("logout")
    assert (event.user_id, event.username) == (carol.pk, "carol")


def test_logging_out_when_not_logged_in_records_nothing(client):
    client.post("/accounts/logout/")
    assert not events()


def test_a_password_change_is_recorded(client, carol):
    client.force_login(carol)
    new = "another-long-password-2"
    data = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    assert client.post("/accounts/password_change/", data).status_code == 302
    event = only_event("password_change")
    assert (event.user_id, event.username, event.address) == (carol.pk, "carol", "127.0.0.1")


def test_a_refused_password_change_records_nothing(client, carol):
    client.force_login(carol)
    data = {"old_password": "wrong", "new_password1": "x-long-pass-9", "new_password2": "x-long-pass-9"}
    assert client.post("/accounts/password_change/", data).status_code == 200
    assert not events(kind="password_change")


def test_a_403_for_lack_of_access_is_recorded(client, carol):
    carol.groups.remove(Group.objects.get(name=GROUP_A))
    client.force_login(carol)
    assert client.get("/", REMOTE_ADDR="10.4.4.4").status_code == 403
    event = only_event("access_denied")
    assert (event.service, event.user_id, event.username, event.address) == ("a", carol.pk, "carol", "10.4.4.4")


def test_deleting_a_user_records_the_end_of_their_sessions_under_the_tombstone_name(client, carol):
    client.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    carol.delete()
    event = only_event("session_revoked")
    carol.refresh_from_db()
    assert event.user_id == carol.pk and event.username == carol.username
    assert carol.username.startswith("deleted-")
    # The earlier events no longer name the person either.
    assert {event.username for event in events(user_id=carol.pk)} == {carol.username}


def test_a_lockout_is_recorded_by_its_function(carol):
    audit.record_locked_out(RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.5.5.5"), "carol", user=carol)
    event = only_event("locked_out")
    assert (event.username, event.address, event.user_id) == ("carol", "10.5.5.5", carol.pk)


def verb(sql: str) -> str:
    """What a statement does; for the prepared session read (sso_shared.sessions.prepared_statements), what it runs."""
    words = sql.split()
    if words[0] == "PREPARE":  # PREPARE name AS <statement>
        return words[3].upper()
    if words[0] == "EXECUTE" and words[1].startswith(SESSION_ROW_STATEMENT + "_"):
        return "SELECT"
    return words[0].upper()


def test_an_ordinary_page_view_writes_nothing(client, carol):
    client.force_login(carol)  # itself a login, recorded
    before = events()
    with (
        CaptureQueriesContext(connections[SHARED_DB]) as shared,
        CaptureQueriesContext(connections[SERVICE_DB]) as own,
    ):
        assert client.get("/").status_code == 200
    statements = [verb(query["sql"]) for query in [*shared.captured_queries, *own]]
    assert set(statements) <= {"SELECT", "SAVEPOINT", "RELEASE"}, statements
    assert events() == before


def test_a_failure_to_record_logs_a_warning_and_the_login_goes_on(client, carol, monkeypatch, caplog):
    def broken():
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(audit, "event_model", broken)
    with caplog.at_level(logging.WARNING, logger="sso_shared.operations.audit"):
        response = client.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/whoami").json()["authenticated"] is True
    assert "Could not record the audit event 'login'" in caplog.text


def test_a_failed_insert_does_not_spoil_the_transaction_around_it(carol, monkeypatch):
    from django.db import transaction

    with transaction.atomic(using=SHARED_DB):
        audit.record("no-such-kind-longer-than-twenty-characters", user=carol)  # too long for the column
        assert User.objects.filter(username="carol").exists()  # the transaction still works
    assert not events()


# --- the sso_audit command -----------------------------------------------------


def at(day, hour=0):
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def trail(carol):
    rows = [
        AuditEvent(time=at(3), kind="login", service="a", user_id=carol.pk, username="carol", address="10.0.0.1"),
        AuditEvent(time=at(1), kind="login_failed", service="a", username="carol", address="10.0.0.2"),
        AuditEvent(time=at(5), kind="access_denied", service="b", username="dave", address="2001:db8::1"),
        AuditEvent(time=at(7), kind="session_revoked", service="b", user_id=carol.pk, username="carol"),
    ]
    AuditEvent.objects.using(SHARED_DB).bulk_create(rows)


def sso_audit(*args):
    out = StringIO()
    call_command("sso_audit", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_command_prints_one_line_per_event_oldest_first(trail):
    assert sso_audit() == [
        "2026-01-01T00:00:00+00:00 login_failed service=a user=carol address=10.0.0.2",
        "2026-01-03T00:00:00+00:00 login service=a user=carol address=10.0.0.1",
        "2026-01-05T00:00:00+00:00 access_denied service=b user=dave address=2001:db8::1",
        "2026-01-07T00:00:00+00:00 session_revoked service=b user=carol address=-",
    ]


def test_the_command_filters_by_user_since_and_last(trail, carol):
    assert [line.split()[1] for line in sso_audit("--user", "carol")] == ["login_failed", "login", "session_revoked"]
    assert [line.split()[1] for line in sso_audit("--since", "2026-01-03T00:00:00Z")] == [
        "login",
        "access_denied",
        "session_revoked",
    ]
    assert [line.split()[1] for line in sso_audit("--since", "2026-01-04")] == ["access_denied", "session_revoked"]
    assert [line.split()[1] for line in sso_audit("--last", "2")] == ["access_denied", "session_revoked"]
    assert [line.split()[1] for line in sso_audit("--user", "carol", "--last", "1")] == ["session_revoked"]
    # A user renamed since is found by id too.
    carol.username = "carol2"
    carol.save()
    assert len(sso_audit("--user", "carol2")) == 2


def test_the_command_refuses_a_bad_since(trail):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no ISO date"):
        sso_audit("--since", "yesterday")


# --- pruning -------------------------------------------------------------------


def test_prune_deletes_only_events_older_than_the_retention(carol, settings):
    settings.SSO_AUDIT_RETENTION_DAYS = 30
    now = datetime.now(UTC)
    AuditEvent.objects.using(SHARED_DB).bulk_create(
        [
            AuditEvent(time=now - timedelta(days=31), kind="login", service="a", username="old"),
            AuditEvent(time=now - timedelta(days=29), kind="login", service="a", username="recent"),
        ]
    )
    assert sso_audit("--prune") == ["Deleted 1 audit events older than the retention."]
    assert [event.username for event in events()] == ["recent"]


def test_the_retention_defaults_to_a_year(settings):
    from sso_shared import settings as shared_settings

    assert shared_settings.SSO_AUDIT_RETENTION_DAYS == 365


# --- the admin -----------------------------------------------------------------


def test_the_admin_is_read_only_even_for_a_superuser(client, carol):
    boss = User.objects.create_superuser("boss", password=PASSWORD)
    audit.record("login", user=carol)
    event = only_event("login")
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    request.user = boss
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert model_admin.has_view_permission(request, event)

    client.force_login(boss)
    assert client.get("/admin/sso_shared/auditevent/").status_code == 200
    assert client.get("/admin/sso_shared/auditevent/?kind__exact=login&q=carol").status_code == 200
    assert client.get("/admin/sso_shared/auditevent/?q=10.0").status_code == 200
    assert client.get("/admin/sso_shared/auditevent/add/").status_code == 403
    page = client.get(f"/admin/sso_shared/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and 'type="submit"' not in page.content.decode().split('id="content"')[1]
    assert client.post(f"/admin/sso_shared/auditevent/{event.pk}/change/", {"kind": "logout"}).status_code == 403
    assert client.post(f"/admin/sso_shared/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.using(SHARED_DB).get(pk=event.pk).kind == "login"
