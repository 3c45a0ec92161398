"""One .env, one meaning: the values a native service gets from ./stack, the values Docker
Compose hands a container and the values decouple reads are the same strings."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, run_stack, stack_environment

ENV_FILE = r"""# Values with every character Compose's .env rules treat specially.
SERVER_NAMES=example.test  other.test   # two names; this comment is not part of them
SECRET_KEY='single-quoted: $SERVER_NAMES stays, "double" quotes stay, # stays, \n stays'
SYSTEM_A_DB_PASSWORD="double-quoted: \"escaped\", it's, \$literal, ${SERVER_NAMES}, # kept, tab\there"
SYSTEM_B_DB_PASSWORD=unquoted#hash $$dollar ${UNSET_IN_THIS_TEST:-default value} # comment
POSTGRES_PASSWORD=plain-postgres-password
"""
EXPECTED = {
    "SERVER_NAMES": "example.test  other.test",
    "SECRET_KEY": 'single-quoted: $SERVER_NAMES stays, "double" quotes stay, # stays, \\n stays',
    "SYSTEM_A_DB_PASSWORD": 'double-quoted: "escaped", it\'s, $literal, example.test  other.test, # kept, tab\there',
    "SYSTEM_B_DB_PASSWORD": "unquoted#hash $dollar default value",
}
SERVICE_VARIABLES = ["ALLOWED_HOSTS", "DB_PASSWORD", "SECRET_KEY"]
PRINT_SERVICE_VALUES = f"import json, os; print(json.dumps({{k: os.environ[k] for k in {SERVICE_VARIABLES!r}}}))"
READ_WITH_DECOUPLE = (
    "import json; from sso_shared.environment.values import env; "
    f"print(json.dumps({{k: env(k) for k in {sorted(EXPECTED)!r}}}))"
)


@pytest.fixture
def env_file(tmp_path) -> Path:
    path = tmp_path / "stack.env"
    path.write_text(ENV_FILE)
    return path


def test_a_native_service_gets_the_values_compose_rules_give(tmp_path, state, env_file):
    env = stack_environment(tmp_path, state)
    (state / "mode").write_text("native\n")  # as ./stack up --native leaves it
    for service in ("a", "b"):
        # The service's own process: its manage.py, started by ./stack with its environment,
        # which holds its own password as DB_PASSWORD and SERVER_NAMES as ALLOWED_HOSTS.
        script = f"{PRINT_SERVICE_VALUES}; import django.conf; print(json.dumps(django.conf.settings.SECRET_KEY))"
        result = run_stack("manage", service, "shell", "-c", script, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        values_line, secret_key_line = result.stdout.strip().splitlines()[-2:]
        assert json.loads(values_line) == {
            "ALLOWED_HOSTS": EXPECTED["SERVER_NAMES"].replace(" ", ","),
            "DB_PASSWORD": EXPECTED[f"SYSTEM_{service.upper()}_DB_PASSWORD"],
            "SECRET_KEY": EXPECTED["SECRET_KEY"],
        }
        assert json.loads(secret_key_line) == EXPECTED["SECRET_KEY"]


# A container of the base image receiving each value the way compose.yaml hands it over:
# secrets from .env variables as files in /run/secrets, other settings as its environment.
PROBE_COMPOSE = r"""
services:
  probe:
    image: ${BASE_IMAGE}
    environment:
      SERVER_NAMES: ${SERVER_NAMES}
    secrets: [secret_key, system_a_db_password, system_b_db_password]
    entrypoint: ["bash", "-c"]
    command:
      - |
        for name in secret_key system_a_db_password system_b_db_password; do
          printf '%s\0' "$$(cat /run/secrets/$$name)"
        done
        printf '%s\0' "$$SERVER_NAMES"
secrets:
  secret_key: {environment: SECRET_KEY}
  system_a_db_password: {environment: SYSTEM_A_DB_PASSWORD}
  system_b_db_password: {environment: SYSTEM_B_DB_PASSWORD}
"""


def base_image() -> str | None:
    for image in (os.environ.get("BASE_IMAGE"), "sso-base/debian:bookworm-slim", "debian:bookworm-slim"):
        if image and subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
            return image
    return None


def test_compose_gives_a_container_the_same_values(env_file, tmp_path):
    if not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        pytest.skip("Docker Compose v2 is not installed here; the same values are checked for ./stack and decouple")
    image = base_image()
    if image is None:
        pytest.skip("no base image here (docker/build-base-image.sh builds it); ./stack and decouple are checked")
    compose_file = tmp_path / "probe.yaml"
    compose_file.write_text(PROBE_COMPOSE)
    compose = ["docker", "compose", "-f", str(compose_file), "--env-file", str(env_file), "-p", "sso-env-file-test"]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "BASE_IMAGE": image}
    try:
        result = subprocess.run(
            [*compose, "run", "--rm", "-T", "probe"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        # `run --rm` removes the container, not the project's network.
        subprocess.run([*compose, "down"], env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    received = dict(zip(["SECRET_KEY", "SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD", "SERVER_NAMES"],
                        result.stdout.split("\0")[:4], strict=True))  # fmt: skip
    assert received == EXPECTED


def test_decouple_reads_the_same_values_from_env_file(env_file):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", READ_WITH_DECOUPLE],
        env={"PATH": os.environ["PATH"], "ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED
