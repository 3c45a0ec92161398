"""The service refuses to start without a real SECRET_KEY, and says what to set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SERVICE_DIR = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me-to-a-long-random-string-from-./stack-env-" + "x" * 10


def run_check(**overrides):
    env = {**os.environ, **overrides}
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=SERVICE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "SECRET_KEY is not set"),
        (PLACEHOLDER, "SECRET_KEY still holds the placeholder from .env.example"),
        ("k" * 50, "SECRET_KEY has too little variety (1 different character, at least 5 needed)"),
    ],
)
def test_check_refuses_without_a_real_secret_key(value, message):
    result = run_check(SECRET_KEY=value, SECRET_KEY_FILE=None)
    assert result.returncode != 0
    assert message in result.stderr
    assert "./stack env" in result.stderr


def test_wsgi_application_refuses_to_load_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRET_KEY_FILE"}}
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=SERVICE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_passes_with_the_secret_from_the_environment():
    result = run_check()
    assert result.returncode == 0, result.stderr
