"""Wrong old passwords on the password-change forms count like failed logins: locked, counted, audited.

Both forms: the account's (/accounts/password_change/) and the admin's (/admin/password_change/).
With a stolen session, 60 wrong old passwords used to be answered "incorrect" without a lock or a
trace, and the 61st, right, changed the password (issue 24).
"""

import pytest
from django.contrib.auth import get_user_model

from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import lockout
from sso_shared.models import AuditEvent
from sso_shared.operations import audit

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD, NEW = "a-long-password-1", "another-long-one-7"
THIEF, OWNER = "192.0.2.70", "198.51.100.70"
LIMIT = 3
FORMS = pytest.mark.parametrize("path", ["/accounts/password_change/", "/admin/password_change/"])


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def stolen(client):
    """A staff user's session in someone else's hands (the admin's form needs staff)."""
    user = User.objects.create_user("hana", password=PASSWORD, is_staff=True)
    client.force_login(user)
    return user


def change(client, path, old, address=THIEF):
    return client.post(
        path, {"old_password": old, "new_password1": NEW, "new_password2": NEW}, HTTP_X_FORWARDED_FOR=address
    )


def audited(kind):
    return list(AuditEvent.objects.using(SHARED_DB).filter(kind=kind).values_list("username", "address"))


@FORMS
def test_a_wrong_old_password_is_a_failed_login_of_the_user_at_that_address(client, stolen, path):
    response = change(client, path, "wrong")
    assert response.status_code == 200 and "incorrect" in response.content.decode()
    assert lockout.failures_of("hana", THIEF) == 1
    assert audited(audit.LOGIN_FAILED) == [("hana", THIEF)]


@FORMS
def test_guessing_the_old_password_locks_and_then_even_the_right_one_is_refused(client, stolen, path):
    answers = [change(client, path, f"wrong-{n}") for n in range(LIMIT)]
    assert [a.status_code for a in answers] == [200] * (LIMIT - 1) + [429]
    assert 'data-testid="locked-out"' in answers[-1].content.decode()
    refused = change(client, path, PASSWORD)  # the right one, from the locked address
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    stolen.refresh_from_db()
    assert stolen.check_password(PASSWORD)  # not changed
    assert audited(audit.LOCKED_OUT)[:1] == [("hana", THIEF)]
    assert not audited(audit.PASSWORD_CHANGE)


@FORMS
def test_the_right_old_password_changes_it_and_is_audited(client, stolen, path):
    response = change(client, path, PASSWORD, address=OWNER)
    assert response.status_code == 302
    stolen.refresh_from_db()
    assert stolen.check_password(NEW)
    assert not audited(audit.LOGIN_FAILED)
    assert audited(audit.PASSWORD_CHANGE) == [("hana", OWNER)]  # the admin's form is audited too
