"""The second factor and account recovery through the real site (nginx, gunicorn, PostgreSQL).

A person's browser as requests plays one: the two-factor page sets up an authenticator app
(the code computed here from the page's otpauth:// link, as an app would), the login asks for
it on a second step and neither service sees the user before it, codes work once, wrong codes
lock like wrong passwords, an administrator resets it from B's admin; recovery without mail (the
stack's default): an administrator's one-time link and a temporary password. Passkeys, with
Chromium's virtual authenticator: test_walkthrough_browser.py. docs/login-protection.md
"""

import base64
import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django_otp.oath import TOTP

from .client import SiteClient
from .conftest import BASE_URL, VERIFY, create_user_in_admin, manage, new_password, unique
from .test_login_protection import audit_of, browser_at, stack_setting

SECOND_STEP = "/a/accounts/login/second-step/"
TWO_FACTOR = "/a/accounts/two-factor/"
# An address of its own for the lockout test (the others in test_login_protection use .2 to .6).
GUESSER = "127.0.0.7"


def totp_code(otpauth_uri: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this link, now or a number of 30-second steps ahead."""
    secret = parse_qs(urlsplit(otpauth_uri).query)["secret"][0]
    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def set_up_authenticator(site: SiteClient) -> tuple[str, list[str]]:
    """Through the two-factor page: start, read the link, confirm with a code. The link and recovery codes."""
    assert site.post_form(TWO_FACTOR, {"action": "start_totp"}, allow_redirects=False).status_code == 302
    page = site.get(TWO_FACTOR).text
    uri = html.unescape(re.search(r'data-testid="otpauth-uri">([^<]+)<', page)[1])
    assert uri.startswith("otpauth://totp/") and "<svg" in page
    done = site.post_form(TWO_FACTOR, {"action": "confirm_totp", "code": totp_code(uri)})
    assert "Authenticator app set up" in done.text
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.text)
    assert len(codes) == 10
    return uri, codes


@pytest.fixture
def person(admin_site):
    """A new user with an authenticator app set up, and a browser logged in before it was."""
    username, password = unique("otp"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    site = SiteClient(BASE_URL, verify=VERIFY)
    assert site.login(username, password).status_code == 302
    uri, codes = set_up_authenticator(site)
    return {"username": username, "password": password, "id": user_id, "uri": uri, "codes": codes, "site": site}


def test_the_login_asks_for_the_code_and_no_service_sees_the_user_before(person):
    browser = SiteClient(BASE_URL, verify=VERIFY)
    first = browser.login(person["username"], person["password"], next_url="/b/")
    assert first.status_code == 302 and first.headers["Location"] == SECOND_STEP
    assert browser.whoami("a")["authenticated"] is False
    assert browser.whoami("b")["authenticated"] is False
    step = browser.get(SECOND_STEP)
    assert "Log in: second step" in step.text
    done = browser.post_form(SECOND_STEP, {"code": totp_code(person["uri"], steps_ahead=1)}, allow_redirects=False)
    assert done.status_code == 302 and done.headers["Location"] == "/b/"
    assert browser.whoami("b")["username"] == browser.whoami("a")["username"] == person["username"]


def test_a_code_works_once_and_a_recovery_code_once(person):
    code = totp_code(person["uri"], steps_ahead=1)
    first = SiteClient(BASE_URL, verify=VERIFY)
    first.login(person["username"], person["password"])
    assert first.post_form(SECOND_STEP, {"code": code}, allow_redirects=False).status_code == 302
    again = SiteClient(BASE_URL, verify=VERIFY)
    again.login(person["username"], person["password"])
    refused = again.post_form(SECOND_STEP, {"code": code})
    assert "used already" in refused.text and again.whoami("a")["authenticated"] is False
    with_recovery = SiteClient(BASE_URL, verify=VERIFY)
    with_recovery.login(person["username"], person["password"])
    assert with_recovery.post_form(SECOND_STEP, {"code": person["codes"][0]}, allow_redirects=False).status_code == 302
    assert with_recovery.whoami("b")["authenticated"] is True
    kinds = [kind for kind, _ in audit_of(person["username"])]
    assert kinds.count("recovery_code_used") == 1 and "second_factor_failed" in kinds


def test_setting_it_up_logged_out_the_users_other_sessions(admin_site):
    username, password = unique("otp"), new_password()
    create_user_in_admin(admin_site, username, password)
    elsewhere = SiteClient(BASE_URL, verify=VERIFY)
    elsewhere.login(username, password)
    here = SiteClient(BASE_URL, verify=VERIFY)
    here.login(username, password)
    set_up_authenticator(here)
    assert elsewhere.whoami("b")["authenticated"] is False
    assert here.whoami("b")["authenticated"] is True


def test_wrong_codes_lock_like_wrong_passwords_and_are_audited(person):
    limit = int(stack_setting("LOGIN_FAILURE_LIMIT", "5"))
    guesser = browser_at(GUESSER)
    try:
        guesser.login(person["username"], person["password"])
        answers = [guesser.post_form(SECOND_STEP, {"code": f"{n:06d}"}) for n in range(limit)]
        assert [a.status_code for a in answers[:-1]] == [200] * (limit - 1)
        assert answers[-1].status_code == 429 and 'data-testid="locked-out"' in answers[-1].text
        # The right code from there is refused now, and so is the password.
        right = guesser.post_form(SECOND_STEP, {"code": totp_code(person["uri"], steps_ahead=1)})
        assert right.status_code == 429 and guesser.whoami("a")["authenticated"] is False
        kinds = [kind for kind, _ in audit_of(person["username"])]
        assert kinds.count("second_factor_failed") == limit and "locked_out" in kinds
    finally:
        manage("a", "axes_reset_username", person["username"])


def test_an_administrator_resets_it_from_bs_admin(person, admin_site):
    logged_in = SiteClient(BASE_URL, verify=VERIFY)
    logged_in.login(person["username"], person["password"])
    logged_in.post_form(SECOND_STEP, {"code": person["codes"][1]})
    assert logged_in.whoami("a")["authenticated"] is True
    action = {"action": "reset_second_factor", "_selected_action": person["id"], "index": "0"}
    assert admin_site.post_form("/b/admin/sso_shared/user/", action, allow_redirects=False).status_code == 302
    assert logged_in.whoami("a")["authenticated"] is False  # logged out everywhere
    again = SiteClient(BASE_URL, verify=VERIFY)
    answer = again.login(person["username"], person["password"])
    assert answer.status_code == 302 and answer.headers["Location"] == "/a/"  # the password alone now
    kinds = [kind for kind, _ in audit_of(person["username"])]
    assert "second_factor_reset" in kinds


# --- recovery (the stack sends no mail: an administrator's link, a temporary password) -------------


def test_without_mail_the_login_page_says_an_administrator_gives_a_link(site):
    page = site.get("/a/accounts/login/").text
    assert "An administrator can give you a one-time link" in page
    assert site.get("/a/accounts/password_reset/").status_code == 404


def test_an_administrators_one_time_link_sets_a_new_password_and_logs_out_everywhere(admin_site):
    username, password = unique("forgot"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    logged_in = SiteClient(BASE_URL, verify=VERIFY)
    logged_in.login(username, password)
    made = admin_site.post_form(f"/b/admin/sso_shared/user/{user_id}/recovery/", {"do": "reset_link"})
    link = html.unescape(re.search(r'value="([^"]+)" size="100" data-testid="reset-link-value"', made.text)[1])
    assert link.startswith(BASE_URL.rstrip("/") + "/a/accounts/reset/")
    browser = SiteClient(BASE_URL, verify=VERIFY)
    form = browser.get(link)
    assert "Set a new password" in form.text
    chosen = new_password()
    done = browser.post_form(
        urlsplit(form.url).path, {"new_password1": chosen, "new_password2": chosen}, allow_redirects=False
    )
    assert done.status_code == 302 and done.headers["Location"] == "/a/accounts/reset/done/"
    assert logged_in.whoami("b")["authenticated"] is False
    assert SiteClient(BASE_URL, verify=VERIFY).login(username, chosen).status_code == 302
    assert "This link does not work" in SiteClient(BASE_URL, verify=VERIFY).get(link).text
    kinds = [kind for kind, _ in audit_of(username)]
    assert {"reset_link_made", "password_reset", "session_revoked"} <= set(kinds)


def test_a_temporary_password_must_be_changed_first_on_every_service(admin_site):
    username, password = unique("temp"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    shown = admin_site.post_form(f"/a/admin/sso_shared/user/{user_id}/recovery/", {"do": "temporary_password"})
    field = re.search(r'value="([^"]+)" size="30" data-testid="temporary-password-value"', shown.text)
    temporary = html.unescape(field[1])
    browser = SiteClient(BASE_URL, verify=VERIFY)
    assert browser.login(username, temporary).status_code == 302
    held = browser.get("/b/", allow_redirects=False)
    assert held.status_code == 302 and held.headers["Location"] == "/a/accounts/password_change/"
    chosen = new_password()
    changed = browser.post_form(
        "/a/accounts/password_change/",
        {"old_password": temporary, "new_password1": chosen, "new_password2": chosen},
        allow_redirects=False,
    )
    assert changed.status_code == 302
    assert browser.get("/b/", allow_redirects=False).status_code == 200
    assert "temp_password_set" in [kind for kind, _ in audit_of(username)]
