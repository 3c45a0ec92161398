"""The lockout page renders on every service, and the lockout counts usernames as the login form does.

B has no page named "login" (its LOGIN_URL is A's page): the lockout page used to reverse that
name, so B's admin login for a locked account answered 500. A trailing space or another Unicode
spelling of the name ("carol ", NFKC) is the same account for the login form: it must be the same
pair for the lockout too, or the growing cool-off starts over.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from sso_shared.login_protection import lockout

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
PASSWORD = "a-long-password-1"
ADDRESS = "192.0.2.90"
LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.SSO_LOCKOUT_MINUTES = 15


@pytest.fixture
def carol():
    return User.objects.create_user("carol", password=PASSWORD)


def post(client, path, username, password, address=ADDRESS):
    return client.post(path, {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=address)


@pytest.mark.urls("tests.urls_service_b")
def test_bs_admin_login_for_a_locked_account_shows_the_lockout_page_not_a_500(carol):
    for _ in range(LIMIT):
        lockout_failure(carol)
    staff = User.objects.create_user("staffer", password=PASSWORD, is_staff=True)
    client = Client(raise_request_exception=False)
    client.force_login(staff)  # B shows its admin login form to a logged-in user only
    response = post(client, "/admin/login/", "carol", PASSWORD)
    assert response.status_code == 429, response.content[:300]
    page = response.content.decode()
    assert 'data-testid="locked-out"' in page and "<strong>carol</strong>" in page
    assert 'href="/a/accounts/login/"' in page  # back to the one login page, on A


def lockout_failure(user, username=None, address=ADDRESS):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    request = RequestFactory().post("/accounts/login/", HTTP_X_FORWARDED_FOR=address)
    authenticate(request, username=username or user.get_username(), password="wrong")


@pytest.mark.urls("tests.urls_audit")
@pytest.mark.parametrize("spelling", ["carol ", " carol", "ｃａｒｏｌ"])
def test_a_spelling_the_login_form_reads_as_the_same_name_is_the_same_pair(client, carol, spelling):
    for _ in range(LIMIT):
        post(client, "/accounts/login/", spelling, "wrong")
    assert lockout.failures_of("carol", ADDRESS) == LIMIT
    refused = post(client, "/accounts/login/", "carol", PASSWORD)
    assert refused.status_code == 429 and "<strong>carol</strong>" in refused.content.decode()


@pytest.mark.urls("tests.urls_audit")
def test_the_growing_cool_off_keeps_growing_under_a_trailing_space(client, carol):
    for _ in range(2 * LIMIT):  # twice the limit: the second lock doubles the wait
        post(client, "/accounts/login/", "carol", "wrong")
    grown = lockout.locked_until("carol", ADDRESS)
    post(client, "/accounts/login/", "carol ", "wrong")
    assert lockout.failures_of("carol", ADDRESS) == 2 * LIMIT + 1
    later = lockout.locked_until("carol", ADDRESS)
    # Still the doubled cool-off (30 minutes after this attempt), not the first one (15) started over.
    from django.utils import timezone

    assert (later - timezone.now()).total_seconds() > 25 * 60 and later >= grown
