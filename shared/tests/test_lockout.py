"""The login lockout (sso_shared.login_protection.lockout, django-axes): per username and address, in the
shared database.

What a person sees at the login page, what the audit trail records, how an administrator
lifts a lock (admin and command), and where the records live. Through nginx, with real
addresses: e2e/test_login_protection.py.
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog, AccessLog
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections
from django.db.models import F
from django.test import RequestFactory, override_settings
from django.utils import timezone

from sso_shared.database.routers import SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB, SHARED_SCHEMA, migrations_alias
from sso_shared.environment.values import positive_int
from sso_shared.login_protection import lockout
from sso_shared.models import AuditEvent

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"
LIMIT = 3  # AXES_FAILURE_LIMIT in these tests: fewer password hashes, same rules
ATTACKER, OTHER = "192.0.2.66", "198.51.100.7"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def small_limit(settings):
    # A fast hasher: these tests check passwords dozens of times, and the lock cares only that they fail.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.SSO_LOCKOUT_MINUTES = 15
    settings.SSO_LOCKOUT_MAX_MINUTES = 24 * 60


@pytest.fixture
def carol():
    return User.objects.create_user("carol", password=PASSWORD)


def log_in(client, password, address=ATTACKER, username="carol", **extra):
    # As nginx passes it on: whatever the client claimed, then the address nginx saw, last.
    forwarded = extra.pop("claimed", None)
    header = f"{forwarded}, {address}" if forwarded else address
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=header
    )


def fail(client, times, address=ATTACKER, **extra):
    return [log_in(client, "wrong", address, **extra) for _ in range(times)]


def kinds() -> list[tuple[str, str | None]]:
    return list(AuditEvent.objects.using(SHARED_DB).order_by("time", "id").values_list("kind", "address"))


def assert_lockout_page(response, username="carol"):
    assert response.status_code == 429
    page = response.content.decode()
    assert 'data-testid="locked-out"' in page and "Too many failed logins" in page
    assert f"<strong>{username}</strong>" in page and "locked until" in page
    assert '<link rel="stylesheet"' in page  # the site's own look, not a bare text
    assert int(response["Retry-After"]) > 0
    assert "no-cache" in response["Cache-Control"]


# --- where the records live -------------------------------------------------------


@pytest.mark.parametrize("model", [AccessAttempt, AccessAttemptExpiration, AccessLog, AccessFailureLog])
def test_the_lockout_records_live_in_the_shared_schema_only(model):
    assert migrations_alias("axes") == SHARED_MIGRATIONS_DB
    # Migrated there (sso_migrate migrates the shared schema first; the test database is made the same way).
    with connections[SERVICE_DB].cursor() as cursor:
        cursor.execute("SELECT schemaname FROM pg_tables WHERE tablename = %s", [model._meta.db_table])
        assert cursor.fetchall() == [(SHARED_SCHEMA,)]


def test_failures_are_written_to_the_shared_database(client, carol):
    fail(client, 1)
    assert AccessAttempt.objects.using(SHARED_DB).get().failures_since_start == 1


# --- the lock -----------------------------------------------------------------------


def test_the_failure_that_reaches_the_limit_shows_the_lockout_page(client, carol):
    responses = fail(client, LIMIT)
    assert [r.status_code for r in responses[:-1]] == [200] * (LIMIT - 1)
    assert "didn't match" in responses[0].content.decode()
    assert_lockout_page(responses[-1])


def test_a_locked_pair_is_refused_even_with_the_right_password(client, carol):
    fail(client, LIMIT)
    assert_lockout_page(log_in(client, PASSWORD))
    assert "_auth_user_id" not in client.session


def test_the_same_user_from_another_address_is_not_locked(client, carol):
    fail(client, LIMIT + 2)
    assert log_in(client, PASSWORD, address=OTHER).status_code == 302


def test_another_user_from_the_locked_address_is_not_locked(client, carol):
    User.objects.create_user("dave", password=PASSWORD)
    fail(client, LIMIT)
    assert log_in(client, PASSWORD, username="dave").status_code == 302


def test_an_address_the_client_claims_changes_nothing(client, carol):
    # Each attempt claims another address in X-Forwarded-For; nginx's own entry is last and alone counts.
    for number in range(LIMIT):
        response = log_in(client, "wrong", claimed=f"203.0.113.{number}")
    assert_lockout_page(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_a_success_before_the_limit_clears_the_failures(client, carol):
    fail(client, LIMIT - 1)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    fail(client, LIMIT - 1)
    assert log_in(client, PASSWORD).status_code == 302


def test_code_calling_authenticate_without_a_request_is_not_keyed(carol):
    assert authenticate(username="carol", password=PASSWORD) == carol


# --- the cool-off and its growth ----------------------------------------------------


def test_the_cool_off_doubles_for_each_further_limit_of_failures_up_to_the_longest(settings):
    minutes = [lockout.cool_off_after(failures) / timedelta(minutes=1) for failures in range(0, 7 * LIMIT)]
    assert minutes[: 2 * LIMIT] == [15] * (2 * LIMIT)  # counting, and the first lock
    assert minutes[2 * LIMIT : 3 * LIMIT] == [30] * LIMIT
    assert minutes[3 * LIMIT] == 60 and minutes[4 * LIMIT] == 120
    settings.SSO_LOCKOUT_MAX_MINUTES = 100
    assert lockout.cool_off_after(4 * LIMIT) == timedelta(minutes=100)
    assert lockout.cool_off_after(10**6) == timedelta(minutes=100)


def pass_time(minutes: int) -> None:
    """Move the records back in time, as if that much time had passed."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))
    AccessAttemptExpiration.objects.update(expires_at=F("expires_at") - timedelta(minutes=minutes))


