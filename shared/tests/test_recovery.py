"""Account recovery (sso_shared.accounts.recovery, sso_shared.accounts.admin_recovery): a reset by mail through a real
SMTP listener on loopback (aiosmtpd), an administrator's one-time link (command and admin page),
a temporary password, and that none of them gets past a second factor."""

import os
import re
import time
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from sso_shared.accounts import recovery
from sso_shared.models import AuditEvent

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_accounts")]
User = get_user_model()
PASSWORD = "a-long-password-1"
NEW_PASSWORD = "a-brand-new-password-7"
ADDRESS = "192.0.2.44"
# A port of this checkout's own test range, so parallel runs elsewhere on the machine never meet it.
SMTP_PORT = int(os.environ.get("TEST_SMTP_PORT", "24951"))
# The link's path as these tests serve it (System A serves it below /a/).
LINK = re.compile(r"https?://[^/\s]+(?:/a)?(/accounts/reset/[^\s]+/)")


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def mailbox(settings):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", SMTP_PORT
    settings.SSO_PASSWORD_RESET_BY_MAIL = True
    yield box
    controller.stop()


@pytest.fixture(autouse=True)
def fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_REDIRECT_URL = "/a/"
    settings.SSO_PASSWORD_RESET_URL = "/accounts/reset/"  # these tests serve A's pages without its /a prefix


@pytest.fixture
def carol():
    return User.objects.create_user("carol", email="Carol@Example.test", password=PASSWORD)


def post(client, path, data):
    return client.post(path, data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=ADDRESS)


