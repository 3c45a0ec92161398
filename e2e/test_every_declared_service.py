"""What every service services.toml declares gives, whoever wrote it: the one login and logout, its
health, its static files and its admin behind the one login. Parametrised by the declaration, so a
service added with ./stack add-service is checked like A and B."""

import os
from pathlib import Path

import pytest

from sso_shared.environment.services import read_declaration

from .conftest import ROOT

# The deployment's declaration: this checkout's, which its images and native stack were made from.
SERVICES = list(read_declaration(Path(os.environ.get("SSO_SERVICES_FILE") or ROOT / "services.toml")))


@pytest.mark.parametrize("service", SERVICES)
def test_a_login_on_a_is_known_there_and_a_logout_on_a_ends_it_there(site, user, service):
    username, password = user
    assert site.login(username, password).status_code == 302
    assert site.whoami(service) == {"service": service, "authenticated": True, "username": username}
    assert site.logout("a").status_code == 302
    assert site.whoami(service) == {"service": service, "authenticated": False, "username": None}


@pytest.mark.parametrize("service", SERVICES)
def test_its_health_and_static_files_answer_under_its_prefix(site, service):
    health = site.get(f"/{service}/health")
    assert health.status_code == 200 and health.json()["service"] == service and health.json()["ok"] is True
    stylesheet = site.get(f"/{service}/static/sso_shared/site.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize("service", SERVICES)
def test_its_admin_asks_for_the_one_login_and_comes_back(site, admin_credentials, service):
    anonymous = site.get(f"/{service}/admin/")
    assert anonymous.url.endswith(f"/a/accounts/login/?next=/{service}/admin/"), anonymous.url
    assert site.login(*admin_credentials, next_url=f"/{service}/admin/").headers["Location"] == f"/{service}/admin/"
    landing = site.get(f"/{service}/admin/")
    assert landing.status_code == 200 and landing.url.endswith(f"/{service}/admin/")


@pytest.mark.parametrize("service", SERVICES)
def test_a_logged_in_user_without_admin_rights_is_told_so_without_a_loop(site, user, service):
    username, password = user
    site.login(username, password)
    refused = site.get(f"/{service}/admin/")
    # (requests gives up on a loop after 30 redirects, with an error.) One hop, to the admin's login:
    assert [answer.status_code for answer in refused.history] == [302], refused.url
    assert f"You are authenticated as {username}, but are not authorized to access this page." in refused.text
    assert site.whoami(service)["authenticated"] is True