def test_the_lock_ends_after_the_cool_off(client, carol):
    fail(client, LIMIT)
    pass_time(14)
    assert log_in(client, PASSWORD).status_code == 429
    pass_time(16)  # 15 minutes after the last attempt (the refused one above)
    assert log_in(client, PASSWORD).status_code == 302


def minutes_from_now(moment) -> float:
    return (moment - timezone.now()).total_seconds() / 60


def test_attempts_while_locked_make_the_lock_longer(client, carol):
    fail(client, LIMIT)
    assert minutes_from_now(lockout.locked_until("carol", ATTACKER)) == pytest.approx(15, abs=0.5)
    fail(client, LIMIT)  # refused, each counted
    assert minutes_from_now(lockout.locked_until("carol", ATTACKER)) == pytest.approx(30, abs=0.5)
    pass_time(16)  # the first lock would have ended by now
    responses = [log_in(client, PASSWORD) for _ in range(LIMIT)]
    assert [response.status_code for response in responses] == [429] * LIMIT
    assert_lockout_page(responses[-1])
    assert int(responses[-1]["Retry-After"]) / 60 == pytest.approx(60, abs=0.5)  # 3 × LIMIT failures: an hour


# --- the audit trail ----------------------------------------------------------------


def test_each_attempt_is_recorded_once_with_the_address_nginx_saw(client, carol):
    fail(client, LIMIT, claimed="203.0.113.9")
    log_in(client, PASSWORD, claimed="203.0.113.9")
    assert kinds() == [("login_failed", ATTACKER)] * LIMIT + [("locked_out", ATTACKER)] * 2
    # The lock's own check refused the last one before its password was checked: no login_failed for it.
    assert AuditEvent.objects.filter(kind="login").count() == 0


# --- the same lock on every service -------------------------------------------------


def test_a_lock_made_through_a_holds_on_b(client, carol):
    fail(client, LIMIT)
    with override_settings(SSO_SERVICE_NAME="b"):
        request = RequestFactory().post("/b/anything", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
        assert authenticate(request, username="carol", password=PASSWORD) is None
        assert getattr(request, "sso_login_refused", False) is True
    assert AuditEvent.objects.filter(kind="locked_out", service="b", address=ATTACKER).count() == 1


# --- lifting a lock -----------------------------------------------------------------


def test_an_admin_sees_the_lock_and_lifts_it(client, carol, admin_client):
    fail(client, LIMIT)
    listing = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "carol" in listing and ATTACKER in listing and "locked until" in listing
    attempt = AccessAttempt.objects.get()
    response = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockout", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert "Lifted the lock of carol from 192.0.2.66." in response.content.decode()
    assert not AccessAttempt.objects.using(SHARED_DB).exists()
    assert log_in(client, PASSWORD).status_code == 302


def test_the_reset_command_lifts_a_lock_in_the_shared_database(client, carol):
    fail(client, LIMIT)
    out = StringIO()
    call_command("axes_reset_username", "carol", stdout=out)
    assert "attempts removed" in out.getvalue()
    assert not AccessAttempt.objects.using(SHARED_DB).exists()
    assert log_in(client, PASSWORD).status_code == 302


# --- settings -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "five", "2.5", "٣"])
def test_a_lockout_setting_that_is_not_a_positive_whole_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", value)
    expected = f"LOGIN_FAILURE_LIMIT must be a whole number of at least 1, not '{value}'"
    with pytest.raises(ImproperlyConfigured, match=re.escape(expected)):
        positive_int("LOGIN_FAILURE_LIMIT", default=5)


def test_an_empty_lockout_setting_means_its_default(monkeypatch):
    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", "")  # as Compose passes ${LOGIN_FAILURE_LIMIT:-}
    assert positive_int("LOGIN_FAILURE_LIMIT", default=5) == 5
    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", " 8 ")
    assert positive_int("LOGIN_FAILURE_LIMIT", default=5) == 8


def test_the_shipped_policy():
    from sso_shared import settings as shared

    assert (shared.AXES_FAILURE_LIMIT, shared.SSO_LOCKOUT_MINUTES, shared.SSO_LOCKOUT_MAX_MINUTES) == (5, 15, 1440)
    assert shared.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert shared.AXES_CLIENT_IP_CALLABLE == "sso_shared.operations.audit.client_address"


def test_without_axes_installed_the_shared_package_says_what_is_missing(monkeypatch):
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda name: name != "axes")
    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS lacks 'axes'.*SHARED_APPS"):
        apps.get_app_config("sso_shared").ready()
