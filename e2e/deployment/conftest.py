"""Checks of the Docker Compose deployment itself, run by ./stack test against the compose target only."""

import json
import os
import secrets as random
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Checks of the Compose deployment: only against it (./stack test sets E2E_TARGET=compose).
if os.environ.get("E2E_TARGET") != "compose":
    collect_ignore_glob = ["test_*.py"]
PROJECT = os.environ.get("E2E_COMPOSE_PROJECT", "sso")
TAG = os.environ.get("SSO_VERSION", "dev")
IMAGES = ("app", "db", "nginx")
ENV_FILE = os.environ.get("E2E_ENV_FILE", str(ROOT / ".env"))
SECRET_NAMES = ("SECRET_KEY", "POSTGRES_PASSWORD", "SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD")


def run(*args: str, env: dict | None = None, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    # A value of None removes the variable (./stack test exports the secrets it loaded).
    merged = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    result = subprocess.run(args, capture_output=True, text=True, env=merged, cwd=ROOT, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def compose(*args: str, project: str = PROJECT, env_file: str = ENV_FILE, **kwargs) -> subprocess.CompletedProcess:
    return run("docker", "compose", "--env-file", env_file, "-p", project, *args, **kwargs)


def container_id(service: str) -> str:
    return compose("ps", "-q", service).stdout.strip()


def inspect(ref: str, kind: str = "container") -> dict:
    return json.loads(run("docker", kind, "inspect", ref).stdout)[0]


@pytest.fixture
def throwaway_project():
    """make(PREFIX) names a Compose project of its own for one test, with the tested deployment's
    images tagged as its own (compose.yaml names a project's images after it), so it starts with no
    build; the tags go again after the test."""
    made = []

    def make(prefix: str) -> str:
        project = f"{prefix}-{random.token_hex(3)}"
        for image in IMAGES:
            run("docker", "tag", f"{PROJECT}/{image}:{TAG}", f"{project}/{image}:{TAG}")
        made.append(project)
        return project

    yield make
    for project in made:
        run("docker", "image", "rm", *(f"{project}/{image}:{TAG}" for image in IMAGES), check=False)


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    values = {}
    for line in Path(ENV_FILE).read_text().splitlines():
        key, _, value = line.partition("=")
        if key in SECRET_NAMES and value:
            values[key] = value
    assert set(values) == set(SECRET_NAMES)
    return values


@pytest.fixture(scope="session")
def images() -> list[str]:
    config = json.loads(compose("config", "--format", "json").stdout)
    return sorted({service["image"] for service in config["services"].values()})
