"""The single sign-on walkthrough in a real browser, each step checked on what the page shows.

What requests cannot check is checked here: cookie flags as the browser stores
them, CSRF on the real forms, the redirects a browser follows. Each step leaves a
screenshot (test artifacts; README pictures with `./stack screenshots`).
"""

import json
import re
import secrets
from urllib.parse import urljoin, urlsplit, urlunsplit

from playwright.sync_api import BrowserContext, Page, expect

from .browser import VIEWPORT
from .client import SESSION_COOKIE
from .conftest import BASE_URL

LOGIN_ERROR = "Your username and password didn't match"


def url(path: str) -> str:
    return urljoin(BASE_URL, path)


def login_page_for(next_path: str) -> re.Pattern:
    return re.compile(re.escape(url(f"/a/accounts/login/?next={next_path}")) + "$")


def log_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_logged_out_login_page(page: Page) -> None:
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_test_id("anonymous")).to_have_text("Not logged in")
    expect(page.get_by_test_id("username")).to_have_count(0)


def expect_logged_in_as(page: Page, service: str, username: str) -> None:
    expect(page).to_have_url(url(f"/{service}/"))
    expect(page.locator("body")).to_have_class(re.compile(rf"\bservice-{service}\b"))
    expect(page.get_by_test_id("username")).to_have_text(username)
    expect(page.get_by_test_id("greeting")).to_have_text(username)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)


def expect_record_owned_by(page: Page, title: str, username: str) -> None:
    row = page.get_by_test_id("records").locator("tr").filter(has=page.locator("td.title", has_text=title))
    expect(row.locator("td.owner")).to_have_text(username)


def session_cookie(context: BrowserContext) -> dict | None:
    return next((cookie for cookie in context.cookies() if cookie["name"] == SESSION_COOKIE), None)


def test_one_login_for_both_services(
    page: Page, browser_context: BrowserContext, make_user, screenshots, csp_violations
):
    username, password = make_user("alice")
    subject = f"Laptop for the new starter #{secrets.token_hex(2)}"

    # Logged out, B sends the browser to the one login page, on A.
    page.goto(url("/b/"))
    expect(page).to_have_url(login_page_for("/b/"))
    expect_logged_out_login_page(page)
    screenshots.take(page, "01-b-sends-you-to-the-login-on-a")

    # Logging in there brings the browser back to B, which knows the user.
    log_in(page, username, password)
    expect_logged_in_as(page, "b", username)
    screenshots.take(page, "02-back-on-b-logged-in")

    # One cookie for the whole site, out of reach of scripts, not sent by other sites' requests.
    cookie = session_cookie(browser_context)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["secure"] is BASE_URL.startswith("https://")
    assert SESSION_COOKIE not in page.evaluate("document.cookie")

    # The header's link to A: the same user, no second login.
    page.get_by_role("link", name=re.compile(r"^Go to System A")).click()
    expect_logged_in_as(page, "a", username)
    screenshots.take(page, "03-a-knows-the-same-user")

    # A record filed on A through its form shows its owner.
    page.get_by_label("Title").fill(subject)
    page.get_by_label("Details").fill("A 14-inch laptop with a docking station, from Monday.")
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator(".messages")).to_contain_text(f"Request “{subject}” recorded.")
    expect_record_owned_by(page, subject, username)
    screenshots.take(page, "04-request-filed-on-a")

    # And one recorded on B.
    page.get_by_role("link", name=re.compile(r"^Go to System B")).click()
    expect_logged_in_as(page, "b", username)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Verdict").select_option(label="Approved")
    page.get_by_label("Note").fill("Within budget.")
    page.get_by_role("button", name="Record review").click()
    expect(page.locator(".messages")).to_contain_text(f"Review of “{subject}” recorded.")
    expect_record_owned_by(page, subject, username)
    screenshots.take(page, "05-review-recorded-on-b")

    # Log out on A in a second tab ...
    tab_a = browser_context.new_page()
    tab_a.goto(url("/a/"))
    expect_logged_in_as(tab_a, "a", username)
    tab_a.get_by_role("button", name="Log out").click()
    expect(tab_a).to_have_url(url("/a/accounts/login/"))
    expect_logged_out_login_page(tab_a)
    screenshots.take(tab_a, "06-logged-out-on-a")
    assert session_cookie(browser_context) is None

    # ... and B's tab, reloaded, is logged out too: back to the login page.
    page.reload()
    expect(page).to_have_url(login_page_for("/b/"))
    expect_logged_out_login_page(page)
    screenshots.take(page, "07-b-after-logout-on-a")

    # Every page above worked under the Content-Security-Policy, with nothing refused.
    assert csp_violations == []


