"""A deployment's name (scripts/stack/25-deployment.sh): chosen once and recorded in .env, kept by a
deployment of the previous release, refused when it is not a valid name, and never taken from a
deployment of another folder. Nothing here starts a stack: every refusal comes before anything starts."""

import os
import re
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT, run_stack, stack_environment

NAMES = ROOT / "scripts" / "deployment-name.sh"
AS_ROOT = os.geteuid() == 0


def docker_answers() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def recorded_name(env: dict) -> str:
    (name,) = re.findall(r"^SSO_DEPLOYMENT=(.*)$", Path(env["STACK_ENV_FILE"]).read_text(), flags=re.M)
    return name


def without_name(env: dict) -> dict:
    return {key: value for key, value in env.items() if key != "SSO_DEPLOYMENT"}


def previous_release_env_file(env: dict, *extra: str) -> None:
    """An env file as the previous release wrote it: secrets, no SSO_DEPLOYMENT."""
    secrets = "\n".join(f"{name}={uuid.uuid4().hex * 2}" for name in ("SECRET_KEY", "POSTGRES_PASSWORD"))
    passwords = "\n".join(f"{name}={uuid.uuid4().hex}" for name in ("SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD"))
    Path(env["STACK_ENV_FILE"]).write_text("\n".join([secrets, passwords, *extra]) + "\n")


def test_a_new_deployment_is_named_after_its_folder_and_two_of_one_folder_name_differ():
    folders = ("/srv/site", "/opt/site", '"/x/2 Big_Sites!"')
    script = f"source {NAMES}; " + "; ".join(f"default_deployment_name {folder}" for folder in folders)
    first, second, odd = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert re.fullmatch(r"site-[a-z0-9]{4}", first) and re.fullmatch(r"site-[a-z0-9]{4}", second)
    assert first != second  # 36**4 to one against
    assert re.fullmatch(r"sso-2-big-sites-[a-z0-9]{4}", odd)


def test_env_writes_the_name_once_and_the_environment_wins(tmp_path, state):
    env = without_name(stack_environment(tmp_path, state))
    assert run_stack("env", env=env).returncode == 0
    name = recorded_name(env)
    assert re.fullmatch(rf"{re.escape(ROOT.name)}-[a-z0-9]{{4}}", name), name
    status = run_stack("status", env=env)
    assert "nothing of this folder runs" not in status.stderr
    assert f"deployment {name} ({ROOT})" in status.stderr
    assert run_stack("env", env=env).returncode == 0
    assert recorded_name(env) == name  # chosen once
    overridden = run_stack("status", env={**env, "SSO_DEPLOYMENT": "other-name"})
    assert f"deployment other-name ({ROOT})" in overridden.stderr


def test_a_deployment_of_the_previous_release_keeps_the_name_it_ran_under(tmp_path, state):
    env = without_name(stack_environment(tmp_path, state))
    previous_release_env_file(env)
    (state / "mode").write_text("native\n")  # it ran here (natively, as the previous release left it)
    status = run_stack("status", env=env)
    assert f"deployment sso ({ROOT})" in status.stderr  # the previous release's name, and its OS users
    result = run_stack("env", env=env)
    assert result.returncode == 0, result.stderr
    assert recorded_name(env) == "sso"
    assert "before deployments had names of their own; keep it" in Path(env["STACK_ENV_FILE"]).read_text()


def test_a_compose_project_name_of_the_previous_release_becomes_the_name(tmp_path, state):
    env = without_name(stack_environment(tmp_path, state))
    previous_release_env_file(env, "COMPOSE_PROJECT_NAME=my_site")
    assert run_stack("env", env=env).returncode == 0
    assert recorded_name(env) == "my_site"


