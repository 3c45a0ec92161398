"""The audit trail shows what clients typed with control characters escaped, and stores a bounded name.

The issue's forged username: a failed login as ``zz\\n<time> login service=b user=admin
address=10.9.8.7\\x1b[2K`` printed a fake event line and sent raw escape bytes to the terminal.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import AuditEvent
from sso_shared.operations import audit

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
FORGED = "zz\n2026-12-01T08:00:00+00:00 login service=b user=admin address=10.9.8.7\x1b[2K"
ADDRESS = "192.0.2.60"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fail_login(client, username):
    return client.post("/accounts/login/", {"username": username, "password": "wrong"}, HTTP_X_FORWARDED_FOR=ADDRESS)


def test_sso_audit_prints_a_forged_username_as_one_line_without_control_characters(client):
    fail_login(client, FORGED)
    out = StringIO()
    call_command("sso_audit", stdout=out)
    printed = out.getvalue()
    assert printed.count("\n") == 1  # one event, one line: nothing forged
    assert "\x1b" not in printed
    assert "user=zz\\x0a2026-12-01T08:00:00+00:00\\x20login\\x20service=b" in printed
    assert printed.rstrip("\n").endswith(f"address={ADDRESS}")


def test_the_admin_shows_the_forged_username_escaped(client):
    fail_login(client, FORGED)
    admin = User.objects.create_superuser("ada", password="a-long-password-1")
    client.force_login(admin)
    page = client.get("/admin/sso_shared/auditevent/").content.decode()
    assert "zz\\x0a2026-12-01T08:00:00+00:00\\x20login" in page
    assert "\x1b" not in page and "zz\n2026" not in page
    event = AuditEvent.objects.using(SHARED_DB).get(kind=audit.LOGIN_FAILED)
    detail = client.get(f"/admin/sso_shared/auditevent/{event.pk}/change/").content.decode()
    assert "\x1b" not in detail and "zz\\x0a2026" in detail


def test_a_backslash_cannot_forge_an_escape():
    assert audit.printable("a\\x0ab") == "a\\\\x0ab"
    assert audit.printable("carol") == "carol"


def test_a_very_long_attempted_username_is_stored_bounded_and_the_login_answers(client):
    response = fail_login(client, "x" * 10_000)
    assert response.status_code == 200  # the form's own error, not a 500 from a too-long column
    [stored] = AuditEvent.objects.using(SHARED_DB).values_list("username", flat=True)
    assert stored == "x" * audit.USERNAME_LENGTH
