"""Two deployments on one host cannot hurt each other (docs/operations.md, "Deployments on one host").

Beside the deployment under test (the first), a fresh clone of this checkout (the second: another
folder, so the name its first `up` gives it differs) runs the same mode on ports of its own. Asking
for a port the first holds is refused before anything starts, naming both deployments. The second
starts, is taken down with its volumes (`./stack down --volumes`) and starts again; meanwhile the
first keeps its processes or containers, its data and a logged-in session, and the second cannot
look into the first: natively its services' OS user cannot read the first's gunicorn environment
(/proc/PID/environ, where the database password is); under Compose they share no network and no
process namespace.

Only ./stack test runs it (E2E_SECOND_DEPLOYMENT_PORT, for the native and Compose targets).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .client import SiteClient
from .conftest import BASE_URL, ROOT, TARGET, VERIFY, create_user_in_admin, new_password, unique

PORT = int(os.environ.get("E2E_SECOND_DEPLOYMENT_PORT", "0"))
FIRST = os.environ.get("SSO_DEPLOYMENT", "")
TAG = os.environ.get("SSO_VERSION", "dev")
STATE = Path(os.environ.get("STACK_STATE", ""))
AS_ROOT = os.geteuid() == 0
FIRST_PORT = BASE_URL.rsplit(":", 1)[1].strip("/")
MODE = {"native": "--native", "compose": "--compose"}.get(TARGET)

if not MODE:
    pytest.skip(
        f"two deployments side by side are checked natively and under Compose, not {TARGET}", allow_module_level=True
    )


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docker {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def run(clone: Path, *args: str, check: bool = True, **ports: int) -> subprocess.CompletedProcess:
    """./stack in the clone, as its user would run it there: nothing of ./stack test's environment."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "STACK_VENV": str(ROOT / ".venv"),
        "SSO_VERSION": TAG,
        "STACK_PORT": str(ports.get("STACK_PORT", PORT)),
        "STACK_PG_PORT": str(ports.get("STACK_PG_PORT", PORT + 1)),
        "STACK_HTTPS_PORT": str(PORT + 2),
    }
    result = subprocess.run(
        [str(clone / "stack"), *args], cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )
    if check:
        assert result.returncode == 0, f"./stack {' '.join(args)} in {clone} failed:\n{result.stderr[-3000:]}"
    return result


def deployment_name(clone: Path) -> str:
    (name,) = re.findall(r"^SSO_DEPLOYMENT=(.+)$", (clone / ".env").read_text(), flags=re.M)
    return name


@pytest.fixture(scope="module")
def second():
    """A git clone of this checkout's HEAD under .stack/ (the services' OS users must reach it);
    taken down with its volumes and removed at the end, its images too."""
    (ROOT / ".stack").mkdir(exist_ok=True)
    clone = Path(tempfile.mkdtemp(prefix="second-", dir=ROOT / ".stack"))
    clone.chmod(0o755)
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    yield clone
    run(clone, "down", "--volumes", check=False)
    if MODE == "--compose" and (clone / ".env").exists():
        name = deployment_name(clone)
        subprocess.run(["docker", "image", "rm", *(f"{name}/{image}:{TAG}" for image in ("app", "db", "nginx"))],
                       capture_output=True, timeout=120)  # fmt: skip
    shutil.rmtree(clone, ignore_errors=True)


@pytest.fixture(scope="module")
def logged_in(admin_credentials) -> SiteClient:
    """Someone logged in on the first deployment, as a browser is."""
    admin = SiteClient(BASE_URL, verify=VERIFY)
    assert admin.login(*admin_credentials).status_code == 302
    username, password = unique("first"), new_password()
    create_user_in_admin(admin, username, password)
    browser = SiteClient(BASE_URL, verify=VERIFY)
    assert browser.login(username, password).status_code == 302
    assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": username}
    browser.username = username
    return browser


# --- what the first deployment is made of ------------------------------------------------


def first_processes() -> dict[str, str]:
    """Native: the pid of each of the first's processes; Compose: the id of each of its containers."""
    if MODE == "--native":
        files = {"a": "run/a/gunicorn.pid", "b": "run/b/gunicorn.pid", "nginx": "nginx/nginx.pid"}
        found = {name: (STATE / path).read_text().strip() for name, path in files.items()}
        found["postgres"] = (STATE / "pg" / "data" / "postmaster.pid").read_text().split()[0]
        return found
    listing = docker("ps", "--filter", f"label=com.docker.compose.project={FIRST}", "--format", "{{.Names}} {{.ID}}")
    return dict(line.split() for line in listing.splitlines())


