"""nginx/render-config.sh renders each declared service's locations and upstream from one template each."""

import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT
from .test_login_throttle_config import location, render

PAGES = ROOT / "nginx" / "render-unavailable-pages.py"


def prefix_location(config: str, prefix: str) -> str:
    match = re.search(r"location " + re.escape(prefix) + r" \{(.*?)\n        \}", config, re.S)
    assert match, f"no prefix location for {prefix}"
    return match.group(1)


WIKI = {"SERVICES": "a b wiki", "UPSTREAM_WIKI": "127.0.0.1:18995", "STATIC_ROOT_WIKI": "/srv/wiki-static"}


def test_a_third_service_gets_its_prefix_static_files_admin_login_and_upstream(tmp_path):
    result = render(tmp_path, **WIKI)
    assert result.returncode == 0, result.stderr
    config = result.stdout
    assert "location = /wiki { return 301 /wiki/; }" in config
    assert "alias /srv/wiki-static/;" in prefix_location(config, "/wiki/static/")
    pages = prefix_location(config, "/wiki/")
    assert 'if ($request_uri !~ "^/wiki/") { return 400; }' in pages  # nothing outside its prefix reaches it
    assert "proxy_pass http://$sso_upstream_wiki;" in pages
    assert "error_page 502 503 504 /_unavailable/wiki.html;" in pages
    admin_login = location(config, "/wiki/admin/login/")
    assert "limit_conn sso_login_in_flight 1;" in admin_login and "proxy_pass http://$sso_upstream_wiki;" in admin_login
    assert "upstream system_wiki { server 127.0.0.1:18995; keepalive 16; }" in config
    assert '"~^POST:.*:/wiki/"  "wiki";' in config  # its own key: one login POST in flight
    # Under Swarm, looked up at request time like the others.
    swarm = render(tmp_path, **WIKI, UPSTREAM_RESOLVER="127.0.0.11").stdout
    assert 'map "" $sso_upstream_wiki { default 127.0.0.1:18995; }' in swarm


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SERVICES": "a b wiki"}, "UPSTREAM_WIKI is not set: where System WIKI's gunicorn listens"),
        ({**WIKI, "STATIC_ROOT_WIKI": ""}, "STATIC_ROOT_WIKI is not set"),
        ({"SERVICES": "b"}, "SERVICES='b' must name a, which serves the login pages"),
        ({"SERVICES": "a B"}, "SERVICES: 'B' cannot name a service"),
        ({"SERVICES": "a b-2"}, "SERVICES: 'b-2' cannot name a service"),
    ],
)
def test_a_service_without_its_settings_is_refused_by_name(tmp_path, settings, message):
    result = render(tmp_path, **settings)
    assert result.returncode == 2 and message in result.stderr


def test_a_service_without_its_unavailable_page_is_refused(tmp_path):
    result = render(tmp_path, pages_for=["a", "b"], **WIKI)
    assert result.returncode == 2
    assert "no wiki.html in" in result.stderr and "render-unavailable-pages.py" in result.stderr


def test_each_declared_service_gets_its_unavailable_page_from_the_one_template(tmp_path):
    declaration = tmp_path / "services.toml"
    declaration.write_text(
        "".join(
            f'[services.{name}]\ntitle = "{title}"\nproject = "p{name}"\nsettings = "s"\nrequirements = "r"\n'
            for name, title in [("a", "System A · Intake"), ("b", "System B · Review"), ("wiki", "Wiki <&> notes")]
        )
    )
    out = tmp_path / "pages"
    out.mkdir()
    (out / "gone.html").write_text("a service no longer declared")
    written = subprocess.run(
        [sys.executable, "-I", str(PAGES), str(out)],
        env={"PATH": "/usr/bin:/bin", "SSO_SERVICES_FILE": str(declaration)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert written.returncode == 0, written.stderr
    assert sorted(page.name for page in out.iterdir()) == ["a.html", "b.html", "wiki.html"]
    wiki = (out / "wiki.html").read_text()
    assert "<h1>Wiki &lt;&amp;&gt; notes is not available right now</h1>" in wiki
    assert '<a class="brand" href="/wiki/"><span class="badge">WIKI</span>' in wiki
    assert 'href="/wiki/static/sso_shared/site.css"' in wiki
    assert '<a href="/a/">System A · Intake</a>, <a href="/b/">System B · Review</a> work as usual.' in wiki
    a = (out / "a.html").read_text()
    assert '<a class="other-service" href="/wiki/">Go to Wiki &lt;&amp;&gt; notes →</a>' in a
    assert "System A · Intake is not available right now" in a and "$" not in a


def test_a_broken_declaration_writes_no_page(tmp_path):
    declaration = tmp_path / "services.toml"
    declaration.write_text("[services.nginx]\n")
    out = tmp_path / "pages"
    written = subprocess.run(
        [sys.executable, "-I", str(PAGES), str(out)],
        env={"PATH": "/usr/bin:/bin", "SSO_SERVICES_FILE": str(declaration)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert written.returncode == 1 and "nginx names a part of the deployment itself" in written.stderr
    assert not out.exists()


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_accepts_the_configuration_of_three_services(tmp_path):
    (tmp_path / "logs").mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(render(tmp_path, **WIKI).stdout)
    checked = subprocess.run(
        ["nginx", "-t", "-q", "-c", str(config), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