def test_a_wrong_password_shows_the_error_and_sets_no_session(
    page: Page, browser_context: BrowserContext, user, screenshots
):
    username, _ = user
    page.goto(url("/a/accounts/login/"))
    log_in(page, username, "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text(LOGIN_ERROR)
    expect(page).to_have_url(url("/a/accounts/login/"))
    expect_logged_out_login_page(page)
    expect(page.get_by_label("Username", exact=True)).to_have_value(username)
    screenshots.take(page, "08-wrong-password")

    assert session_cookie(browser_context) is None
    page.goto(url("/b/whoami"))
    assert json.loads(page.locator("body").inner_text())["authenticated"] is False


def test_your_sessions_ends_another_browsers_session_on_a_and_b(
    browser, page: Page, make_user, screenshots, csp_violations
):
    username, password = make_user("dora")

    # Logged in on A here ...
    page.goto(url("/a/"))
    log_in(page, username, password)
    expect_logged_in_as(page, "a", username)

    # ... and on B in a second browser (another profile: cookies of its own).
    other_browser = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    try:
        other = other_browser.new_page()
        other.goto(url("/b/"))
        log_in(other, username, password)
        expect_logged_in_as(other, "b", username)

        # The header leads to "Your sessions": this one first, the other browser's below it.
        page.get_by_role("link", name="Your sessions").click()
        expect(page).to_have_url(url("/a/accounts/sessions/"))
        sessions = page.get_by_test_id("sessions").locator("tbody tr")
        expect(sessions).to_have_count(2)
        expect(sessions.nth(0)).to_have_class("current")
        expect(sessions.nth(0).locator("td.action")).to_have_text("This session")
        expect(sessions.nth(0).locator("td.service")).to_have_text("System A · Intake")
        expect(sessions.nth(1).locator("td.service")).to_have_text("System B · Review")
        for row in (sessions.nth(0), sessions.nth(1)):
            expect(row.locator("td.browser")).to_contain_text(re.compile(r"Chrom\w* on Linux"))
            expect(row.locator("td.address")).to_have_text(re.compile(r"^[0-9a-f.:]+$"))
            expect(row.locator("td.last-seen")).to_have_text(re.compile(r"ago$"))
        screenshots.take(page, "09-your-sessions")

        # Ending the other browser's session ...
        sessions.nth(1).get_by_role("button", name="End").click()
        expect(page.locator(".messages")).to_contain_text("Session ended: that browser is logged out of every service.")
        expect(sessions).to_have_count(1)

        # ... logs it out of B and of A at once.
        other.reload()
        expect(other).to_have_url(login_page_for("/b/"))
        expect_logged_out_login_page(other)
        other.goto(url("/a/"))
        expect(other).to_have_url(login_page_for("/a/"))
        expect_logged_out_login_page(other)
    finally:
        other_browser.close()

    # This browser is still logged in on both.
    page.goto(url("/b/"))
    expect_logged_in_as(page, "b", username)
    assert csp_violations == []


# --- the second factor: an authenticator app, then a passkey ------------------------------------


def totp_code(otpauth_uri: str, steps_ahead: int = 0) -> str:
    from .test_second_factor import totp_code as code

    return code(otpauth_uri, steps_ahead)


def on_localhost(path: str) -> str:
    """The same site by its name: passkeys need one (an IP address cannot be a WebAuthn relying party)."""
    parts = urlsplit(BASE_URL)
    return urljoin(urlunsplit(parts._replace(netloc=f"localhost:{parts.port}")), path)


def add_virtual_authenticator(context: BrowserContext, page: Page) -> None:
    """Chromium's virtual authenticator (DevTools' WebAuthn domain): a platform passkey store that says yes."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def test_two_factor_set_up_a_login_with_a_code_and_one_with_a_passkey(
    browser, page: Page, browser_context: BrowserContext, make_user, screenshots, csp_violations
):
    username, password = make_user("erin")
    page.goto(url("/a/"))
    log_in(page, username, password)
    expect_logged_in_as(page, "a", username)

    # The header's "Two-factor" link; set up an authenticator app: the link as text and as a QR code.
    page.get_by_role("link", name="Two-factor").click()
    expect(page).to_have_url(url("/a/accounts/two-factor/"))
    expect(page.get_by_test_id("second-factor-status")).to_contain_text("off")
    page.get_by_role("button", name="Set up an authenticator app").click()
    uri = page.get_by_test_id("otpauth-uri").inner_text()
    assert uri.startswith("otpauth://totp/")
    expect(page.get_by_test_id("authenticator").locator("svg")).to_be_visible()
    screenshots.take(page, "10-two-factor-set-up")

    # Confirmed with the app's code: the recovery codes, shown this once.
    page.get_by_label("Code the app shows now").fill(totp_code(uri))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".messages")).to_contain_text("Authenticator app set up")
    expect(page.get_by_test_id("second-factor-status")).to_contain_text("on")
    codes = page.get_by_test_id("recovery-codes").locator("li code")
    expect(codes).to_have_count(10)
    recovery_code = codes.nth(0).inner_text()
    screenshots.take(page, "11-recovery-codes-shown-once")
    page.reload()
    expect(page.get_by_test_id("recovery-codes")).to_have_count(0)

    # Logged out, the login asks for a code after the password; B knows nobody until then.
    page.get_by_role("button", name="Log out").click()
    page.goto(url("/b/"))
    log_in(page, username, password)
    expect(page).to_have_url(url("/a/accounts/login/second-step/"))
    expect(page.get_by_test_id("anonymous")).to_have_text("Not logged in")
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(totp_code(uri, steps_ahead=1))
    screenshots.take(page, "12-second-step-a-code")
    page.get_by_role("button", name="Log in").click()
    expect_logged_in_as(page, "b", username)

    # A passkey: the site opened by its name, Chromium's virtual authenticator answering.
    passkey_page = browser_context.new_page()
    add_virtual_authenticator(browser_context, passkey_page)
    passkey_page.goto(on_localhost("/a/"))
    log_in(passkey_page, username, password)
    passkey_page.get_by_label("Code from your authenticator app, or a recovery code").fill(recovery_code)
    passkey_page.get_by_role("button", name="Log in").click()
    expect(passkey_page.get_by_test_id("username")).to_have_text(username)
    passkey_page.goto(on_localhost("/a/accounts/two-factor/"))
    passkey_page.get_by_role("button", name="Add a passkey").click()
    expect(passkey_page.get_by_test_id("passkey")).to_have_count(1)
    screenshots.take(passkey_page, "13-passkey-added")

    # Logged out, the passkey answers the second step.
    passkey_page.get_by_role("button", name="Log out").click()
    passkey_page.goto(on_localhost("/b/"))
    log_in(passkey_page, username, password)
    expect(passkey_page.get_by_role("button", name="Use a passkey")).to_be_visible()
    screenshots.take(passkey_page, "14-second-step-a-passkey")
    passkey_page.get_by_role("button", name="Use a passkey").click()
    expect(passkey_page).to_have_url(on_localhost("/b/"))
    expect(passkey_page.get_by_test_id("username")).to_have_text(username)
    assert csp_violations == []
