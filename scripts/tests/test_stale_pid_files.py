"""./stack touches only what it started. After a reboot the pid in a pid file under
.stack/ may belong to any process: ./stack must call that pid file stale, never
signal the process, and start the service as if the pid file were not there."""

import urllib.request
from pathlib import Path

from .conftest import is_alive, run_stack, stack_environment

ANOTHER_BOOT = "00000000-0000-0000-0000-000000000000 12345\n"


def pidfiles(state: Path) -> dict[str, Path]:
    return {
        "System A": state / "run" / "a" / "gunicorn.pid",
        "System B": state / "run" / "b" / "gunicorn.pid",
        "nginx": state / "nginx" / "nginx.pid",
        "PostgreSQL": state / "pg" / "data" / "postmaster.pid",
    }


def started_record(state: Path, pidfile: Path) -> Path:
    """Where ./stack records who it started (a folder only root may write: started_record)."""
    return state / "run" / "started" / str(pidfile.relative_to(state)).replace("/", "%")


def leave_stale_pid_files(state: Path, pid: int, names=("System A", "System B", "nginx", "PostgreSQL")) -> list[Path]:
    """Pid files as a native stack leaves them across a reboot: its records name another boot.
    (PostgreSQL has no record: its postmaster.pid names its data folder, and the pid is checked
    against that.)"""
    (state / "mode").parent.mkdir(parents=True, exist_ok=True)
    (state / "mode").write_text("native\n")
    written = []
    for name in names:
        path = pidfiles(state)[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        # postmaster.pid holds more lines after the pid (data dir, start time, port...).
        path.write_text(f"{pid}\n" + (f"{path.parent}\n" if name == "PostgreSQL" else ""))
        if name != "PostgreSQL":
            record = started_record(state, path)
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(ANOTHER_BOOT)
        written.append(path)
    return written


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_down_leaves_the_process_of_a_stale_pid_file_alone(tmp_path, state, unrelated_process):
    env = stack_environment(tmp_path, state)
    stale = leave_stale_pid_files(state, unrelated_process)

    result = run_stack("down", env=env)

    assert result.returncode == 0, result.stderr
    assert is_alive(unrelated_process)
    for path in stale:
        assert f"stale pid file {path}: pid {unrelated_process} is another process now" in result.stderr
        assert not path.exists()
    assert "stopping" not in result.stderr


def test_status_calls_a_stale_pid_file_stale_and_the_stack_not_running(tmp_path, state, unrelated_process):
    env = stack_environment(tmp_path, state)
    stale = leave_stale_pid_files(state, unrelated_process, names=("System A", "System B", "nginx"))

    result = run_stack("status", env=env)

    assert result.returncode == 0, result.stderr
    assert is_alive(unrelated_process)
    for path in stale:
        assert f"stale pid file {path}" in result.stderr
    assert "native stack running" not in result.stderr
    assert "native stack partly stopped" in result.stderr


def test_up_starts_every_service_whose_pid_file_is_stale(tmp_path, state, unrelated_process):
    env = stack_environment(tmp_path, state)
    url = f"http://127.0.0.1:{env['STACK_PORT']}/"
    try:
        # A fresh stack (no database cluster yet): gunicorn and nginx pid files are stale.
        stale = leave_stale_pid_files(state, unrelated_process, names=("System A", "System B", "nginx"))
        started = run_stack("up", "--native", env=env)
        assert started.returncode == 0, started.stderr
        assert "already running" not in started.stderr
        assert_started_instead_of(state, unrelated_process, stale, started.stderr, url)

        assert run_stack("down", env=env).returncode == 0
        assert is_alive(unrelated_process)

        # Again with the cluster in place: PostgreSQL's own postmaster.pid is stale too.
        stale = leave_stale_pid_files(state, unrelated_process)
        started = run_stack("up", "--native", env=env)
        assert started.returncode == 0, started.stderr
        assert_started_instead_of(state, unrelated_process, stale, started.stderr, url)
        postgres = int(pidfiles(state)["PostgreSQL"].read_text().split()[0])
        assert f"-D {state / 'pg' / 'data'}" in command_line(postgres)
    finally:
        stopped = run_stack("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert is_alive(unrelated_process)
    assert not is_alive(postgres)


def assert_started_instead_of(state: Path, unrelated: int, stale: list[Path], stderr: str, url: str):
    for path in stale:
        assert f"stale pid file {path}" in stderr
    pids = {name: int(path.read_text().split()[0]) for name, path in pidfiles(state).items() if path.exists()}
    assert set(pids) == {"System A", "System B", "nginx", "PostgreSQL"}
    assert unrelated not in pids.values()
    assert "gunicorn" in command_line(pids["System A"]) and "gunicorn" in command_line(pids["System B"])
    assert "nginx: master process" in command_line(pids["nginx"])
    assert is_alive(unrelated)
    for service in ("a", "b"):
        with urllib.request.urlopen(f"{url}{service}/health", timeout=10) as response:  # noqa: S310 (our own URL)
            assert response.status == 200
