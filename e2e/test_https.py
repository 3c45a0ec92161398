"""The site over HTTPS: the redirect from HTTP, HSTS (error pages too), Secure cookies, unknown hosts.

They are collected only when E2E_BASE_URL is an https:// address (./stack test's
HTTPS pass; see conftest.py); the redirect checks also need E2E_HTTP_URL, the same site's plain-HTTP address.
"""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from .client import CSRF_COOKIE, SESSION_COOKIE, SiteClient
from .conftest import BASE_URL, HTTP_URL, VERIFY
from .raw import RawSite

needs_http_url = pytest.mark.skipif(not HTTP_URL, reason="E2E_HTTP_URL (the site's plain-HTTP address) is not set")


@needs_http_url
def test_plain_http_redirects_to_the_same_page_on_https():
    response = requests.get(HTTP_URL + "a/accounts/login/?next=/b/", allow_redirects=False, timeout=15)
    assert response.status_code == 301
    assert response.headers["Location"] == BASE_URL + "a/accounts/login/?next=/b/"
    assert "Strict-Transport-Security" not in response.headers  # meaningless over HTTP


@needs_http_url
def test_a_browser_that_types_the_http_address_ends_on_https(page: Page):
    page.goto(HTTP_URL + "b/")
    expect(page).to_have_url(BASE_URL + "a/accounts/login/?next=/b/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


@pytest.mark.parametrize("path", ["a/accounts/login/", "b/whoami", "a/static/sso_shared/site.css"])
def test_every_answer_carries_hsts(path):
    # Static files too: nginx drops server-level headers in a location with its own add_header.
    response = requests.get(BASE_URL + path, timeout=15, verify=VERIFY)
    assert response.status_code == 200
    assert re.fullmatch(r"max-age=\d{7,}", response.headers["Strict-Transport-Security"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/index.html", 404),  # nginx's own error page
        ("/a/no-such-page/", 404),  # Django's
        ("//b/", 400),  # a path refused before it reaches a service
        ("/a/%00", 400),  # refused while nginx reads the request line, before it knows the host
        ("/b/" + "x" * 9000, 414),
    ],
)
def test_error_answers_carry_hsts_too(path, status):
    site = RawSite(BASE_URL, verify=VERIFY)
    try:
        answer, headers, _ = site.request("GET", path)
    finally:
        site.close()
    assert answer == status
    assert re.fullmatch(r"max-age=\d{7,}", headers["strict-transport-security"])


def test_session_and_csrf_cookies_are_secure(user):
    site = SiteClient(BASE_URL, verify=VERIFY)
    assert site.login(*user).status_code == 302
    cookies = {cookie.name: cookie for cookie in site.http.cookies}
    assert cookies[SESSION_COOKIE].secure
    assert cookies[CSRF_COOKIE].secure


def test_unknown_host_names_get_no_answer_over_tls():
    with pytest.raises(requests.ConnectionError):
        requests.get(BASE_URL + "a/whoami", headers={"Host": "attacker.example"}, timeout=5, verify=VERIFY)


@needs_http_url
def test_unknown_host_names_are_not_redirected_either():
    with pytest.raises(requests.ConnectionError):
        requests.get(HTTP_URL + "a/whoami", headers={"Host": "attacker.example"}, timeout=5, allow_redirects=False)
