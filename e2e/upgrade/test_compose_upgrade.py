"""Compose: a deployment on the previous Django patch release, upgraded with plain `docker compose up -d`.

New images, the same volume and .env: no hand step, and the person logged in
before is still logged in on A and B.
"""

import os
import secrets as random

from e2e.client import SiteClient
from e2e.deployment.conftest import compose, run

from .conftest import PINNED_DJANGO, PORT_BASE, PREVIOUS_DJANGO, PREVIOUS_REQUIREMENTS


def django_version(project: str, env: dict) -> str:
    shell = compose("exec", "-T", "system_a", "sso", "manage", "a", "shell", "-v", "0", "-c",
                    "import django; print(django.get_version())", project=project, env=env)  # fmt: skip
    return shell.stdout.strip()


def test_plain_compose_up_upgrades_to_the_pinned_django_and_keeps_everyone_logged_in(throwaway_project):
    project = throwaway_project("sso-upgrade")  # the pinned release's images: the tested deployment's
    port = PORT_BASE + 10
    env = {"STACK_PORT": str(port), "STACK_HTTPS_PORT": str(port + 1), "COMPOSE_BAKE": "false"}
    previous_tag = f"{os.environ.get('SSO_VERSION', 'dev')}-previous-django"
    previous = {**env, "SSO_VERSION": previous_tag, "SSO_REQUIREMENTS": PREVIOUS_REQUIREMENTS}
    try:
        compose("build", "-q", project=project, env=previous)
        compose("up", "-d", "--wait", project=project, env=previous)
        assert django_version(project, previous) == PREVIOUS_DJANGO
        password = "upgrade-" + random.token_hex(8)
        compose(
            "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD", "system_a", "sso", "manage", "a", "createsuperuser",
            "--noinput", "--username", "omar", "--email", "omar@example.com",
            project=project, env={**previous, "DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        browser = SiteClient(f"http://127.0.0.1:{port}/")
        assert browser.login("omar", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True

        compose("up", "-d", "--wait", project=project, env=env)  # the pinned release's images

        assert django_version(project, env) == PINNED_DJANGO
        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "omar"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "omar"}
    finally:
        compose("down", "--volumes", "--remove-orphans", project=project, env=env, check=False)
        for image in ("app", "db", "nginx"):
            run("docker", "image", "rm", f"{project}/{image}:{previous_tag}", check=False)
