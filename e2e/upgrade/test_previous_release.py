"""Compose: a site of the previous release (previous-release.txt), upgraded the ordinary way.

A clone at the previous release runs `./stack up --compose` (that release's ./stack, under the
Compose project its .env names: COMPOSE_PROJECT_NAME, as that release recorded it); someone logs
in. Then the clone's code becomes this checkout's (a `git pull`) and `./stack up --compose` runs
again. The deployment keeps its name (recorded in .env as SSO_DEPLOYMENT), its database volume
(the same PostgreSQL cluster in it) and the logged-in session, and now runs images named after it.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from e2e.client import SiteClient

from .conftest import PORT_BASE, ROOT, previous_release

PORT = PORT_BASE + 20
TAG = os.environ.get("SSO_VERSION", "dev")
OLD_TAG = f"{TAG}-previous-release"


def run(folder: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """As the site's operator runs it there: nothing of ./stack test's environment."""
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "STACK_PORT": str(PORT),
        "STACK_HTTPS_PORT": str(PORT + 1),
        **(env or {}),
    }
    result = subprocess.run(args, cwd=folder, env=environment, capture_output=True, text=True, timeout=1200)
    if check:
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def docker(*args: str) -> str:
    return run(ROOT, "docker", *args).stdout


def cluster_in(project: str) -> str:
    """The database volume's PostgreSQL cluster: its system identifier, made once by initdb. (Not the
    volume's CreatedAt: Docker reports its folder's last change there.)"""
    container = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                       "--filter", "label=com.docker.compose.service=db").strip()  # fmt: skip
    control = docker("exec", container, "pg_controldata", "/var/lib/postgresql/data")
    return f"{project}_db-data " + re.search(r"Database system identifier:\s+(\d+)", control).group(1)


def test_a_compose_site_of_the_previous_release_keeps_its_name_volume_and_sessions():
    (ROOT / ".stack").mkdir(exist_ok=True)
    site = Path(tempfile.mkdtemp(prefix="previous-release-", dir=ROOT / ".stack"))
    site.chmod(0o755)
    project = f"sso-previous-{PORT}"
    head = run(ROOT, "git", "rev-parse", "HEAD").stdout.strip()
    try:
        run(ROOT, "git", "clone", "-q", "--no-hardlinks", str(ROOT), str(site))
        run(site, "git", "checkout", "-q", "--detach", previous_release())
        # That release named the project by STACK_COMPOSE_PROJECT (recorded as COMPOSE_PROJECT_NAME)
        # and every image sso/...; its own tag keeps them apart from anyone's.
        run(site, "./stack", "up", "--compose", env={"STACK_COMPOSE_PROJECT": project, "SSO_VERSION": OLD_TAG})
        assert "SSO_DEPLOYMENT" not in (site / ".env").read_text()
        assert f"COMPOSE_PROJECT_NAME={project}" in (site / ".env").read_text()
        password = "previous-" + os.urandom(8).hex()
        run(site, "./stack", "manage", "a", "createsuperuser", "--noinput", "--username", "pia",
            "--email", "pia@example.com", env={"DJANGO_SUPERUSER_PASSWORD": password})  # fmt: skip
        browser = SiteClient(f"http://127.0.0.1:{PORT}/")
        assert browser.login("pia", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True
        cluster = cluster_in(project)

        run(site, "git", "checkout", "-q", "--detach", head)  # the upgrade: this checkout's code
        upgraded = run(site, "./stack", "up", "--compose", env={"SSO_VERSION": TAG})

        assert re.search(rf"^SSO_DEPLOYMENT={project}$", (site / ".env").read_text(), flags=re.M)
        assert f"recorded SSO_DEPLOYMENT={project}" in upgraded.stderr
        assert cluster_in(project) == cluster
        images = docker("ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Image}}")
        assert images.split() and all(image.startswith(f"{project}/") for image in images.split()), images
        labels = json.loads(docker("volume", "inspect", "--format", "{{json .Labels}}", f"{project}_identity"))
        assert labels == {"sso.deployment": project, "sso.deployment.folder": str(site)}
        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "pia"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "pia"}
        status = run(site, "./stack", "status")
        assert f"deployment {project} ({site})" in status.stderr
    finally:
        if (site / "stack").exists():
            run(site, "./stack", "down", "--volumes", check=False)
            run(site, "docker", "compose", "-p", project, "down", "--volumes", check=False)
        for image in ("app", "db", "nginx"):
            run(ROOT, "docker", "image", "rm", f"sso/{image}:{OLD_TAG}", f"{project}/{image}:{TAG}", check=False)
        shutil.rmtree(site, ignore_errors=True)
