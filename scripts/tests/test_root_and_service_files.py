"""Started as root, ./stack runs each part as a user of its own (ssoapp_a, ssoapp_b, ssostack: read
here from the owners of their folders, whatever the deployment names them), and
each of those users may write in its own folders. Root must never write, chown or read through a
link one of them planted there, nor hang on a FIFO put where a pid file belongs. And the PostgreSQL
serving the stack's data folder is the stack's, however it was started (`pg_ctl restart`).

Each attack here is what a service's user can really do: plant links to a root-owned canary file
in its own folders, then make root act (the supervisor's restart of a killed gunicorn, `down`,
`up`, `status`). The canary must stay as it was."""

import os
import pwd
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import is_alive, run_stack, stack_environment

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the services run as users of their own only under root")


def owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def service_user(state: Path, service: str) -> str:
    """The OS user a service runs as: the owner of its run folder."""
    return owner(state / "run" / service)


def pg_user(state: Path) -> str:
    """PostgreSQL's OS user: the owner of the data folder."""
    return owner(state / "pg" / "data")


CANARY_TEXT = "canary: root's own file, never to be written or printed by ./stack\n"


def as_user(user: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *args], capture_output=True, text=True)


def snapshot(path: Path) -> tuple:
    info = path.stat()
    return (path.read_text(), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), info.st_mtime_ns)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own loopback URL)
            return response.status == 200
    except OSError:
        return False


def pid_in(pidfile: Path) -> int | None:
    try:
        first = pidfile.read_text().split("\n")[0]
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


def root_files_in_folders_others_may_write(state: Path) -> list[str]:
    """Every file or folder root owns under the state folder whose folder another user may write to
    (owns, or has group/other write on): there root's file could have been a planted link."""
    found = []
    for folder, folders, files in os.walk(state):
        info = os.lstat(folder)
        others_write = info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if not others_write:
            continue
        for name in folders + files:
            if os.lstat(os.path.join(folder, name)).st_uid == 0:
                found.append(f"{os.path.join(folder, name)} (folder owned by {pwd.getpwuid(info.st_uid).pw_name})")
    return found


@pytest.fixture
def canary(tmp_path) -> Path:
    path = tmp_path / "canary"
    path.write_text(CANARY_TEXT)
    path.chmod(0o644)
    return path


@pytest.fixture
def site(tmp_path, state):
    env = stack_environment(tmp_path, state)
    url = f"http://127.0.0.1:{env['STACK_PORT']}/"
    try:
        started = run_stack("up", "--native", env=env)
        assert started.returncode == 0, started.stderr
        # A fresh start alarms nobody: no warning of ./stack's, PostgreSQL's or Django's among its lines.
        assert [line for line in started.stderr.splitlines() if "warning" in line.lower()] == []
        yield env, state, url
    finally:
        stopped = run_stack("down", env=env)
        assert stopped.returncode == 0, stopped.stderr


