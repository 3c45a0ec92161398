"""The Swarm stack keeps answering while its tasks die, scale and roll over (docs/swarm.md).

Each test runs a bounded load (load.py) through nginx on loopback while it changes the stack,
then asserts what users saw: no failed login, no failed answer (beyond what the test allows and
names), no lost session. The figures are printed.
"""

import os
import subprocess
import time

import pytest

from ..client import SiteClient
from ..conftest import BASE_URL, ROOT, STACK, create_user_in_admin, new_password, unique
from .load import Load

SWARM_STACK = os.environ.get("E2E_SWARM_STACK", "sso")
VERSION = os.environ.get("SSO_VERSION", "dev")
# The rebuilt image of the rolling update test (60-test.sh removes these tags afterwards).
ROLLED_VERSION = f"{VERSION}-rolled"
UPDATE_STATE = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
SETTLE_SECONDS = 4  # nginx keeps a DNS answer 2s: long enough for it to see the change


def docker(*args: str, timeout: int = 300) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def service(name: str) -> str:
    return f"{SWARM_STACK}_{name}"


def task_containers(name: str) -> list[str]:
    return docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service(name)}").split()


def task_addresses(name: str) -> set[str]:
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    return {address for c in task_containers(name) for address in docker("inspect", "--format", template, c).split()}


def wait_until_running(name: str, replicas: int, timeout: int = 240) -> None:
    """Every task running (Swarm counts a task with a healthcheck only once it is healthy), no update on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = docker("service", "ls", "--filter", f"name={service(name)}", "--format", "{{.Name}} {{.Replicas}}")
        update = docker("service", "inspect", "--format", UPDATE_STATE, service(name))
        if f"{service(name)} {replicas}/{replicas}" in shown.splitlines() and update.strip() != "updating":
            return
        time.sleep(1)
    pytest.fail(f"{service(name)} did not get back to {replicas} running replicas within {timeout}s")


def upstreams_used_since(since: str, prefix: str) -> set[str]:
    """The replica addresses nginx's access log names (up=) for requests under a prefix."""
    log = docker("service", "logs", "--raw", "--since", since, service("nginx"))
    used = set()
    for line in log.splitlines():
        if f'"GET {prefix}' in line and " up=" in line:
            for address in line.rsplit(" up=", 1)[1].split(", "):
                used.add(address.rsplit(":", 1)[0])
    return used


def image_of(name: str) -> str:
    return docker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service(name)).strip()


@pytest.fixture(scope="module")
def load_user(admin_credentials) -> tuple[str, str]:
    admin = SiteClient(BASE_URL)
    assert admin.login(*admin_credentials).status_code == 302
    username, password = unique("load"), new_password()
    create_user_in_admin(admin, username, password)
    return username, password


def report(load: Load, what: str) -> None:
    print(f"\n[swarm] {what}: {load.summary()}")


def test_one_replica_of_b_killed_costs_no_login_and_no_session(load_user):
    wait_until_running("system_b", 2)
    victim = task_containers("system_b")[0]
    with Load(BASE_URL, *load_user) as load:
        time.sleep(SETTLE_SECONDS)
        kill_sent = time.monotonic()
        docker("kill", victim)
        killed_at = time.monotonic()  # the replica died between the two
        time.sleep(SETTLE_SECONDS)
        # Swarm starts a replacement; it gets traffic once healthy.
        wait_until_running("system_b", 2)
        time.sleep(SETTLE_SECONDS)
    report(load, "one replica of B killed")
    in_flight = [a for a in load.answers if a.kind == "b" and a.started <= killed_at and a.ended >= kill_sent]
    assert load.failures("login") == [], load.first_failures()
    assert load.failures("a") == [], load.first_failures()
    # Only a request on the killed replica at that moment may fail (nginx retries idempotent ones, so
    # normally none does); every other answer from B is a good one, for the same user.
    assert [a for a in load.failures("b") if a not in in_flight] == []
    assert load.count("b", after=killed_at) >= 10
    assert load.count("login", after=killed_at) >= 1


def test_scaling_b_from_2_to_4_and_back_under_load(load_user):
    wait_until_running("system_b", 2)
    since = docker("info", "--format", "{{json .SystemTime}}").strip().strip('"')
    with Load(BASE_URL, *load_user) as load:
        time.sleep(SETTLE_SECONDS)
        docker("service", "scale", "--detach=false", f"{service('system_b')}=4")
        wait_until_running("system_b", 4)
        four = task_addresses("system_b")
        # Enough requests after nginx's DNS answer expired for every replica to get some.
        time.sleep(3 * SETTLE_SECONDS)
        docker("service", "scale", "--detach=false", f"{service('system_b')}=2")
        wait_until_running("system_b", 2)
        time.sleep(SETTLE_SECONDS)
    report(load, "B scaled 2 -> 4 -> 2")
    assert load.failures() == [], load.first_failures()
    assert len(four) == 4
    # nginx found the new replicas by itself: each of the four answered requests.
    assert four <= upstreams_used_since(since, "/b/")


def test_rolling_update_of_both_services_to_a_rebuilt_image_under_load(load_user):
    # A rebuilt app image (one label more); the database's and nginx's images are the same ones.
    dockerfile = f"FROM {SWARM_STACK}/app:{VERSION}\nLABEL sso.test.rolled={time.time_ns()}\n"
    subprocess.run(
        ["docker", "build", "-q", "-t", f"{SWARM_STACK}/app:{ROLLED_VERSION}", "-"],
        input=dockerfile,
        text=True,
        check=True,
        capture_output=True,
        timeout=300,
    )
    for image in ("db", "nginx"):
        docker("tag", f"{SWARM_STACK}/{image}:{VERSION}", f"{SWARM_STACK}/{image}:{ROLLED_VERSION}")
    before = {name: image_of(name) for name in ("db", "nginx", "system_a", "system_b")}
    # Posters too: a POST that reached a replica nginx may not send again, so a replica that stops
    # accepting while nginx still sends it requests shows here as a 502 (docs/swarm.md, the drain).
    with Load(BASE_URL, *load_user, posters=3) as load:
        time.sleep(SETTLE_SECONDS)
        result = subprocess.run(
            [STACK, "up", "--swarm"],
            env={**os.environ, "SSO_VERSION": ROLLED_VERSION, "STACK_NO_BUILD": "1"},
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        time.sleep(SETTLE_SECONDS)
    report(load, "rolling update of A and B")
    assert result.returncode == 0, result.stderr[-3000:]
    assert load.failures() == [], load.first_failures()
    assert load.count("login") >= 2
    assert load.count("post") >= 100
    # Both services run the rebuilt image now; the database and nginx were left running as they were.
    assert image_of("system_a") == image_of("system_b") == f"{SWARM_STACK}/app:{ROLLED_VERSION}"
    assert {name: image_of(name) for name in ("db", "nginx")} == {k: before[k] for k in ("db", "nginx")}
