"""services.toml declares the services once; a declaration that cannot be one is one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sso_shared.environment import services
from sso_shared.environment.services import ServicesDeclarationError, declaration_path, read_declaration

ROOT = Path(__file__).resolve().parents[2]
READER = Path(services.__file__)
SYSTEM_PYTHON = "/usr/bin/python3"
GOOD = """
[services.a]
title = "System A · Intake"
project = "system_a"
settings = "config.settings"
requirements = "requirements.txt"

[services.wiki]
title = "The wiki"
project = "wiki_site"
settings = "wiki_site.settings.production"
requirements = "wiki_site/requirements.txt"
"""


def declaration(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(text)
    return path


def test_the_repository_declares_a_and_b_as_the_settings_see_them(settings):
    declared = read_declaration(ROOT / "services.toml")
    assert list(declared) == ["a", "b"]
    assert declared["a"]["title"] == "System A · Intake" and declared["a"]["prefix"] == "/a"
    assert declared["b"]["url"] == "/b/" and declared["b"]["project"] == "system_b"
    assert declared == settings.SSO_SERVICES


def test_each_service_lives_at_its_name_in_the_order_declared(tmp_path):
    declared = read_declaration(declaration(tmp_path, GOOD))
    assert list(declared) == ["a", "wiki"]
    assert declared["wiki"] == {
        "title": "The wiki",
        "project": "wiki_site",
        "settings": "wiki_site.settings.production",
        "requirements": "wiki_site/requirements.txt",
        "url": "/wiki/",
        "prefix": "/wiki",
        "layer": False,
        "access": "everyone",
        "runs_with": "wiki_site.settings.production",
    }


def test_a_project_added_with_add_service_runs_with_the_layer_and_its_access_rule(tmp_path):
    text = GOOD.replace('title = "The wiki"', 'title = "The wiki"\nlayer = true\naccess = "group:Editors"')
    wiki = read_declaration(declaration(tmp_path, text))["wiki"]
    assert wiki["runs_with"] == "sso_shared.added_services.settings"
    assert wiki["settings"] == "wiki_site.settings.production"  # its own, under the layer
    assert wiki["access"] == "group:Editors"


def test_found_above_a_project_folder_unless_the_environment_names_one(tmp_path, monkeypatch):
    path = declaration(tmp_path, GOOD)
    (tmp_path / "wiki_site" / "wiki_site").mkdir(parents=True)
    monkeypatch.delenv("SSO_SERVICES_FILE", raising=False)
    monkeypatch.chdir(tmp_path / "wiki_site" / "wiki_site")
    assert declaration_path() == path
    monkeypatch.setenv("SSO_SERVICES_FILE", str(ROOT / "services.toml"))
    assert declaration_path() == ROOT / "services.toml"


def test_no_declaration_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("SSO_SERVICES_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ServicesDeclarationError, match=f"no services.toml in {tmp_path} or any folder above it"):
        declaration_path()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[services.a\n", "is not valid TOML"),
        ("title = 'x'\n", "declares no service: add a [services.NAME] table"),
        (GOOD.replace("[services.wiki]", "[services.Wiki]"), "[services.Wiki]: a service's name is 1 to 7 lowercase"),
        (GOOD.replace("[services.wiki]", "[services.knowledge]"), "[services.knowledge]: a service's name is 1 to 7"),
        (GOOD.replace("[services.wiki]", "[services.nginx]"), "[services.nginx]: nginx names a part of the deployment"),
        (GOOD.replace('title = "The wiki"\n', ""), "[services.wiki]: title missing"),
        (GOOD.replace('title = "The wiki"', 'title = "The wiki"\nport = 8000'), "[services.wiki]: port unknown"),
        (GOOD.replace('title = "The wiki"', "title = 3"), "[services.wiki]: title must be a non-empty string"),
        (GOOD.replace('"wiki_site"', '"system_a"'), "two services name the same project folder"),
        (GOOD.replace("[services.a]", "[services.intake]"), "does not declare the service a, which serves"),
        (GOOD.replace('title = "The wiki"', 'title = "The wiki"\nlayer = "yes"'), "layer must be true or false"),
        (GOOD.replace('title = "The wiki"', 'title = "The wiki"\naccess = "some"'), 'access must be "everyone" or'),
    ],
    ids=[
        *("not toml", "no service", "capital", "too long", "reserved", "missing", "unknown", "not text"),
        *("same project", "no login service", "layer not a boolean", "unknown access rule"),
    ],
)
def test_a_declaration_that_cannot_be_one_says_what_is_wrong(tmp_path, text, message):
    path = declaration(tmp_path, text)
    with pytest.raises(ServicesDeclarationError) as refused:
        read_declaration(path)
    assert str(path) in str(refused.value) and message in str(refused.value)


def names_read_by_stack(path: Path) -> subprocess.CompletedProcess:
    # As ./stack runs it: the system's Python, isolated, by path.
    return subprocess.run(  # noqa: S603 (arguments written by the tests)
        [SYSTEM_PYTHON, "-I", str(READER), "names"],
        env={"SSO_SERVICES_FILE": str(path)},
        capture_output=True,
        text=True,
    )


def test_stack_reads_the_names_with_the_system_python_alone(tmp_path):
    """./stack runs the reader by path, before any virtual environment exists."""
    listed = names_read_by_stack(declaration(tmp_path, GOOD))
    assert (listed.returncode, listed.stdout) == (0, "a\nwiki\n")
    broken = names_read_by_stack(declaration(tmp_path, "[services.a]\n"))
    assert broken.returncode == 1
    assert broken.stderr.startswith("error: ") and "[services.a]: " in broken.stderr
    assert "Traceback" not in broken.stderr


def service_environment() -> dict[str, str]:
    """What System A's manage.py gets from ./stack (secrets, database), not this test run's settings module."""
    return {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}


def test_manage_py_with_a_broken_declaration_prints_one_line(tmp_path):
    broken = subprocess.run(  # noqa: S603 (arguments written by the tests)
        [sys.executable, "manage.py", "check"],
        cwd=ROOT / "system_a",
        env={**service_environment(), "SSO_SERVICES_FILE": str(declaration(tmp_path, "[services.A]\n"))},
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 1
    assert broken.stderr.startswith("error: ") and broken.stderr.count("\n") == 1, broken.stderr
    assert "[services.A]: a service's name is 1 to 7 lowercase letters and digits" in broken.stderr
