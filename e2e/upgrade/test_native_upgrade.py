"""Native: a site on the previous Django patch release, upgraded the ordinary way.

`./stack down`, new packages (the venv follows requirements.txt again), `./stack up`:
no hand step, and the person logged in before is still logged in on A and B.
"""

import os
import shutil
import subprocess

from e2e.client import SiteClient

from .conftest import PINNED_DJANGO, PORT_BASE, PREVIOUS_DJANGO, PREVIOUS_REQUIREMENTS, ROOT


def stack(*args: str, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(ROOT / "stack"), *args], capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, f"./stack {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def django_version(env: dict) -> str:
    return stack(
        "manage", "a", "shell", "-v", "0", "-c", "import django; print(django.get_version())", env=env
    ).stdout.strip()


def test_native_upgrade_to_the_pinned_django_keeps_everyone_logged_in():
    # Under the checkout (PostgreSQL's own user must reach it), next to ./stack test's state.
    here = ROOT / ".stack" / f"upgrade-{PORT_BASE}"
    shutil.rmtree(here, ignore_errors=True)
    port = PORT_BASE
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STACK_", "SSO_"))}
    env |= {
        "STACK_STATE": str(here / "state"),
        "STACK_ENV_FILE": str(here / "site.env"),
        "STACK_VENV": str(here / "venv"),
        "STACK_PORT": str(port),
        "STACK_HTTPS_PORT": str(port + 1),
        "STACK_PG_PORT": str(port + 4),
    }
    previous = {**env, "STACK_REQUIREMENTS": str(ROOT / PREVIOUS_REQUIREMENTS)}
    try:
        stack("up", "--native", env=previous)
        assert django_version(previous) == PREVIOUS_DJANGO
        password = "upgrade-" + os.urandom(8).hex()
        stack(
            "manage", "a", "createsuperuser", "--noinput", "--username", "nina", "--email", "nina@example.com",
            env={**previous, "DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        browser = SiteClient(f"http://127.0.0.1:{port}/")
        assert browser.login("nina", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True

        stack("down", env=previous)
        stack("up", "--native", env=env)

        assert django_version(env) == PINNED_DJANGO
        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "nina"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "nina"}
    finally:
        subprocess.run([str(ROOT / "stack"), "down", "--volumes"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(here, ignore_errors=True)
