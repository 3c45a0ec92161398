"""The stack file ./stack up --swarm deploys, made from the real compose.yaml + compose.swarm.yaml and the
services' files written from services.toml."""

import json
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-value",
    "SYSTEM_A_DB_PASSWORD": "a-secret-value",
    "SYSTEM_B_DB_PASSWORD": "b-secret-value",
    "SECRET_KEY": "key-secret-value-with-enough-different-characters",
}
pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="docker compose merges the files")


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("swarm") / "config.json"
    env_file = path.with_name("empty.env")
    env_file.write_text("")
    # The services' files as ./stack writes them from services.toml.
    services, swarm_services = path.with_name("compose.services.yaml"), path.with_name("compose.swarm.services.yaml")
    writer = ROOT / "scripts" / "compose_services.py"
    subprocess.run([sys.executable, str(writer), "compose", str(services)], check=True)
    subprocess.run([sys.executable, str(writer), "swarm", str(swarm_services)], check=True)
    files = ["compose.yaml", str(services), "compose.swarm.yaml", str(swarm_services)]
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(ROOT), *(option for file in files for option in ("-f", file))]
        + ["--env-file", str(env_file), "-p", "sso-t", "config", "--format", "json"],
        cwd=ROOT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "SYSTEM_B_REPLICAS": "3", **SECRETS},
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(result.stdout)
    return str(path)


def stack_file(config: str, *args: str) -> dict:
    script = ROOT / "scripts" / "swarm_stack_file.py"
    result = subprocess.run([sys.executable, str(script), config, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


SECRET_ARGS = [
    "--secret=postgres_password=sso-t_postgres_password_1",
    "--secret=system_a_db_password=sso-t_system_a_db_password_1",
    "--secret=system_b_db_password=sso-t_system_b_db_password_1",
    "--secret=secret_key=sso-t_secret_key_1",
]


def test_compose_only_keys_go_and_their_swarm_counterparts_stay(config):
    stack = stack_file(config, *SECRET_ARGS)
    for name, service in stack["services"].items():
        assert not {"build", "pull_policy", "depends_on", "restart", "mem_limit", "pids_limit", "security_opt"} & set(
            service
        ), name
        assert service["cap_drop"] == ["ALL"], name
        assert service["deploy"]["resources"]["limits"]["pids"] > 0, name
    assert stack["services"]["system_a"]["deploy"]["replicas"] == 2
    assert stack["services"]["system_b"]["deploy"]["replicas"] == 3
    assert stack["services"]["system_a"]["deploy"]["update_config"]["order"] == "start-first"
    assert stack["services"]["migrate"]["deploy"]["mode"] == "replicated-job"


def test_secrets_are_the_versioned_swarm_secrets_and_no_value_is_written(config):
    stack = stack_file(config, *SECRET_ARGS)
    text = json.dumps(stack)
    assert not [value for value in SECRETS.values() if value in text]
    assert stack["secrets"]["secret_key"] == {"external": True, "name": "sso-t_secret_key_1"}
    a_secrets = {ref["source"]: ref["target"] for ref in stack["services"]["system_a"]["secrets"]}
    # No fallbacks given: no secret (Swarm refuses an empty one); the app then reads none.
    assert a_secrets == {"secret_key": "secret_key", "system_a_db_password": "system_a_db_password"}


def test_tmpfs_folders_become_mounts(config):
    nginx = stack_file(config, *SECRET_ARGS)["services"]["nginx"]
    assert "tmpfs" not in nginx
    container_tmp = "/tmp"  # noqa: S108 (a path inside the container, checked, not used)
    assert {"type": "tmpfs", "target": container_tmp, "tmpfs": {"mode": 0o1777}} in nginx["volumes"]
    assert nginx["environment"]["NGINX_RUN_DIR"].startswith(container_tmp + "/")


def test_parts_images_and_the_deploy_id(config):
    stack = stack_file(
        config,
        *SECRET_ARGS,
        "--only=db",
        "--only=migrate",
        "--image-id=migrate=sha256:abc",
        "--keep-image=db=sso/db:old",
        "--env=SSO_DEPLOY_ID=7",
        "--env-for=migrate",
        "--label=sso.deployment.folder=/srv/sso",
    )
    assert set(stack["services"]) == {"db", "migrate"}
    assert stack["services"]["db"]["image"] == "sso/db:old"
    # Labelled with the deployment by compose.yaml (project sso-t), with its folder by --label.
    assert stack["services"]["migrate"]["labels"] == {
        "sso.deployment": "sso-t",
        "sso.deployment.folder": "/srv/sso",
        "sso.image-id": "sha256:abc",
    }
    assert stack["services"]["db"]["labels"] == {"sso.deployment": "sso-t", "sso.deployment.folder": "/srv/sso"}
    assert stack["services"]["migrate"]["environment"]["SSO_DEPLOY_ID"] == "7"
    assert "SSO_DEPLOY_ID" not in stack["services"]["db"].get("environment", {})
    assert set(stack["secrets"]) == {"postgres_password", "system_a_db_password", "system_b_db_password", "secret_key"}
    without = stack_file(config, *SECRET_ARGS, "--without=migrate")
    assert set(without["services"]) == {"db", "system_a", "system_b", "maintenance", "nginx"}