def test_links_planted_by_service_users_are_never_followed_by_root(site, canary):
    env, state, url = site
    before = snapshot(canary)
    users = {service_user(state, "a"), service_user(state, "b"), pg_user(state)}
    assert len(users) == 3 and "root" not in users, users
    # Where an older ./stack wrote as root, in folders the services' users own: links to the canary.
    for service in ("a", "b"):
        user = service_user(state, service)
        planted = as_user(user, "ln", "-sf", str(canary), str(state / "run" / service / "gunicorn.pid.started"))
        assert planted.returncode == 0, planted.stderr
    planted = as_user(pg_user(state), "ln", "-sf", str(canary), str(state / "pg" / "data" / "postmaster.pid.started"))
    assert planted.returncode == 0, planted.stderr
    # System A's user kills its own gunicorn; the supervisor (root) starts it again.
    pidfile = state / "run" / "a" / "gunicorn.pid"
    old_pid = pid_in(pidfile)
    killed = as_user(service_user(state, "a"), "kill", "-TERM", str(old_pid))
    assert killed.returncode == 0, killed.stderr
    wait_for(lambda: not is_alive(old_pid), 30, "System A's gunicorn stops")
    wait_for(
        lambda: pid_in(pidfile) not in (None, old_pid) and answers(f"{url}a/health"),
        90,
        "the supervisor starts System A again",
    )
    assert "System A is not running; starting it again" in (state / "log" / "supervisor.log").read_text()
    assert snapshot(canary) == before

    stopped = run_stack("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert snapshot(canary) == before
    started = run_stack("up", "--native", env=env)
    assert started.returncode == 0, started.stderr
    assert answers(f"{url}a/health") and answers(f"{url}b/health")
    assert snapshot(canary) == before

    # Where root writes now, none of them may plant anything.
    for user, path in [
        (service_user(state, "a"), state / "run" / "started" / "run%a%gunicorn.pid"),
        (service_user(state, "a"), state / "run" / "supervisor.pid"),
        (pg_user(state), state / "pg" / "initdb.log"),
        (pg_user(state), state / "pg" / "postgres.log"),
        (pg_user(state), state / "pg" / "run"),
        (pg_user(state), state / "pg" / "superuser.pw"),
    ]:
        # As one plants a link over a file or folder: made beside it, then renamed over it.
        script = 'ln -s "$1" "$2.planted" && mv -fT "$2.planted" "$2"'
        refused = as_user(user, "sh", "-c", script, "plant", str(canary), str(path))
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, (path, refused)
    assert root_files_in_folders_others_may_write(state) == []


def test_root_reads_no_planted_fifo_and_prints_no_linked_file_where_a_pid_file_belongs(site, canary):
    env, state, url = site
    assert run_stack("down", env=env).returncode == 0
    planted = [
        as_user(service_user(state, "a"), "mkfifo", str(state / "run" / "a" / "gunicorn.pid")),
        as_user(service_user(state, "b"), "ln", "-s", str(canary), str(state / "run" / "b" / "gunicorn.pid")),
        as_user(pg_user(state), "mkfifo", str(state / "pg" / "data" / "postmaster.pid")),
    ]
    assert all(result.returncode == 0 for result in planted), planted

    status = run_stack("status", env=env, timeout=60)  # a read of a FIFO would hang here
    assert status.returncode == 0, status.stderr
    assert "canary" not in status.stderr + status.stdout
    for pidfile in (state / "run" / "a" / "gunicorn.pid", state / "run" / "b" / "gunicorn.pid"):
        assert f"stale pid file {pidfile}: pid none is not running; removed the file." in status.stderr
        assert not os.path.lexists(pidfile)

    started = run_stack("up", "--native", env=env, timeout=300)
    assert started.returncode == 0, started.stderr
    assert "canary" not in started.stderr + started.stdout
    assert answers(f"{url}a/health") and answers(f"{url}b/health")
    assert canary.read_text() == CANARY_TEXT


def postmaster_pid(state: Path) -> int:
    return int((state / "pg" / "data" / "postmaster.pid").read_text().split("\n")[0])


def test_a_postgresql_restarted_with_pg_ctl_is_still_the_stacks(site, tmp_path):
    env, state, url = site
    data = state / "pg" / "data"
    before = postmaster_pid(state)
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    # The standard way to restart it, as an operator would (its options are kept in postmaster.opts).
    # Without -l the server keeps pg_ctl's output, the operator's terminal: here nothing.
    restarted = subprocess.run(
        ["runuser", "-u", pg_user(state), "--", str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "restart"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert restarted.returncode == 0
    after = postmaster_pid(state)
    assert after != before and is_alive(after)

    status = run_stack("status", env=env)
    assert f"PostgreSQL listens on 127.0.0.1 port {env['STACK_PG_PORT']}" in status.stderr, status.stderr
    assert "not started by this ./stack" not in status.stderr
    wait_for(lambda: answers(f"{url}b/health"), 30, "B answers again")
    backup = run_stack("backup", str(tmp_path / "after-pg-ctl.tar"), env=env)
    assert backup.returncode == 0, backup.stderr

    stopped = run_stack("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopping PostgreSQL" in stopped.stderr
    wait_for(lambda: not is_alive(after), 30, "PostgreSQL stops")
    assert not (data / "postmaster.pid").exists()

    # Started by hand (as a boot script would), with the stack's settings: up uses it as it is.
    sockets = state / "pg" / "run"
    options = f"-c port={env['STACK_PG_PORT']} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets}"
    by_hand = subprocess.run(
        ["runuser", "-u", pg_user(state), "--", str(pg_ctl), "-D", str(data), "-l", str(state / "pg" / "postgres.log")]
        + ["-o", options, "-w", "start"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert by_hand.returncode == 0
    by_hand_pid = postmaster_pid(state)
    started = run_stack("up", "--native", env=env)
    assert started.returncode == 0, started.stderr
    assert postmaster_pid(state) == by_hand_pid
    assert answers(f"{url}a/health") and answers(f"{url}b/health")
    stopped = run_stack("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: not is_alive(by_hand_pid), 30, "PostgreSQL stops")


def test_the_offline_installer_writes_only_into_a_prefix_only_root_may_write(tmp_path):
    """install.sh (root) writes the release, .env, backups/ and .stack/ into its prefix: a prefix, or a
    folder of it, that another user owns or may change is refused before anything happens."""
    installer = Path(__file__).resolve().parents[2] / "offline" / "install.sh"
    nobody = pwd.getpwnam("nobody")
    user_owned = tmp_path / "user-owned"
    user_owned.mkdir()
    os.chown(user_owned, nobody.pw_uid, nobody.pw_gid)
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    linked = tmp_path / "linked"
    (linked / ".stack").mkdir(parents=True)
    (linked / ".stack" / "dev").symlink_to("/etc")
    for prefix, message in [
        (user_owned, f"{user_owned} is not a folder only root may write to (owner nobody"),
        (open_folder / "sso", f"{open_folder}, the folder of the prefix, may be changed by others than root"),
        (linked, f"{linked}/.stack/dev is not a folder only root may write to (owner root, lrwxrwxrwx)"),
    ]:
        refused = subprocess.run(
            [str(installer), "--prefix", str(prefix), "--public-key", "/dev/null"], capture_output=True, text=True
        )
        assert refused.returncode != 0
        assert message in refused.stderr and "Nothing was changed." in refused.stderr, refused.stderr
    assert sorted(path.name for path in user_owned.iterdir()) == []
    assert not (open_folder / "sso").exists()


def test_a_postgresql_folder_an_older_stack_gave_to_postgresqls_user_is_taken_back(site, tmp_path):
    """The previous release made .stack/<name>/pg PostgreSQL's user's own, and root then chowned pg/run
    in it: that user could have replaced run by a link to any folder. Upgraded, root takes pg back
    and follows no such link."""
    env, state, url = site
    assert run_stack("down", env=env).returncode == 0
    pg = state / "pg"
    user = pg_user(state)
    os.chown(pg, pwd.getpwnam(user).pw_uid, -1)  # the folder as the previous release left it
    canary_folder = tmp_path / "canary-folder"
    canary_folder.mkdir(mode=0o700)
    for script in (
        f'rm -rf "{pg}/run" && ln -s "{canary_folder}" "{pg}/run"',
        f'ln -s "{canary_folder}" "{pg}/log.planted" && mv -fT "{pg}/log.planted" "{pg}/postgres.log"',
    ):
        planted = as_user(user, "sh", "-c", script)
        assert planted.returncode == 0, planted.stderr

    started = run_stack("up", "--native", env=env)
    assert started.returncode == 0, started.stderr
    assert answers(f"{url}a/health") and answers(f"{url}b/health")
    info = canary_folder.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o700)
    assert (owner(pg), owner(pg / "run"), owner(pg / "postgres.log")) == ("root", user, user)
    assert not (pg / "run").is_symlink() and not (pg / "postgres.log").is_symlink()
