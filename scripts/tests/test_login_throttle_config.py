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


def render(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "LISTEN_PORT": "18999",
        "LISTEN_ADDRESS": "127.0.0.1",
        "SERVER_NAMES": "127.0.0.1",
        "UPSTREAM_A": "127.0.0.1:18998",
        "UPSTREAM_B": "127.0.0.1:18997",
        "STATIC_ROOT_A": str(tmp_path),
        "STATIC_ROOT_B": str(tmp_path),
        "RUN_DIR": str(tmp_path),
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


def test_login_and_password_change_posts_in_flight_are_capped_per_service(tmp_path):
    default = render(tmp_path)
    assert default.returncode == 0, default.stderr
    for path in (
        "/a/accounts/login/",
        "/a/admin/login/",
        "/b/admin/login/",
        "/a/accounts/password_change/",
        "/a/admin/password_change/",
        "/b/admin/password_change/",
    ):
        block = location(default.stdout, path)
        assert "limit_conn sso_login_in_flight 1;" in block, path
        assert "limit_req zone=sso_login burst=20 delay=10;" in block, path
        assert "error_page 429 /_too_many_logins.html;" in block, path
    three = render(tmp_path, LOGIN_REQUESTS_AT_ONCE="3")
    assert "limit_conn sso_login_in_flight 3;" in location(three.stdout, "/b/admin/login/")


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
