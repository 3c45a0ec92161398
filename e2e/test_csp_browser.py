"""Both admins work in a real browser under the Content-Security-Policy (`default-src 'self'`).

The admin's own pages run scripts and styles from the site's static files only; a script the
policy blocked would leave the widgets below dead, and Chromium would report the refusal.
"""

import re
from urllib.parse import urljoin

from playwright.sync_api import Page, expect

from .conftest import BASE_URL


def test_both_admins_work_under_the_content_security_policy(page: Page, admin_credentials, csp_violations):
    username, password = admin_credentials
    page.goto(urljoin(BASE_URL, "/a/accounts/login/?next=/a/admin/sso_shared/user/"))
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(urljoin(BASE_URL, "/a/admin/sso_shared/user/"))

    # "Select all" and its counter are the admin's actions.js.
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_have_text(re.compile(r"^(\d+) of \1 selected$"))

    # The colour theme switch is theme.js; the stylesheet answers to the theme it sets.
    page.goto(urljoin(BASE_URL, "/b/admin/"))
    html = page.locator("html")
    before = html.get_attribute("data-theme")
    page.locator("button.theme-toggle").first.click()
    expect(html).not_to_have_attribute("data-theme", before or "")
    expect(page.locator("#header")).to_be_visible()

    assert csp_violations == []
