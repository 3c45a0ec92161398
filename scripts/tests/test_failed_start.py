"""A start that fails says how to fix it, and leaves nothing running: no PostgreSQL left behind by a
failed check, a busy port found before anything starts, and `./stack env --force` that really fixes
an unusable secret (keeping the old file, mode 0600)."""

import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from .conftest import run_stack, stack_environment

SHORT_KEY = "too-short-key-123"


def docker_answers() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def env_values(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def postgres_running(state: Path) -> bool:
    pidfile = state / "pg" / "data" / "postmaster.pid"
    if not pidfile.exists():
        return False
    return Path(f"/proc/{pidfile.read_text().split()[0]}").exists()


def test_an_unusable_secret_is_refused_before_anything_starts_and_env_force_fixes_it(tmp_path, state):
    env = stack_environment(tmp_path, state)
    env_file = Path(env["STACK_ENV_FILE"])
    assert run_stack("env", env=env).returncode == 0
    before = env_values(env_file)
    if docker_answers():
        assert before["BASE_IMAGE"]  # what plain `docker compose` builds FROM, recorded
    env_file.write_text(env_file.read_text().replace(before["SECRET_KEY"], SHORT_KEY) + "SERVER_NAMES=127.0.0.1\n")

    refused = run_stack("up", "--native", env=env)
    assert refused.returncode != 0
    assert "SECRET_KEY is too short (17 characters, at least 50 needed)" in refused.stderr
    assert "Run ./stack env --force" in refused.stderr
    assert not postgres_running(state)

    fixed = run_stack("env", "--force", env=env)
    assert fixed.returncode == 0, fixed.stderr
    after = env_values(env_file)
    assert len(after["SECRET_KEY"]) == 64 and after["SECRET_KEY"] != SHORT_KEY
    # Only the unusable secret changed: the database passwords (which a cluster may hold) and settings stay.
    for name in ("POSTGRES_PASSWORD", "SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD", "SERVER_NAMES", "BASE_IMAGE"):
        assert after.get(name) == {**before, "SERVER_NAMES": "127.0.0.1"}.get(name)
    (backup,) = env_file.parent.glob(f"{env_file.name}.backup-*")
    assert backup.stat().st_mode & 0o777 == 0o600
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert f"SECRET_KEY={SHORT_KEY}" in backup.read_text()
    assert run_stack("env", "--force", env=env).stderr.strip().endswith("nothing replaced.")


def test_a_start_failing_after_postgresql_started_stops_it_again(tmp_path, state):
    env = stack_environment(tmp_path, state, WEB_CONCURRENCY="many")  # gunicorn cannot start
    failed = run_stack("up", "--native", env=env)
    assert failed.returncode != 0
    assert "the start failed: stopping what it started (database)" in failed.stderr
    assert not postgres_running(state)
    assert not list(state.glob("run/*/gunicorn.pid"))
    status = run_stack("status", env=env)
    assert "not running" in status.stderr


def test_a_busy_port_is_named_before_anything_starts(tmp_path, state):
    env = stack_environment(tmp_path, state)
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", int(env["STACK_PORT"])))
        other_program.listen()
        refused = run_stack("up", "--native", env=env)
        assert refused.returncode != 0
        assert f"port {env['STACK_PORT']} (STACK_PORT) on 127.0.0.1 is in use by another program" in refused.stderr
        assert f"set STACK_PORT=<free port> in {env['STACK_ENV_FILE']}" in refused.stderr
        assert not postgres_running(state)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{env['STACK_PORT']}/", timeout=2)
        raise AssertionError("nothing of the stack may answer")
    except OSError:
        pass


# --- Docker Compose --------------------------------------------------------------------------


def failing_images(project: str, tag: str) -> list[str]:
    """Images of the deployment's names that print one line and exit: built from the base image in a
    moment, nothing pulled (a failing database is the commonest first failure)."""
    images = []
    for part in ("db", "app", "nginx"):
        image = f"{project}/{part}:{tag}"
        dockerfile = (
            "FROM sso-base/debian:bookworm-slim\n"
            f'ENTRYPOINT ["sh", "-c", "echo {part}: this image only fails, for a test >&2; exit 1"]\n'
        )
        built = subprocess.run(
            ["docker", "build", "-q", "-t", image, "-"], input=dockerfile, capture_output=True, text=True
        )
        assert built.returncode == 0, built.stderr
        images.append(image)
    return images


def project_volumes(project: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
    )
    return listed.stdout.split()


def project_containers(project: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
    )
    return listed.stdout.split()


@pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers here")
@pytest.mark.skipif(
    subprocess.run(["docker", "image", "inspect", "sso-base/debian:bookworm-slim"], capture_output=True).returncode
    != 0,
    reason="no base image sso-base/debian:bookworm-slim to build the failing images from",
)
def test_a_compose_start_that_fails_shows_the_containers_last_lines_and_says_what_it_kept(tmp_path, state):
    tag = f"failing-{state.name.lower()}"
    # As the offline installer starts it: nothing built, nothing pulled.
    env = stack_environment(tmp_path, state, SSO_VERSION=tag, STACK_OFFLINE="1")
    project = env["SSO_DEPLOYMENT"]
    images = failing_images(project, tag)
    missing = {**env, "SSO_DEPLOYMENT": f"{project}-m", "SSO_VERSION": f"{tag}-missing"}
    try:
        failed = run_stack("up", "--compose", env=env, timeout=600)
        assert failed.returncode != 0
        assert "db-1  | db: this image only fails, for a test" in failed.stderr, failed.stderr
        assert "the containers' last log lines are above" in failed.stderr
        assert project_containers(project) == []
        assert project_volumes(project), "a start this far creates the database volume"
        assert f"the volumes of project {project} are kept" in failed.stderr

        # No image at all: no container ever wrote a line, and that is what it says.
        failed = run_stack("up", "--compose", env=missing, timeout=600)
        assert failed.returncode != 0
        assert f"No such image: {project}-m/db:{tag}-missing" in failed.stderr
        assert "no container wrote a log line: the error above is Docker Compose's own" in failed.stderr
        assert "last log lines are above" not in failed.stderr
        kept = bool(project_volumes(missing["SSO_DEPLOYMENT"]))
        assert (f"the volumes of project {missing['SSO_DEPLOYMENT']} are kept" in failed.stderr) == kept
    finally:
        for environment in (env, missing):
            run_stack("down", "--volumes", env=environment)
        subprocess.run(["docker", "image", "rm", *images], capture_output=True)
    assert project_volumes(project) == [] and project_volumes(missing["SSO_DEPLOYMENT"]) == []
