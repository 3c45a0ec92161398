"""nginx/render-config.sh and the login throttle: every login page throttled, settings checked, nginx accepts it.

The throttle's behaviour through a running nginx: e2e/test_login_protection.py.
"""

import re
import shutil
import subprocess

import pytest

from .conftest import ROOT

RENDER = ROOT / "nginx" / "render-config.sh"
# The logins, the login's second step (a code) and the password reset by mail.
LOGIN_PAGES = [
    "/a/accounts/login/",
    "/a/accounts/login/second-step/",
    "/a/accounts/password_reset/",
    "/a/admin/login/",
    "/b/admin/login/",
]
# Those where a password is checked at login (sso_shared.login_protection.login_gate): the only ones whose
# refusals nginx keeps.
PASSWORD_LOGIN_PAGES = ["/a/accounts/login/", "/a/admin/login/", "/b/admin/login/"]


def render(tmp_path, pages_for: list[str] | None = None, **settings: str) -> subprocess.CompletedProcess:
    # Each service's page for when it does not answer (nginx/render-unavailable-pages.py writes them).
    pages = tmp_path / "unavailable"
    pages.mkdir(exist_ok=True)
    for service in settings.get("SERVICES", "a b").split() if pages_for is None else pages_for:
        (pages / f"{service}.html").touch()
    env = {
        "PATH": "/usr/bin:/bin",
        "LISTEN_PORT": "18999",
        "LISTEN_ADDRESS": "127.0.0.1",
        "SERVER_NAMES": "127.0.0.1",
        "UPSTREAM_A": "127.0.0.1:18998",
        "UPSTREAM_B": "127.0.0.1:18997",
        "UPSTREAM_A_LOGIN": "127.0.0.1:18996",
        "STATIC_ROOT_A": str(tmp_path),
        "STATIC_ROOT_B": str(tmp_path),
        "RUN_DIR": str(tmp_path),
        "UNAVAILABLE_PAGES": str(pages),
        "ERROR_LOG": str(tmp_path / "error.log"),
        "ACCESS_LOG": str(tmp_path / "access.log"),
        **settings,
    }
    return subprocess.run([str(RENDER)], env=env, capture_output=True, text=True, timeout=30)


def location(config: str, path: str) -> str:
    match = re.search(r"location = " + re.escape(path) + r" \{(.*?)\n        \}", config, re.S)
    assert match, f"no exact location for {path}"
    return match.group(1)


def test_every_login_page_is_throttled_with_the_default_settings(tmp_path):
    result = render(tmp_path)
    assert result.returncode == 0, result.stderr
    config = result.stdout
    assert "limit_req_zone $login_throttle_key zone=sso_login:10m rate=2r/s;" in config
    assert '"~^POST:" $binary_remote_addr;' in config  # only POSTs have a key
    for path in LOGIN_PAGES:
        block = location(config, path)
        assert "limit_req zone=sso_login burst=20 delay=10;" in block
        assert "error_page 429 /_too_many_logins.html;" in block
    assert (ROOT / "nginx" / "errors" / "too-many-logins.html").is_file()
    assert f"alias {ROOT / 'nginx' / 'errors'}/too-many-logins.html;" in config


def test_the_settings_reach_the_config(tmp_path):
    result = render(tmp_path, LOGIN_THROTTLE_RATE="30r/m", LOGIN_THROTTLE_BURST="7")
    assert result.returncode == 0, result.stderr
    assert "rate=30r/m;" in result.stdout
    assert "limit_req zone=sso_login burst=7 delay=3;" in location(result.stdout, "/b/admin/login/")
    smallest = render(tmp_path, LOGIN_THROTTLE_BURST="1")
    assert "limit_req zone=sso_login burst=1;" in location(smallest.stdout, "/a/accounts/login/")


A_FORMS = ["/a/accounts/login/", "/a/admin/login/", "/a/accounts/password_change/", "/a/admin/password_change/"]
B_FORMS = ["/b/admin/login/", "/b/admin/password_change/"]


