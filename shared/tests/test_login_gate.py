"""The door of the forms that check a password (sso_shared.login_protection.login_gate): a locked address
refused before the view.

docs/login-protection.md, "Under a flood". nginx's part (keeping a refusal for a few seconds) is in
scripts/tests/test_login_throttle_config.py and e2e/test_login_flood.py.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import lockout
from sso_shared.login_protection.login_gate import NGINX_KEEPS_REFUSAL_SECONDS
from sso_shared.models import AuditEvent
from sso_shared.operations import audit

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"
FLOODER, OTHER = "192.0.2.60", "198.51.100.60"
LIMIT = 6
LOGIN = "/accounts/login/"
WRONG = "wrong"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = 3
    settings.SSO_ADDRESS_FAILURE_LIMIT = LIMIT


@pytest.fixture
def dora():
    return User.objects.create_user("dora", password=PASSWORD)


def log_in(client, username, password=WRONG, address=FLOODER):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def is_lockout_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="locked-out"' in response.content.decode()


def lock_with_random_names(client):
    for number in range(LIMIT):
        assert log_in(client, f"random-{number}").status_code == 200
    assert lockout.address_locked(FLOODER)


def test_a_locked_address_is_refused_before_its_view_and_counted_on_its_own_record(client, dora):
    lock_with_random_names(client)
    before = lockout.address_failures(FLOODER)
    refused = log_in(client, "yet-another-random-name")
    assert is_lockout_page(refused) and "from your address is locked" in refused.content.decode()
    # Refused before the view: the login form never counted this name, the address's own record did.
    assert not AccessAttempt.objects.filter(username="yet-another-random-name").exists()
    assert AccessAttempt.objects.get(ip_address=FLOODER, username=None).failures_since_start == 1
    assert lockout.address_failures(FLOODER) == before + 1
    # Audited once, under the name it tried.
    events = AuditEvent.objects.using(SHARED_DB).filter(kind=audit.LOCKED_OUT, username="yet-another-random-name")
    assert [event.address for event in events] == [FLOODER]
    # nginx may answer the address's next login POSTs with this page for a few seconds: nothing in it is anyone's.
    assert refused["X-Accel-Expires"] == str(NGINX_KEEPS_REFUSAL_SECONDS)
    assert "dora" not in refused.content.decode() and 'data-testid="anonymous"' in refused.content.decode()
    # Another address logs in as usual.
    assert log_in(client, "dora", PASSWORD, address=OTHER).status_code == 302


def test_a_name_that_failed_there_counts_on_its_own_record_and_every_attempt_reaches_the_service(client, dora):
    for _ in range(3):
        log_in(client, "dora")  # dora's pair locks at 3 and keeps counting while locked
    for _ in range(3):
        assert is_lockout_page(log_in(client, "dora"))
    assert lockout.address_locked(FLOODER) and lockout.failures_of("dora", FLOODER) == LIMIT
    refused = log_in(client, "dora", PASSWORD)
    assert is_lockout_page(refused)
    assert lockout.failures_of("dora", FLOODER) == LIMIT + 1  # on dora's record, as django-axes counts it
    assert not AccessAttempt.objects.filter(ip_address=FLOODER, username=None).exists()
    # Her own name: never kept by nginx, so each attempt is audited under it.
    assert "X-Accel-Expires" not in refused
    # Lifting her records lifts the lock: it was all hers.
    call_command("axes_reset_username", "dora")
    assert log_in(client, "dora", PASSWORD).status_code == 302


def test_a_logged_in_users_refusal_is_never_kept_by_nginx(client, dora):
    lock_with_random_names(client)
    client.force_login(dora)
    refused = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "another-long-one-7", "new_password2": "another-long-one-7"},
        REMOTE_ADDR=FLOODER,
    )
    assert is_lockout_page(refused)
    assert "X-Accel-Expires" not in refused  # the page shows her name, and a form with her CSRF token
    dora.refresh_from_db()
    assert dora.check_password(PASSWORD)


def test_the_csrf_check_comes_first_so_a_forged_post_counts_against_no_one(dora):
    browser = Client(enforce_csrf_checks=True)
    lock_with_random_names(Client())
    before = lockout.address_failures(FLOODER)
    forged = browser.post(LOGIN, {"username": "dora", "password": PASSWORD}, REMOTE_ADDR=FLOODER)
    assert forged.status_code == 403
    assert lockout.address_failures(FLOODER) == before
    assert not AuditEvent.objects.using(SHARED_DB).filter(kind=audit.LOCKED_OUT, username="dora").exists()


def test_other_posts_from_a_locked_address_go_on(client, dora):
    """Only the forms that check a password are refused: a logged-in user there logs out, uses the site."""
    lock_with_random_names(client)
    client.force_login(dora)
    assert client.get("/whoami", REMOTE_ADDR=FLOODER).json()["authenticated"] is True
    assert client.post("/accounts/logout/", REMOTE_ADDR=FLOODER).status_code == 302
