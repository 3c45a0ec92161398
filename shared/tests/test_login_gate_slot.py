"""The password-check slot of a request through the login gate costs no round trip of its own.

sso_shared.login_protection.login_gate takes it with its look at the client address when nothing counts there;
the check uses
it; the request gives it back with its next statement, or when it ends. What is asserted: which slots the
connection holds after each step, and that every form still checks passwords. The round trips themselves
are pinned in system_a/tests/test_round_trips.py.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db import connections

from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import password_checks
from sso_shared.login_protection.login_gate import look_at_address
from sso_shared.login_protection.password_checks import SLOTS_LOCK_KEY

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD, NEW = "a-long-password-1", "another-long-password-2"
ADDRESS = "198.51.100.71"
LOGIN = "/accounts/login/"


@pytest.fixture
def ines():
    return User.objects.create_user("ines", password=PASSWORD)


def slots_held() -> int:
    """Password-check slots this test's connection (the one the test client's requests use) holds."""
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s"
            " AND pid = pg_backend_pid()",
            [SLOTS_LOCK_KEY],
        )
        return cursor.fetchone()[0]


def log_in(client, password, username="ines"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ADDRESS)


def test_with_nothing_counting_at_the_address_the_gates_look_takes_a_slot():
    failures, named, until, slot = look_at_address(ADDRESS)
    try:
        assert (failures, named, until) == (0, 0, None)
        assert slot is not None and slots_held() == 1
    finally:
        with connections[SHARED_DB].cursor() as cursor:
            cursor.execute(password_checks.RELEASE_SLOT_SQL, [SLOTS_LOCK_KEY, slot])
    assert slots_held() == 0


def test_with_a_failure_counting_at_the_address_the_gates_look_takes_none(client, ines):
    assert log_in(client, "wrong").status_code == 200
    assert slots_held() == 0
    failures, named, until, slot = look_at_address(ADDRESS)
    assert (failures, named, slot) == (1, 1, None) and until is not None
    assert slots_held() == 0  # its check takes one itself, at its place in line


def test_a_slot_taken_for_a_check_that_never_came_is_given_back(client, ines):
    response = client.post(LOGIN, {"username": "ines"}, REMOTE_ADDR=ADDRESS)  # no password: no check
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()
    assert not AccessAttempt.objects.filter(ip_address=ADDRESS).exists()  # no check, so no failure counted
    assert slots_held() == 0


def test_after_a_wrong_password_and_after_a_login_no_slot_is_held(client, ines):
    assert log_in(client, "wrong").status_code == 200
    assert slots_held() == 0
    assert log_in(client, PASSWORD).status_code == 302
    assert slots_held() == 0
    assert client.get("/whoami").json()["username"] == "ines"


def test_a_password_change_checks_the_old_one_and_sets_the_new_one_then_holds_none(client, ines):
    client.force_login(ines)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 302
    assert slots_held() == 0
    ines.refresh_from_db()
    assert ines.check_password(NEW)