def first_data() -> str:
    """The first's PostgreSQL cluster: its system identifier, made once by initdb (natively in its
    state folder, under Compose in its database volume)."""
    if MODE == "--native":
        (pg_controldata, *_) = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_controldata"), reverse=True)
        control = subprocess.run([pg_controldata, STATE / "pg" / "data"], capture_output=True, text=True, timeout=60)
        control = control.stdout
    else:
        control = docker("exec", f"{FIRST}-db-1", "pg_controldata", "/var/lib/postgresql/data")
    return re.search(r"Database system identifier:\s+(\d+)", control).group(1)


def containers(project: str) -> list[dict]:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}").split()
    return json.loads(docker("inspect", *ids))


def first_still_whole(before_processes: dict, before_data: str, browser: SiteClient) -> None:
    assert first_processes() == before_processes
    assert first_data() == before_data
    assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": browser.username}
    assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": browser.username}


# --- the test --------------------------------------------------------------------------------


def test_a_second_deployment_beside_this_one_leaves_it_alone(second, logged_in):
    processes, data = first_processes(), first_data()

    # The first's port is refused to the second before anything of it starts, naming both.
    refused = run(second, "up", MODE, check=False, STACK_PORT=int(FIRST_PORT))
    name = deployment_name(second)  # chosen by that first `up`, from the clone's folder name
    assert re.fullmatch(r"second-[a-z0-9-]+-[a-z0-9]{4}", name) and name != FIRST, name
    assert refused.returncode != 0
    assert (
        f"port {FIRST_PORT} (STACK_PORT) on 127.0.0.1 is in use by deployment {FIRST} (folder {ROOT}," in refused.stderr
    )
    assert f"not by this deployment {name} ({second})" in refused.stderr
    assert f"set STACK_PORT=<free port> in {second / '.env'}" in refused.stderr
    if MODE == "--native":
        pg_port = int(os.environ["STACK_PG_PORT"])
        refused = run(second, "up", MODE, check=False, STACK_PG_PORT=pg_port)
        assert refused.returncode != 0
        assert (
            f"port {pg_port} (STACK_PG_PORT) on 127.0.0.1 is in use by deployment {FIRST} (folder {ROOT},"
            in refused.stderr
        )
        assert f"set STACK_PG_PORT=<free port> in {second / '.env'}" in refused.stderr
    else:
        assert docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}") == ""
    first_still_whole(processes, data, logged_in)

    run(second, "up", MODE)
    look_into_the_first_from(second, name)
    run(second, "down", "--volumes")
    first_still_whole(processes, data, logged_in)
    run(second, "up", MODE)
    first_still_whole(processes, data, logged_in)
    assert SiteClient(f"http://127.0.0.1:{PORT}/").whoami("b")["authenticated"] is False  # its own, empty site


def look_into_the_first_from(second: Path, name: str) -> None:
    if MODE == "--native":
        if not AS_ROOT:
            return  # every part of both runs as the one invoking user: nothing to tell apart
        first_gunicorn = (STATE / "run" / "a" / "gunicorn.pid").read_text().strip()
        read = subprocess.run(["runuser", "-u", f"{name}-a", "--", "cat", f"/proc/{first_gunicorn}/environ"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert read.returncode != 0 and "Permission denied" in read.stderr, read
        # ...while its own gunicorn it may read: the refusal is about the other deployment.
        own = (second / ".stack" / "dev" / "run" / "a" / "gunicorn.pid").read_text().strip()
        mine = subprocess.run(["runuser", "-u", f"{name}-a", "--", "cat", f"/proc/{own}/environ"],
                              capture_output=True, timeout=30)  # fmt: skip
        assert mine.returncode == 0 and b"DB_PASSWORD=" in mine.stdout
        return
    first, other = containers(FIRST), containers(name)
    assert first and other
    networks = (
        [set(c["NetworkSettings"]["Networks"]) for c in first],
        [set(c["NetworkSettings"]["Networks"]) for c in other],
    )
    assert set.union(*networks[0]).isdisjoint(set.union(*networks[1])), networks
    for container in first + other:
        assert container["HostConfig"]["PidMode"] == "", container["Name"]
        assert container["Config"]["Labels"]["sso.deployment"] in (FIRST, name)
    # The second's services find their own database by name, never the first's.
    own_db = {c["Name"].lstrip("/"): c for c in other}[f"{name}-db-1"]
    own_address = {net["IPAddress"] for net in own_db["NetworkSettings"]["Networks"].values()}
    resolved = docker("exec", f"{name}-system_a-1", "getent", "hosts", "db").split()[0]
    assert resolved in own_address