def test_an_env_file_that_never_ran_gets_a_name_of_its_own(tmp_path, state):
    if docker_answers():
        leftovers = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=sso"],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
        if leftovers:
            pytest.skip(
                "volumes of a Compose project sso are on this engine: a folder with such an env file adopts them"
            )
    env = without_name(stack_environment(tmp_path, state))
    previous_release_env_file(env)
    assert run_stack("env", env=env).returncode == 0
    assert re.fullmatch(rf"{re.escape(ROOT.name)}-[a-z0-9]{{4}}", recorded_name(env))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("My_Site", "a name is lowercase letters and digits, starting with a letter"),
        ("site--a", "a name is lowercase letters and digits, starting with a letter"),
        ("a" * 25, "it is 25 characters long, at most 24 fit"),
    ],
)
def test_an_invalid_name_is_refused_before_anything_starts(tmp_path, state, name, problem):
    env = stack_environment(tmp_path, state)
    assert run_stack("env", env=env).returncode == 0
    env_file = Path(env["STACK_ENV_FILE"])
    env_file.write_text(env_file.read_text() + f"SSO_DEPLOYMENT={name}\n")
    refused = run_stack("up", "--native", env=without_name(env))
    assert refused.returncode != 0
    assert f"SSO_DEPLOYMENT={name} (in {env_file}) cannot name a deployment: {problem}" in refused.stderr
    assert not (state / "pg").exists()
    named = {**os.environ, "SSO_DEPLOYMENT": name, "SSO_SERVICE_NAMES": "a b"}
    written = subprocess.run([str(ROOT / "scripts" / "write-env.sh"), str(tmp_path / "new.env")],
                             env=named, capture_output=True, text=True)  # fmt: skip
    assert written.returncode != 0 and problem in written.stderr
    assert not (tmp_path / "new.env").exists()


def test_a_compose_project_name_that_says_otherwise_is_refused(tmp_path, state):
    env = stack_environment(tmp_path, state, COMPOSE_PROJECT_NAME="another-project")
    refused = run_stack("status", env=env)
    assert refused.returncode != 0
    assert f"COMPOSE_PROJECT_NAME=another-project differs from this deployment's name {env['SSO_DEPLOYMENT']}" in (
        refused.stderr
    )


@pytest.mark.skipif(not AS_ROOT, reason="OS users of their own only as root")
def test_a_name_whose_os_users_another_folder_holds_is_refused_until_that_folder_is_gone(tmp_path, state):
    name = f"sso-claimed-{uuid.uuid4().hex[:6]}"
    env = stack_environment(tmp_path, state, SSO_DEPLOYMENT=name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    claim = f"sso deployment {name} in {elsewhere}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--comment", claim, f"{name}-pg"], check=True)
    try:
        refused = run_stack("up", "--native", env=env)
        assert refused.returncode != 0
        assert f"the deployment name {name} (from your environment) is taken on this host by the deployment in " in (
            refused.stderr
        )
        assert f"{elsewhere} (its OS user {name}-pg)" in refused.stderr
        assert not (state / "pg").exists()

        # That deployment's folder deleted (its data with it) and nothing running as its users: the
        # claim is stale and the name free. (A taken port stops this start right after the name.)
        elsewhere.rmdir()
        with socket.socket() as other_program:
            other_program.bind(("127.0.0.1", int(env["STACK_PORT"])))
            other_program.listen()
            started = run_stack("up", "--native", env=env)
        assert "is taken on this host" not in started.stderr
        assert f"port {env['STACK_PORT']} (STACK_PORT) on 127.0.0.1 is in use by another program" in started.stderr
    finally:
        subprocess.run(["userdel", f"{name}-pg"], check=False)


def test_volumes_another_folder_claims_are_neither_used_nor_deleted(tmp_path, state):
    if not docker_answers():
        pytest.skip("no Docker engine answers here")
    name = f"sso-claimed-{uuid.uuid4().hex[:6]}"
    env = stack_environment(tmp_path, state, SSO_DEPLOYMENT=name)
    volumes = {
        f"{name}_identity": ["sso.deployment=" + name, "sso.deployment.folder=/srv/elsewhere"],
        f"{name}_db-data": ["com.docker.compose.project=" + name, "com.docker.compose.volume=db-data"],
    }
    for volume, labels in volumes.items():
        subprocess.run(["docker", "volume", "create", *(f"--label={label}" for label in labels), volume], check=True)
    try:
        refused = run_stack("up", "--compose", env=env)
        assert refused.returncode != 0
        assert "is taken on this host by the deployment in /srv/elsewhere (its Docker containers or volumes)" in (
            refused.stderr
        )
        down = run_stack("down", "--volumes", env=env)
        assert f"the volumes of Compose project {name} belong to the deployment in /srv/elsewhere" in down.stderr
        listed = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=True).stdout
        assert set(volumes) <= set(listed.split())
    finally:
        subprocess.run(["docker", "volume", "rm", *volumes], capture_output=True)
