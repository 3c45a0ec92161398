"""One login for two services, through nginx, against the running stack."""

import re

import pytest
import requests

from .client import SiteClient
from .conftest import BASE_URL, VERIFY, create_user_in_admin, new_password, unique


def test_login_on_a_makes_the_same_user_known_on_b(site, user):
    username, password = user
    assert site.login(username, password).status_code == 302
    assert site.whoami("a") == {"service": "a", "authenticated": True, "username": username}
    assert site.whoami("b") == {"service": "b", "authenticated": True, "username": username}


def test_anonymous_visit_to_b_goes_to_login_on_a_and_comes_back(site, user):
    username, password = user
    first = site.get("/b/", allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"] == "/a/accounts/login/?next=/b/"

    login_page = site.get(first.headers["Location"])
    assert 'name="next" value="/b/"' in login_page.text

    answer = site.login(username, password, next_url="/b/")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/b/"
    landing = site.get("/b/")
    assert landing.url == BASE_URL.rstrip("/") + "/b/"
    assert f'<span class="username" data-testid="username">{username}</span>' in landing.text


def test_logout_on_b_logs_out_of_both_services(site, user):
    site.login(*user)
    assert site.whoami("a")["authenticated"] is True
    response = site.logout("b")
    assert response.status_code == 302
    assert site.whoami("a") == {"service": "a", "authenticated": False, "username": None}
    assert site.whoami("b") == {"service": "b", "authenticated": False, "username": None}


def test_logout_is_refused_as_a_get(site, user):
    site.login(*user)
    assert site.get("/b/accounts/logout/").status_code == 405
    assert site.whoami("b")["authenticated"] is True


def test_password_change_on_a_logs_out_other_sessions_everywhere(user):
    username, password = user
    changer, other = SiteClient(BASE_URL, verify=VERIFY), SiteClient(BASE_URL, verify=VERIFY)
    changer.login(username, password)
    other.login(username, password)
    old_cookie = other.session_cookie
    assert old_cookie and old_cookie != changer.session_cookie
    assert other.whoami("b")["authenticated"] is True

    changed = new_password()
    response = changer.post_form(
        "/a/accounts/password_change/",
        {"old_password": password, "new_password1": changed, "new_password2": changed},
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/a/accounts/password_change/done/"

    assert changer.whoami("a")["authenticated"] is True
    assert changer.whoami("b")["authenticated"] is True
    stale = SiteClient(BASE_URL, verify=VERIFY)
    stale.http.cookies.set("sso_sessionid", old_cookie)
    assert stale.whoami("a")["authenticated"] is False
    assert stale.whoami("b")["authenticated"] is False
    assert SiteClient(BASE_URL, verify=VERIFY).login(username, changed).status_code == 302


def test_a_user_created_in_as_admin_works_on_b_and_owns_what_they_record(admin_site, site):
    username, password = unique("clerk"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    site.login(username, password, next_url="/b/")
    subject = unique("subject")
    response = site.post_form("/b/", {"subject": subject, "verdict": "approved", "note": "fine"})
    assert response.status_code == 200
    row = re.search(rf'<td class="title">{subject}</td>.*?<td class="owner">([^<]*)</td>', response.text, re.S)
    assert row and row.group(1) == username

    listing = admin_site.get(f"/b/admin/review/review/?q={subject}")
    assert listing.status_code == 200
    change_link = re.search(r'href="(/b/admin/review/review/\d+/change/)[^"]*"', listing.text).group(1)
    change = admin_site.get(change_link)
    assert re.search(rf'name="reviewer" value="{user_id}"', change.text)


@pytest.mark.parametrize("service", ["a", "b"])
def test_static_files_of_each_admin_load_under_its_prefix(admin_site, service):
    page = admin_site.get(f"/{service}/admin/")
    assert page.status_code == 200
    assert f'href="/{service}/static/admin/css/base.css"' in page.text
    css = admin_site.get(f"/{service}/static/admin/css/base.css")
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "X-Request-ID" not in css.headers  # served by nginx, not proxied to Django


def test_a_hostile_next_url_is_ignored(site, user):
    response = site.login(*user, next_url="https://evil.example/steal")
    assert response.status_code == 302
    assert response.headers["Location"] == "/a/"


def test_a_wrong_password_sets_no_session(site, user):
    username, _ = user
    response = site.login(username, "not-the-password")
    assert response.status_code == 200
    assert "didn&#x27;t match" in response.text or "didn't match" in response.text
    assert site.session_cookie is None
    assert site.whoami("b")["authenticated"] is False


def test_a_tampered_session_cookie_is_anonymous_not_an_error(site, user):
    site.login(*user)
    site.http.cookies.set("sso_sessionid", site.session_cookie[:-4] + "abcd")
    assert site.whoami("a")["authenticated"] is False
    assert site.get("/b/", allow_redirects=False).status_code == 302


def test_unknown_host_names_get_no_answer(base_url):
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "a/whoami", headers={"Host": "attacker.example"}, timeout=5, verify=VERIFY)
