"""Compose brings a killed service back: restart policy plus healthcheck, proved (docs/failures.md)."""

import json
import time

import requests

from .conftest import compose, container_id


def health(service: str) -> str:
    rows = [json.loads(line) for line in compose("ps", "-a", "--format", "json", service).stdout.splitlines() if line]
    return rows[0]["Health"] if rows else ""


def test_a_killed_gunicorn_master_is_restarted_and_healthy_again_and_a_keeps_working(base_url):
    before = container_id("system_b")
    # gunicorn's master is the only child of the container's init (tini, `init: true`).
    compose("exec", "-T", "system_b", "sh", "-c", "kill -KILL $(cat /proc/1/task/1/children)")
    deadline = time.monotonic() + 20
    page = None
    while time.monotonic() < deadline:
        page = requests.get(f"{base_url}b/", timeout=10)
        if page.status_code != 302:  # B still answering (a logged-out visitor is sent to the login)
            break
        time.sleep(0.1)
    assert page.status_code in (502, 503, 504), page.status_code
    assert "<h1>System B · Review is not available right now</h1>" in page.text
    assert requests.get(f"{base_url}a/whoami", timeout=10).status_code == 200
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and health("system_b") != "healthy":
        time.sleep(1)
    assert health("system_b") == "healthy"
    assert container_id("system_b") == before  # the same container, restarted by Docker
    assert requests.get(f"{base_url}b/", timeout=10, allow_redirects=False).status_code == 302
    assert requests.get(f"{base_url}b/health", timeout=10).json()["ok"] is True
