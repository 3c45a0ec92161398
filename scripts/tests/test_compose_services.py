"""Compose and Swarm run each service services.toml declares: ./stack writes their files from it."""

import json
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

WRITER = ROOT / "scripts" / "compose_services.py"
ENVTOOL = ROOT / "scripts" / "envtool.py"
WIKI = '\n[services.wiki]\ntitle = "The wiki"\nproject = "wiki_site"\nsettings = "s"\nrequirements = "r"\n'
PASSWORDS = {"POSTGRES_PASSWORD": "p" * 20, "SECRET_KEY": "k" * 50}
needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker compose merges the files")


def write(kind: str, declaration, out):
    return subprocess.run(
        [sys.executable, str(WRITER), kind, str(out)],
        env={"SSO_SERVICES_FILE": str(declaration)},
        capture_output=True,
        text=True,
    )


@pytest.fixture
def three_services(tmp_path):
    declaration = tmp_path / "services.toml"
    declaration.write_text((ROOT / "services.toml").read_text() + WIKI)
    return declaration


def merged_config(tmp_path, *files, env=None) -> dict:
    arguments = [option for file in ("compose.yaml", *files) for option in ("-f", str(file))]
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(ROOT), *arguments, "--env-file", "/dev/null"]
        + ["-p", "sso-t", "config", "--format", "json"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **PASSWORDS, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_docker
def test_a_third_declared_service_gets_its_container_password_and_place_in_the_site(tmp_path, three_services):
    services = tmp_path / "compose.services.yaml"
    assert write("compose", three_services, services).returncode == 0
    passwords = {f"SYSTEM_{name}_DB_PASSWORD": name.lower() * 20 for name in ("A", "B", "WIKI")}
    config = merged_config(tmp_path, services, env=passwords)["services"]

    wiki = config["system_wiki"]
    assert wiki["command"] == ["serve", "wiki"]
    assert wiki["image"] == "sso-t/app:dev" and wiki["cap_drop"] == ["ALL"]
    # Its own password and the shared key, nobody else's password.
    assert {secret["source"] for secret in wiki["secrets"]} == {
        "secret_key",
        "secret_key_fallbacks",
        "system_wiki_db_password",
    }
    assert "/wiki/health" in " ".join(wiki["healthcheck"]["test"])
    assert config["db"]["environment"]["SSO_SERVICES"] == "a b wiki"
    assert "SYSTEM_WIKI_DB_PASSWORD_FILE" in config["migrate"]["environment"]
    assert {"system_a", "system_b", "system_wiki", "migrate"} <= set(config["nginx"]["depends_on"])
    # Housekeeping keeps A's settings and role alone.
    assert {secret["source"] for secret in config["maintenance"]["secrets"]} >= {"system_a_db_password"}
    assert "system_wiki_db_password" not in {secret["source"] for secret in config["maintenance"]["secrets"]}


@needs_docker
def test_a_missing_password_of_a_declared_service_stops_compose_naming_it(tmp_path, three_services):
    services = tmp_path / "compose.services.yaml"
    write("compose", three_services, services)
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(ROOT), "-f", "compose.yaml", "-f", str(services)]
        + ["--env-file", "/dev/null", "-p", "sso-t", "config", "-q"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **PASSWORDS, "SYSTEM_A_DB_PASSWORD": "a" * 20},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SYSTEM_B_DB_PASSWORD is not set. Run ./stack env --force" in result.stderr


@needs_docker
def test_swarm_runs_each_declared_service_with_its_replicas(tmp_path, three_services):
    services, swarm = tmp_path / "compose.services.yaml", tmp_path / "compose.swarm.services.yaml"
    write("compose", three_services, services)
    assert write("swarm", three_services, swarm).returncode == 0
    passwords = {f"SYSTEM_{name}_DB_PASSWORD": "x" * 20 for name in ("A", "B", "WIKI")}
    config = merged_config(
        tmp_path, services, "compose.swarm.yaml", swarm, env={**passwords, "SYSTEM_WIKI_REPLICAS": "3"}
    )["services"]
    assert config["system_wiki"]["deploy"]["replicas"] == 3
    assert config["system_b"]["deploy"]["replicas"] == 2
    assert config["system_wiki"]["deploy"]["update_config"]["order"] == "start-first"
    assert config["nginx"]["environment"]["UPSTREAM_HOST_PREFIX"] == "tasks."


def test_a_broken_declaration_writes_no_file_and_says_why(tmp_path):
    declaration = tmp_path / "services.toml"
    declaration.write_text("[services.b]\n")
    out = tmp_path / "compose.services.yaml"
    result = write("compose", declaration, out)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "[services.b]" in result.stderr
    assert not out.exists()


def compose_files(env_file, value):
    return subprocess.run(
        [sys.executable, str(ENVTOOL), "compose-files", str(env_file), value], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "COMPOSE_FILE=compose.yaml:compose.services.yaml\n"),
        ("COMPOSE_FILE=compose.yaml:compose.https.yaml\n", "COMPOSE_FILE=compose.yaml:compose.services.yaml\n"),
        ("COMPOSE_FILE=compose.yaml:compose.services.yaml\n", "COMPOSE_FILE=compose.yaml:compose.services.yaml\n"),
        ("COMPOSE_FILE=compose.yaml:site.override.yaml\n", "COMPOSE_FILE=compose.yaml:site.override.yaml\n"),
    ],
    ids=["missing", "an earlier release's", "up to date", "the site's own"],
)
def test_env_file_names_the_services_file_for_plain_compose(tmp_path, before, after):
    env_file = tmp_path / ".env"
    env_file.write_text("SSO_DEPLOYMENT=site-abcd\n" + before)
    env_file.chmod(0o600)
    result = compose_files(env_file, "compose.yaml:compose.services.yaml")
    assert result.returncode == 0, result.stderr
    lines = [line for line in env_file.read_text().splitlines(keepends=True) if not line.startswith("#")]
    assert "".join(lines) == "SSO_DEPLOYMENT=site-abcd\n" + after
    assert env_file.stat().st_mode & 0o777 == 0o600
    if "site.override" in before:
        assert "plain docker compose runs what ./stack runs only with COMPOSE_FILE=" in result.stderr
