"""The login under a flood: the cap on password checks at once, and the lockout of an address across usernames.

sso_shared.login_protection.password_checks and sso_shared.login_protection.lockout
(docs/login-protection.md, "Under a flood"). Through
nginx, with many client addresses: e2e/test_login_flood.py.
"""

import psycopg2
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db import connections

from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import lockout, password_checks
from sso_shared.models import AuditEvent
from sso_shared.operations import audit

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"
FLOODER, OTHER = "192.0.2.80", "198.51.100.80"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.SSO_ADDRESS_FAILURE_LIMIT = 6
    settings.SSO_PASSWORD_CHECKS_AT_ONCE = 1
    settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING = 1
    # Waiting in line is what some tests look at; none needs the full wait of a real login.
    settings.SSO_PASSWORD_CHECK_WAIT_SECONDS = 0.5


@pytest.fixture
def dora():
    return User.objects.create_user("dora", password=PASSWORD)


@pytest.fixture
def every_slot_taken(settings):
    """Another process holding every password-check slot, as busy workers of A, B or another replica would."""
    database = connections[SHARED_DB].settings_dict
    other = psycopg2.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        password=database["PASSWORD"],
        dbname=database["NAME"],
    )
    with other.cursor() as cursor:
        for slot in range(settings.SSO_PASSWORD_CHECKS_AT_ONCE + settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING):
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [password_checks.SLOTS_LOCK_KEY, slot])
    yield
    other.close()


def log_in(client, username="dora", password=PASSWORD, address=FLOODER):
    return client.post(LOGIN, {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=address)


def is_busy_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="login-busy"' in response.content.decode()


def is_lockout_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="locked-out"' in response.content.decode()


# --- the cap on password checks at once ---------------------------------------------------


def test_a_login_beyond_the_cap_gets_429_with_retry_after_and_no_password_checked(client, dora, every_slot_taken):
    response = log_in(client)
    assert is_busy_page(response)
    assert response["Retry-After"] == str(password_checks.RETRY_AFTER_SECONDS)
    assert "The login is busy" in response.content.decode() and "no-cache" in response["Cache-Control"]
    assert client.get("/whoami").json()["authenticated"] is False
    # Not a failed login: nothing for the account's lock, nothing audited as a wrong password.
    assert lockout.failures_of("dora", FLOODER) == 0
    assert not AuditEvent.objects.using(SHARED_DB).filter(kind=audit.LOGIN_FAILED).exists()


def test_with_a_slot_free_the_login_goes_through_and_gives_the_slot_back(client, dora):
    assert log_in(client).status_code == 302
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
            [password_checks.SLOTS_LOCK_KEY],
        )
        assert cursor.fetchone()[0] == 0


def test_an_unknown_username_costs_a_slot_too(client, every_slot_taken):
    """Django hashes the password of an unknown username as well (so its timing tells nothing): capped alike."""
    assert is_busy_page(log_in(client, username="nobody-at-all"))


def test_the_password_change_form_is_capped_too(client, dora, every_slot_taken):
    stored = dora.password
    client.force_login(dora)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "another-long-one-7", "new_password2": "another-long-one-7"},
        HTTP_X_FORWARDED_FOR=OTHER,
    )
    assert is_busy_page(response)
    dora.refresh_from_db()
    assert dora.password == stored  # unchanged: the form stopped before any check
    assert AccessAttempt.objects.filter(ip_address=OTHER, username=None).exists()


def test_the_stored_hashes_are_djangos_own(dora):
    """Same algorithm name and iterations: nothing is rehashed, nothing differs from a stock Django's hash."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher

    assert dora.password.startswith(f"pbkdf2_sha256${PBKDF2PasswordHasher.iterations}$")
    hasher = identify_hasher(dora.password)
    assert isinstance(hasher, password_checks.BoundedHasher) and not hasher.must_update(dora.password)
    assert PBKDF2PasswordHasher().verify(PASSWORD, dora.password)


# --- the lockout of an address, across usernames ---------------------------------------------


def test_an_address_failing_with_many_usernames_is_locked_for_every_username(client, dora):
    for number in range(6):  # each username fails once: no pair comes near its own limit
        assert log_in(client, username=f"random-{number}", password="wrong").status_code == 200
    refused = log_in(client)  # the right password of a real account, from that address
    assert is_lockout_page(refused) and int(refused["Retry-After"]) > 0
    assert "from your address is locked" in refused.content.decode()
    assert client.get("/whoami").json()["authenticated"] is False
    assert AuditEvent.objects.using(SHARED_DB).filter(kind=audit.LOCKED_OUT, address=FLOODER, username="dora").exists()
    # Another address logs in as usual.
    assert log_in(client, address=OTHER).status_code == 302


def test_logins_refused_while_busy_count_against_the_address(client, dora, every_slot_taken):
    for number in range(6):
        assert is_busy_page(log_in(client, username=f"random-{number}", password="wrong"))
    assert lockout.address_failures(FLOODER) == 6
    assert lockout.address_locked(FLOODER)
    # No account's own lock counted any of it.
    assert not AccessAttempt.objects.filter(ip_address=FLOODER).exclude(username=None).exists()
    # Refused before any slot is needed: the lockout page, not the busy page.
    assert is_lockout_page(log_in(client))


def test_lifting_the_addresss_records_unlocks_it(client, dora, every_slot_taken):
    for number in range(6):
        log_in(client, username=f"random-{number}", password="wrong")
    from django.core.management import call_command

    call_command("axes_reset_ip", FLOODER)
    assert not lockout.address_locked(FLOODER)
