"""A first run as a newcomer makes it: a fresh clone of this checkout, no .env, README's commands.

In the clone: `./stack up --native`; then (where Docker answers) `./stack up` with the native
stack still running is refused, naming what runs and how to stop it; `./stack down`;
`./stack up --compose`; plain `docker compose down` and `docker compose up -d --build --wait`
(README's commands), which work from what ./stack recorded in .env; `./stack manage a
createsuperuser` reaches that deployment and the new administrator, logged in on A, is logged in
on /b/; `./stack status` sees it and `./stack down` stops it. At the end no process and no
container of the clone remains.

The clone keeps the deployment name its first `up` gives it (made from its folder's name: its own
Compose project, images and OS users), gets ports of its own (FIRST_RUN_PORT_BASE, +1 for
PostgreSQL) and an image tag, and reuses the checkout's virtual environment (STACK_VENV: the pins
are the same; its editable sso_shared is the checkout's, which is this commit's) and the engine's
build cache. Its images go at the end.
"""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("FIRST_RUN_PORT_BASE", "18480"))
TAG = os.environ.get("FIRST_RUN_IMAGE_TAG", "first-run")
VENV = Path(os.environ.get("STACK_VENV", ROOT / ".venv"))


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def clone():
    """A git clone of this checkout's HEAD under .stack/ (PostgreSQL's and the services' users must
    reach it when run as root); removed at the end, after stopping whatever is left of it."""
    (ROOT / ".stack").mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="first-run-", dir=ROOT / ".stack"))
    path.chmod(0o755)
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(path)], check=True, timeout=120)
    assert not (path / ".env").exists()
    yield path
    run(path, "./stack", "down", "--volumes", check=False)
    if docker_answers():
        run(path, "docker", "compose", "down", "--volumes", "--remove-orphans", check=False)
        if (path / ".env").exists():
            images = [f"{deployment_name(path)}/{image}:{TAG}" for image in ("app", "db", "nginx")]
            run(path, "docker", "image", "rm", *images, check=False)
    shutil.rmtree(path, ignore_errors=True)


def environment() -> dict[str, str]:
    """What a user's shell holds: nothing of the calling ./stack test (no STACK_STATE or
    STACK_ENV_FILE: the clone finds its own .env, which it does not have yet)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "STACK_VENV": str(VENV),
        "STACK_PORT": str(PORT),
        "STACK_PG_PORT": str(PORT + 1),
        "STACK_HTTPS_PORT": str(PORT + 2),
        "SSO_VERSION": TAG,
    }


def run(clone: Path, *args: str, check: bool = True, extra=None, timeout: int = 900) -> subprocess.CompletedProcess:
    started = time.monotonic()
    env = {**environment(), **(extra or {})}
    result = subprocess.run(args, cwd=clone, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"{' '.join(args)}: exit {result.returncode} after {time.monotonic() - started:.1f} s")
    if check and result.returncode != 0:
        logs = subprocess.run(
            ["docker", "compose", "logs", "--tail", "15"],  # every service's, as .env's COMPOSE_FILE names them
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        raise AssertionError(
            f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
            f"docker compose logs (if any):\n{logs.stdout[-3000:]}{logs.stderr[-500:]}"
        )
    return result


def answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/b/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def logged_in_on_b(username: str, password: str) -> bool:
    """Log in on A's login page as a browser does (CSRF cookie and token), then open /b/."""
    site, base = requests.Session(), f"http://127.0.0.1:{PORT}"
    site.get(f"{base}/a/accounts/login/", timeout=15).raise_for_status()
    form = {"csrfmiddlewaretoken": site.cookies["sso_csrftoken"], "username": username, "password": password}
    headers = {"Referer": f"{base}/a/accounts/login/"}
    login = site.post(f"{base}/a/accounts/login/?next=/b/", data=form, headers=headers, timeout=15)
    return login.url == f"{base}/b/" and site.get(f"{base}/b/whoami", timeout=15).json()["username"] == username


def processes_of(clone: Path) -> list[str]:
    """Processes whose command line or working folder is in the clone (as root: everyone's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(clone) in command or cwd == str(clone) or cwd.startswith(f"{clone}/"):
            found.append(f"{entry.name}: {command.strip()}")
    return found


def containers_of(clone: Path) -> list[str]:
    label = f"label=com.docker.compose.project.working_dir={clone}"
    result = subprocess.run(
        ["docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def env_file(clone: Path) -> str:
    return (clone / ".env").read_text()


def deployment_name(clone: Path) -> str:
    (name,) = re.findall(r"^SSO_DEPLOYMENT=(.+)$", env_file(clone), flags=re.M)
    return name


def test_native_first_run_then_modes_and_plain_compose(clone):
    started = run(clone, "./stack", "up", "--native")
    assert "mode: native (--native given)" in started.stderr
    assert started.stdout.strip() == f"http://127.0.0.1:{PORT}/"
    assert answers()
    assert (clone / ".env").stat().st_mode & 0o777 == 0o600
    # A name of its own, made from the clone's folder name (first-run-XXXXXXXX) and 4 random characters.
    name = deployment_name(clone)
    assert re.fullmatch(r"first-run-[a-z0-9-]+-[a-z0-9]{4}", name), name
    assert "COMPOSE_PROJECT_NAME" not in env_file(clone)

    if not docker_answers():
        # The Docker half cannot run here: said in the test log, and the native stack checked down.
        print("no Docker engine answers: the Compose half of the first run was not run")
        run(clone, "./stack", "down")
        assert not answers()
        assert processes_of(clone) == []
        return

    # Plain `./stack up` picks Compose now, and refuses to start it over the native stack.
    refused = run(clone, "./stack", "up", check=False)
    assert refused.returncode != 0
    assert "mode: Docker Compose (a Docker engine with Compose v2 answers" in refused.stderr
    assert "the native stack of this checkout runs" in refused.stderr
    assert "Stop it first with ./stack down" in refused.stderr
    assert answers()  # the native stack still serves
    assert containers_of(clone) == []

    run(clone, "./stack", "down")
    assert not answers()
    assert processes_of(clone) == []

    up = run(clone, "./stack", "up", "--compose")
    assert "mode: Docker Compose (--compose given)" in up.stderr
    assert "buildx" not in up.stderr and "deprecated" not in up.stderr
    assert answers()
    assert "BASE_IMAGE=" in env_file(clone)

    # Plain Compose, with nothing but what ./stack left in .env (project name, base image).
    run(clone, "docker", "compose", "down")
    assert containers_of(clone) == []
    assert not answers()
    run(clone, "docker", "compose", "up", "-d", "--build", "--wait")
    assert answers()

    # The first administrator, made the way README says, through the deployment plain Compose started.
    password = secrets.token_urlsafe(16)
    user = ["--noinput", "--username", "newcomer", "--email", "newcomer@example.com"]
    run(clone, "./stack", "manage", "a", "createsuperuser", *user, extra={"DJANGO_SUPERUSER_PASSWORD": password})
    assert logged_in_on_b("newcomer", password)

    status = run(clone, "./stack", "status")
    assert f"deployment {name} ({clone})" in status.stderr
    assert f"Docker Compose deployment running (project {name})" in status.stderr
    assert containers_of(clone) and all(c.startswith(f"{name}-") for c in containers_of(clone))

    run(clone, "./stack", "down")
    assert containers_of(clone) == []
    assert not answers()
    assert processes_of(clone) == []
