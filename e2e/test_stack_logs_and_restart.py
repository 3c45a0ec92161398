"""`./stack logs [SERVICE] [-f]` and `./stack restart SERVICE`: the same words on every target
(native, Docker Compose, Docker Swarm). What B logs about a request shows in `./stack logs b`; a
restarted B answers again, and whoever was logged in still is."""

import os
import secrets
import signal
import subprocess
import time

from .client import SiteClient
from .conftest import BASE_URL, STACK, TARGET, VERIFY


def stack(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], capture_output=True, text=True, timeout=timeout)


def a_404_that_b_logs(site: SiteClient) -> str:
    """A page B does not have: Django logs 'Not Found: <path>' (django.request), nginx its access line."""
    path = f"/b/no-such-page-{secrets.token_hex(6)}/"
    assert site.get(path).status_code == 404
    return path


def eventually_in_logs(service: str, text: str, seconds: float = 30) -> str:
    """(Swarm hands a task's output on a moment later.)"""
    deadline = time.monotonic() + seconds
    while True:
        logs = stack("logs", service)
        assert logs.returncode == 0, logs.stderr
        if text in logs.stdout or time.monotonic() > deadline:
            return logs.stdout
        time.sleep(1)


def test_logs_of_a_service_show_what_it_logged(site):
    path = a_404_that_b_logs(site)
    assert f"Not Found: {path}" in eventually_in_logs("b", path)
    assert path in eventually_in_logs("nginx", path)
    # Without a service: every service's log, B's among them.
    assert f"Not Found: {path}" in stack("logs").stdout


def test_logs_follow_shows_new_lines_as_they_come(site):
    follower = subprocess.Popen(
        [STACK, "logs", "b", "-f"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        time.sleep(2)  # following from now on
        path = a_404_that_b_logs(site)
        deadline = time.monotonic() + 30
        seen = False
        os.set_blocking(follower.stdout.fileno(), False)
        while not seen and time.monotonic() < deadline:
            line = follower.stdout.readline()
            seen = f"Not Found: {path}" in line
            if not line:
                time.sleep(0.2)
        assert seen, "the followed log never showed the new line"
        assert follower.poll() is None  # still following
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(timeout=30)


def test_restart_b_keeps_everyone_logged_in(site, user):
    username, password = user
    assert site.login(username, password).status_code == 302
    restarted = stack("restart", "b", timeout=600)
    assert restarted.returncode == 0, restarted.stderr
    assert site.whoami("b") == {"service": "b", "authenticated": True, "username": username}
    assert site.whoami("a")["username"] == username
    assert SiteClient(BASE_URL, verify=VERIFY).get("/b/health").status_code == 200


def test_restart_a_restarts_its_login_workers_too_and_logins_go_on(site, user):
    username, password = user
    assert site.login(username, password).status_code == 302
    restarted = stack("restart", "a", timeout=600)
    assert restarted.returncode == 0, restarted.stderr
    if TARGET == "native":  # (in a container, A's two gunicorns restart together with it)
        assert "System A's login workers started" in restarted.stdout + restarted.stderr
    assert site.whoami("a") == {"service": "a", "authenticated": True, "username": username}
    # A new login is a POST nginx sends to A's login workers (docs/login-protection.md).
    fresh = SiteClient(BASE_URL, verify=VERIFY)
    assert fresh.login(username, password).status_code == 302
    assert fresh.whoami("b")["username"] == username


def test_unknown_services_are_named():
    for command in ("logs", "restart"):
        refused = stack(command, "postgres")
        assert refused.returncode != 0
        assert "unknown service 'postgres': one of a b nginx db migrate maintenance" in refused.stderr
