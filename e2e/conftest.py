"""The end-to-end suite sees the system only through nginx.

E2E_BASE_URL chooses where (native stack or Docker Compose deployment); users are
created with E2E_STACK's `manage` command, which works against either.
"""

import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from .browser import TIMEOUT_MS, VIEWPORT, Screenshots, launch_chromium
from .client import SiteClient

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = os.environ.get("E2E_BASE_URL", "http://127.0.0.1:8080/")
STACK = os.environ.get("E2E_STACK", str(ROOT / "stack"))
VERIFY = os.environ.get("E2E_CA_BUNDLE", True)
collect_ignore = []
# The HTTPS checks mean something only against a site served over HTTPS.
if not BASE_URL.startswith("https://"):
    collect_ignore.append("test_https.py")
# The native stack's own behaviour, only when ./stack test runs against it.
if os.environ.get("E2E_TARGET") != "native" or "STACK_STATE" not in os.environ:
    collect_ignore.append("test_native_stack.py")
# A second deployment beside the one under test: only when ./stack test gives it ports of its own.
if not os.environ.get("E2E_SECOND_DEPLOYMENT_PORT"):
    collect_ignore.append("test_second_deployment.py")
# The plain-HTTP address of a site served over HTTPS, to check its redirect (HTTPS pass only).
HTTP_URL = os.environ.get("E2E_HTTP_URL", "")
TARGET = os.environ.get("E2E_TARGET", "native")
# A third-party project added to the running native stack, used, backed up, wiped, restored and
# removed (e2e/added_service/): its own pass of ./stack test, after the suite it would disturb.
if os.environ.get("E2E_ADDED_SERVICE") != "1":
    collect_ignore.append("added_service")
# ./stack backup and restore of the deployment ./stack test started (Swarm has neither).
if TARGET not in ("native", "compose") or "STACK_STATE" not in os.environ:
    collect_ignore.append("test_backup_restore_roles.py")
SCHEME = BASE_URL.split("://", 1)[0]
# Where the walkthrough's screenshots go: test artifacts unless told otherwise (./stack screenshots).
ARTIFACTS = ROOT / "e2e" / "artifacts"
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS") or ARTIFACTS / "screenshots" / f"{TARGET}-{SCHEME}")


def manage(service: str, *args: str, env: dict | None = None) -> str:
    result = subprocess.run(
        [STACK, "manage", service, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"manage {service} {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_password() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def base_url() -> str:
    return BASE_URL


@pytest.fixture
def site():
    """A fresh browser with no cookies."""
    return SiteClient(BASE_URL, verify=VERIFY)


@pytest.fixture(scope="session")
def admin_credentials() -> tuple[str, str]:
    username, password = unique("admin"), new_password()
    manage(
        "a",
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        env={"DJANGO_SUPERUSER_PASSWORD": password},
    )
    return username, password


@pytest.fixture
def admin_site(admin_credentials) -> SiteClient:
    client = SiteClient(BASE_URL, verify=VERIFY)
    assert client.login(*admin_credentials).status_code == 302
    return client


def create_user_in_admin(admin_site: SiteClient, username: str, password: str, service: str = "a") -> str:
    """Add a user through the admin's form, as an administrator would; returns the new user's id."""
    response = admin_site.post_form(
        f"/{service}/admin/sso_shared/user/add/",
        {"username": username, "usable_password": "true", "password1": password, "password2": password},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:2000]
    match = re.search(r"/admin/sso_shared/user/([0-9a-f-]{36})/change/", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


@pytest.fixture
def make_user(admin_site):
    def make(prefix: str = "user") -> tuple[str, str]:
        username, password = unique(prefix), new_password()
        create_user_in_admin(admin_site, username, password)
        return username, password

    return make


@pytest.fixture
def user(make_user) -> tuple[str, str]:
    return make_user()


# --- a real browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, once per test session; trusts E2E_CA_BUNDLE when one is given."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, ca_bundle=VERIFY if isinstance(VERIFY, str) else None)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(browser):
    """A fresh browser profile: no cookies, one person."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


@pytest.fixture
def csp_violations(browser_context) -> list[str]:
    """What Chromium refused under the Content-Security-Policy, in any tab of the profile; a test
    asserts it empty at its end (Chromium reports each refusal as a console error)."""
    refused = []

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(f"{message.location.get('url')}: {message.text}")

    browser_context.on("console", on_console)
    return refused


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    return Screenshots(SCREENSHOTS)
