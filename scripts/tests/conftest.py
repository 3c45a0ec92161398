"""Tests of ./stack itself: each runs ./stack with a state folder, env file and ports of its own."""

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "stack"
# Ports of the stack a test starts; ./stack test sets a base clear of its own stack's ports.
PORT_BASE = int(os.environ.get("STACK_TESTS_PORT_BASE", "18280"))
# The deployment these tests' stacks run as: a name no other deployment has, so they never see (or
# stop) another; as root ./stack runs PostgreSQL as its OS user NAME-pg. The checkout's folder is
# in it: two checkouts on one host (a CI clone beside a working copy) may run these tests at once,
# and ./stack rightly refuses a name that another folder's deployment holds.
DEPLOYMENT = f"sso-st-{PORT_BASE}-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]}"
PG_OS_USER = f"{DEPLOYMENT}-pg"


@pytest.fixture(scope="session", autouse=True)
def os_users_removed_at_the_end():
    """As root, the native stacks these tests start create the deployment's OS users; they go
    when the tests end, as with ./stack down --volumes, unless something still runs as them."""
    yield
    if os.geteuid() != 0:
        return
    claim = f"sso deployment {DEPLOYMENT} in {ROOT}"
    for entry in pwd.getpwall():
        ours = entry.pw_name.startswith(f"{DEPLOYMENT}-") and entry.pw_gecos == claim
        if ours and subprocess.run(["pgrep", "-u", entry.pw_name], capture_output=True).returncode != 0:
            subprocess.run(["userdel", entry.pw_name], capture_output=True)


def stack_environment(tmp_path: Path, state: Path, **extra: str) -> dict[str, str]:
    """Only what a user's shell would hold: nothing of the calling ./stack test leaks in."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "STACK_STATE": str(state),
        "STACK_ENV_FILE": str(tmp_path / "stack.env"),
        "STACK_PORT": str(PORT_BASE),
        "STACK_PG_PORT": str(PORT_BASE + 3),
        "SSO_DEPLOYMENT": DEPLOYMENT,
        **extra,
    }


def run_stack(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=timeout)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"


@pytest.fixture
def state() -> Path:
    """A state folder under .stack/ like ./stack's own: PostgreSQL's user must reach it,
    which it cannot inside pytest's private temporary folders."""
    (ROOT / ".stack").mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="script-tests-", dir=ROOT / ".stack"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def unrelated_process():
    """A process that has nothing to do with ./stack, as a reused pid would. As root it runs as
    PostgreSQL's user, so that pg_ctl (run as that user) could signal it if ./stack let it."""
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(PG_OS_USER).pw_name
        except KeyError:
            user = None
    process = subprocess.Popen(["sleep", "300"], user=user)
    yield process.pid
    process.kill()
    process.wait()