def wait_for_mail(box, count=1):
    for thread in recovery.SENDERS:
        thread.join(10)
    deadline = time.monotonic() + 10
    while len(box.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return box.messages


def log_in(client, password=PASSWORD):
    return post(client, "/accounts/login/", {"username": "carol", "password": password})


def events(user):
    return list(AuditEvent.objects.filter(user_id=user.pk).order_by("time", "id").values_list("kind", "address"))


def set_password_with(client, path):
    form = client.get(path, follow=True)
    assert form.status_code == 200 and "Set a new password" in form.content.decode()
    set_path = form.redirect_chain[-1][0] if form.redirect_chain else path
    return post(client, set_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


# --- with mail -------------------------------------------------------------------------------


def test_a_reset_by_mail_sets_a_new_password_once_and_ends_every_session(client, carol, mailbox):
    logged_in_elsewhere = type(client)()
    log_in(logged_in_elsewhere)
    login_page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/" data-testid="forgot-password"' in login_page
    answer = post(client, "/accounts/password_reset/", {"email": "carol@example.test"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password_reset/done/"
    [(recipients, message)] = wait_for_mail(mailbox)
    assert recipients == ["Carol@example.test"]  # as stored (Django lowercases the domain)
    assert "Subject: Set a new password" in message
    path = LINK.search(message)[1]
    done = set_password_with(client, path)
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    # Nobody is logged in by it, and the session logged in before is gone.
    assert client.session.get(SESSION_KEY) is None
    assert logged_in_elsewhere.get("/whoami").json()["authenticated"] is False
    assert log_in(type(client)(), NEW_PASSWORD).status_code == 302
    # Once only.
    again = client.get(path, follow=True).content.decode()
    assert "This link does not work" in again
    kinds = [kind for kind, _ in events(carol)]
    assert kinds == ["login", "reset_requested", "password_reset", "session_revoked", "login"]
    assert events(carol)[1] == ("reset_requested", ADDRESS)


def test_the_answer_never_says_whether_an_account_exists(client, carol, mailbox):
    known = post(client, "/accounts/password_reset/", {"email": "carol@example.test"})
    unknown = post(client, "/accounts/password_reset/", {"email": "nobody@example.test"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    page_known = client.get(known["Location"]).content.decode()
    page_unknown = client.get(unknown["Location"]).content.decode()
    assert page_known == page_unknown and "If an account has that address" in page_known
    assert len(wait_for_mail(mailbox)) == 1
    # The request without an account is audited too, with no user.
    assert AuditEvent.objects.filter(kind="reset_requested", user_id__isnull=True, address=ADDRESS).count() == 1


def test_an_account_gets_a_few_mails_an_hour_at_most(client, carol, mailbox):
    for _ in range(recovery.RESET_MAILS_PER_HOUR + 2):
        assert post(client, "/accounts/password_reset/", {"email": "carol@example.test"}).status_code == 302
    wait_for_mail(mailbox, recovery.RESET_MAILS_PER_HOUR)
    time.sleep(0.5)  # any mail beyond the limit would have arrived by now (all senders have ended)
    assert len(mailbox.messages) == recovery.RESET_MAILS_PER_HOUR


def test_without_mail_the_page_says_to_ask_an_administrator(client, carol):
    login_page = client.get("/accounts/login/").content.decode()
    assert "An administrator can give you a one-time link" in login_page
    page = client.get("/accounts/password_reset/")
    assert page.status_code == 404 and "This site sends no mail" in page.content.decode()


# --- without mail: an administrator's link ------------------------------------------------------


def test_the_command_prints_a_one_time_link_that_is_audited(client, carol):
    out, err = StringIO(), StringIO()
    call_command("sso_reset_link", "carol", "--site", "https://sso.example/", stdout=out, stderr=err)
    link = out.getvalue().strip()
    assert link.startswith("https://sso.example/accounts/reset/") and "Works once, until" in err.getvalue()
    assert set_password_with(client, link.removeprefix("https://sso.example")).status_code == 302
    assert log_in(client, NEW_PASSWORD).status_code == 302
    assert [kind for kind, _ in events(carol)][:2] == ["reset_link_made", "password_reset"]
    with pytest.raises(CommandError, match="No active user 'nobody'"):
        call_command("sso_reset_link", "nobody")


def test_an_admin_makes_a_link_and_sets_a_temporary_password(client, carol):
    admin = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    page = f"/admin/sso_shared/user/{carol.pk}/recovery/"
    assert 'class="recovery-link"' in client.get(f"/admin/sso_shared/user/{carol.pk}/change/").content.decode()
    made = post(client, page, {"do": "reset_link"}).content.decode()
    link = re.search(r'value="(http://testserver/accounts/reset/[^"]+)"', made)[1]
    assert set_password_with(type(client)(), link.removeprefix("http://testserver")).status_code == 302
    carols_browser = type(client)()
    assert log_in(carols_browser, NEW_PASSWORD).status_code == 302
    shown = post(client, page, {"do": "temporary_password"}).content.decode()
    temporary = re.search(r'value="([^"]+)" size="30" data-testid="temporary-password-value"', shown)[1]
    # Every session of carol ended; the temporary password logs in and must be changed, on every page.
    assert carols_browser.get("/whoami").json()["authenticated"] is False
    assert log_in(carols_browser, temporary).status_code == 302
    held = carols_browser.get("/")
    assert held.status_code == 302 and held["Location"] == "/a/accounts/password_change/"
    changed = post(
        carols_browser,
        "/accounts/password_change/",
        {
            "old_password": temporary,
            "new_password1": "yet-another-password-9",
            "new_password2": "yet-another-password-9",
        },
    )
    assert changed.status_code == 302
    assert carols_browser.get("/").status_code == 200
    kinds = [kind for kind, _ in events(carol)]
    assert "reset_link_made" in kinds and "temp_password_set" in kinds
    assert all(
        address == ADDRESS for kind, address in events(carol) if kind in ("reset_link_made", "temp_password_set")
    )


def test_a_staff_member_may_not_recover_a_superuser(client):
    root = User.objects.create_superuser("root", password=PASSWORD)
    staff = User.objects.create_user("sam", password=PASSWORD, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_user", "view_user"]))
    client.force_login(staff)
    assert post(client, f"/admin/sso_shared/user/{root.pk}/recovery/", {"do": "temporary_password"}).status_code == 403
    root.refresh_from_db()
    assert root.check_password(PASSWORD) and not root.must_change_password


# --- none of it gets past a second factor -----------------------------------------------------


def test_a_reset_password_still_needs_the_second_factor(client, carol):
    app = TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)
    link = recovery.make_reset_link(carol)
    assert set_password_with(client, link).status_code == 302
    after = log_in(type(client)(), NEW_PASSWORD)
    assert after.status_code == 302 and after["Location"] == "/accounts/login/second-step/"
    browser = type(client)()
    log_in(browser, NEW_PASSWORD)
    token = f"{TOTP(app.bin_key).token():06d}"
    assert post(browser, "/accounts/login/second-step/", {"code": token}).status_code == 302
    assert browser.session.get(SESSION_KEY) == str(carol.pk)
