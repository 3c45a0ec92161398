"""What nginx adds to every answer, and what it answers outside the two services."""

import pytest

from .conftest import BASE_URL, VERIFY
from .raw import RawSite


def csp_directives(header: str) -> dict[str, str]:
    pairs = (directive.strip().split(" ", 1) for directive in header.split(";") if directive.strip())
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def assert_strict_csp(response) -> None:
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == "'self'", directives
    assert directives["frame-ancestors"] == "'none'", directives
    # Nothing that would let an injected script or style run.
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert not {"script-src", "style-src"} & directives.keys(), directives


@pytest.mark.parametrize("path", ["/a/accounts/login/", "/b/whoami", "/a/static/sso_shared/site.css", "/index.html"])
def test_anonymous_answers_carry_the_content_security_policy(site, path):
    assert_strict_csp(site.get(path))


@pytest.mark.parametrize("path", ["/a/", "/b/", "/a/admin/", "/b/admin/", "/a/admin/sso_shared/user/"])
def test_pages_of_both_services_and_their_admins_carry_it(admin_site, path):
    response = admin_site.get(path, allow_redirects=False)
    assert response.status_code == 200
    assert_strict_csp(response)


@pytest.mark.parametrize("path", ["/a/static/sso_shared/site.css", "/b/static/admin/js/core.js"])
def test_static_files_are_never_sniffed(site, path):
    response = site.get(path)
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_carry_nosniff_once(site):
    # Django sends it too; nginx hides Django's, so no "nosniff, nosniff".
    assert site.get("/a/accounts/login/").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/index.html", "/favicon.ico", "/c/", "/static/", "/nginx-health", "/50x.html"])
def test_nothing_outside_the_two_services_is_served(site, path):
    response = site.get(path, allow_redirects=False)
    assert response.status_code == 404
    assert "Welcome to nginx" not in response.text


def test_the_bare_domain_still_leads_to_a(site):
    response = site.get("/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/a/"


def test_refused_paths_carry_the_headers_too():
    site = RawSite(BASE_URL, verify=VERIFY)
    try:
        status, headers, _ = site.request("GET", "//b/")
    finally:
        site.close()
    assert status == 400
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