def test_login_and_password_change_posts_in_flight_are_capped_per_service_and_per_address(tmp_path):
    default = render(tmp_path)
    assert default.returncode == 0, default.stderr
    for path in A_FORMS + B_FORMS:
        block = location(default.stdout, path)
        assert "limit_req zone=sso_login burst=20 delay=10;" in block, path
        assert "limit_conn sso_login_per_address 2;" in block, path
        assert "error_page 429 /_too_many_logins.html;" in block, path
    for path in A_FORMS:  # on A's login workers, LOGIN_REQUESTS_AT_ONCE
        assert "limit_conn sso_login_in_flight 64;" in location(default.stdout, path), path
    for path in B_FORMS:  # B has no login workers: one at a time, a worker of B always left for pages
        assert "limit_conn sso_login_in_flight 1;" in location(default.stdout, path), path
    three = render(tmp_path, LOGIN_REQUESTS_AT_ONCE="3")
    assert "limit_conn sso_login_in_flight 3;" in location(three.stdout, "/a/accounts/login/")
    assert "limit_conn sso_login_in_flight 1;" in location(three.stdout, "/b/admin/login/")


def test_as_posts_that_check_a_password_go_to_its_login_workers_and_the_forms_to_its_workers(tmp_path):
    config = render(tmp_path).stdout
    assert "upstream system_a_login { server 127.0.0.1:18996; }" in config  # no keepalive: see the template
    assert re.search(
        r"map \$request_method \$sso_upstream_a_password_forms \{\s+POST\s+\$sso_upstream_a_login;"
        r"\s+default \$sso_upstream_a;\s+\}",
        config,
    )
    for path in A_FORMS:
        assert "proxy_pass http://$sso_upstream_a_password_forms;" in location(config, path), path
    for path in B_FORMS:
        assert "proxy_pass http://$sso_upstream_b;" in location(config, path), path
    # Every other page of A goes to A's workers.
    assert "proxy_pass http://$sso_upstream_a;" in re.search(r"location /a/ \{(.*?)\n        \}", config, re.S)[1]
    # Under Swarm, the login workers of every replica, looked up like A's.
    swarm = render(tmp_path, UPSTREAM_RESOLVER="127.0.0.11", UPSTREAM_A_LOGIN="tasks.system_a:8001").stdout
    assert 'map "" $sso_upstream_a_login { default tasks.system_a:8001; }' in swarm


def test_only_login_posts_may_be_answered_from_nginxs_keep_of_refusals(tmp_path):
    """The lockout page of an address locked for every username, kept per address, page and method."""
    config = render(tmp_path).stdout
    assert "proxy_cache_path " + str(tmp_path) + "/login_refusals " in config
    for path in PASSWORD_LOGIN_PAGES:
        block = location(config, path)
        assert "proxy_cache sso_login_refusals;" in block, path
        assert 'proxy_cache_key "$request_method $uri $binary_remote_addr";' in block, path
        assert "proxy_no_cache $sso_not_a_post;" in block and "proxy_cache_bypass $sso_not_a_post;" in block, path
    for path in [
        "/a/accounts/password_change/",
        "/a/admin/password_change/",
        "/b/admin/password_change/",
        "/a/accounts/login/second-step/",
        "/a/accounts/password_reset/",
    ]:
        assert "proxy_cache" not in location(config, path), path
    assert config.count("proxy_cache sso_login_refusals;") == len(PASSWORD_LOGIN_PAGES)


def test_the_login_workers_address_is_required(tmp_path):
    result = render(tmp_path, UPSTREAM_A_LOGIN="")
    assert result.returncode != 0 and "UPSTREAM_A_LOGIN" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("LOGIN_THROTTLE_RATE", "fast"),
        ("LOGIN_THROTTLE_RATE", "0r/s"),
        ("LOGIN_THROTTLE_RATE", "5r/h"),
        ("LOGIN_THROTTLE_BURST", "-1"),
        ("LOGIN_THROTTLE_BURST", "ten"),
        ("LOGIN_THROTTLE_BURST", "08"),
        ("LOGIN_THROTTLE_BURST", "0"),  # nginx refuses burst=0
        ("LOGIN_REQUESTS_AT_ONCE", "0"),
        ("LOGIN_REQUESTS_AT_ONCE", "many"),
    ],
)
def test_a_bad_setting_stops_rendering_with_a_clear_error(tmp_path, setting, value):
    result = render(tmp_path, **{setting: value})
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"render-config.sh: {setting} must be" in result.stderr and f"'{value}'" in result.stderr


@pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx binary here to check the rendered configuration")
def test_nginx_accepts_the_rendered_config(tmp_path):
    result = render(tmp_path, LOGIN_THROTTLE_BURST="1")  # the smallest: no delay= (nginx refuses delay=0)
    assert result.returncode == 0, result.stderr
    (tmp_path / "nginx.conf").write_text(result.stdout)
    check = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "error_log stderr;"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
