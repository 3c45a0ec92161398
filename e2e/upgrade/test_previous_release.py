"""A site of the previous release (previous-release.txt), upgraded the ordinary way, natively, under
Compose and under Swarm.

A clone at the previous release runs `./stack up` (that release's ./stack; under Compose, in the
project its .env names: COMPOSE_PROJECT_NAME, as that release recorded it); someone logs in and
files a request on A and a review on B. Then the clone's code becomes this checkout's (a `git pull`;
natively after `./stack down`) and `./stack up` runs again. That release kept the data in three
databases: the upgrade backs them up and moves them into the schemas of one database. The
deployment keeps its name (recorded in .env as SSO_DEPLOYMENT), its database (under Compose the
same PostgreSQL cluster in the same volume), the rows and the logged-in session; under Compose it
now runs images named after it. Natively, a move that fails first (its backup cannot be made) changes
nothing, and ./stack up moves the site once the cause is gone.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

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


def superuser_sql(site: Path, database: str, sql: str) -> str:
    """As the site's operator would, with psql and the superuser's password from .env (natively)."""
    password = re.search(r"^POSTGRES_PASSWORD=(.+)$", (site / ".env").read_text(), flags=re.M).group(1)
    return run(site, "psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(PORT + 4), "-U", "postgres",
               "-d", database, "-c", sql, env={"PGPASSWORD": password}).stdout.strip()  # fmt: skip


def rows_named(site: Path, database: str, table: str, column: str, value: str) -> str:
    assert re.fullmatch(r"[\w .-]+", value)  # the test's own titles: no quoting needed
    return superuser_sql(site, database, f"SELECT count(*) FROM {table} WHERE {column} = '{value}'")  # noqa: S608


@contextmanager
def database_started_by_hand(site: Path):
    """The site's PostgreSQL, started with pg_ctl as its own OS user (the stack is down), as an operator would."""
    (data,) = site.glob(".stack/*/pg/data")
    (pg_ctl,) = Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")
    options = f"-c port={PORT + 4} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data.parent / 'run'}"
    as_owner = ["runuser", "-u", data.owner(), "--", str(pg_ctl), "-D", str(data), "-w"]
    run(site, *as_owner, "-l", "/dev/null", "-o", options, "start")
    try:
        yield
    finally:
        run(site, *as_owner, "-m", "fast", "stop")


def a_failed_move_changes_nothing_and_up_tries_again(site: Path, title: str, new_env: dict) -> None:
    """A table of the superuser's in B's old database, which B's role cannot dump: the backup before the move
    fails. The three databases are as they were; once the table is gone, ./stack up moves the site."""
    failed = run(site, "./stack", "up", "--native", env=new_env, check=False)
    assert failed.returncode != 0
    assert (
        "the backup before the move failed (above): nothing was moved or changed. Run ./stack up again once "
        "that is fixed." in failed.stderr
    ), failed.stderr[-3000:]
    assert not list((site / "backups").glob("*-before-schemas.tar"))
    with database_started_by_hand(site):
        assert rows_named(site, "system_b", "public.review_review", "subject", title) == "1"
        assert rows_named(site, "system_a", "public.intake_request", "title", title) == "1"
        assert superuser_sql(site, "sso", "SELECT to_regclass('system_b.review_review') IS NULL") == "t"
        superuser_sql(site, "system_b", "DROP TABLE public.move_blocker")


def file_rows(browser: SiteClient, title: str) -> None:
    filed = browser.post_form("/a/", {"title": title, "details": ""}, allow_redirects=False)
    reviewed = browser.post_form("/b/", {"subject": title, "verdict": "approved", "note": ""}, allow_redirects=False)
    assert (filed.status_code, reviewed.status_code) == (302, 302)


MODES = ["swarm"] if os.environ.get("E2E_TARGET") == "swarm" else ["native", "compose"]


@pytest.mark.parametrize("mode", MODES)
def test_a_site_of_the_previous_release_moves_into_schemas_keeping_its_name_rows_and_sessions(mode):
    (ROOT / ".stack").mkdir(exist_ok=True)
    site = Path(tempfile.mkdtemp(prefix="previous-release-", dir=ROOT / ".stack"))
    site.chmod(0o755)
    project = f"sso-previous-{PORT}"
    # Natively, a PostgreSQL port of its own (the previous release's default may be taken).
    old_env = {"STACK_COMPOSE_PROJECT": project, "SSO_VERSION": OLD_TAG, "STACK_PG_PORT": str(PORT + 4)}
    new_env = {"SSO_VERSION": TAG, "STACK_PG_PORT": str(PORT + 4)}
    head = run(ROOT, "git", "rev-parse", "HEAD").stdout.strip()
    try:
        run(ROOT, "git", "clone", "-q", "--no-hardlinks", str(ROOT), str(site))
        run(site, "git", "checkout", "-q", "--detach", previous_release())
        # That release named the project by STACK_COMPOSE_PROJECT (recorded as COMPOSE_PROJECT_NAME)
        # and every image sso/...; its own tag keeps them apart from anyone's.
        run(site, "./stack", "up", f"--{mode}", env=old_env)
        assert "SSO_DEPLOYMENT" not in (site / ".env").read_text()
        if mode in ("compose", "swarm"):
            assert f"COMPOSE_PROJECT_NAME={project}" in (site / ".env").read_text()
        password = "previous-" + os.urandom(8).hex()
        run(site, "./stack", "manage", "a", "createsuperuser", "--noinput", "--username", "pia",
            "--email", "pia@example.com", env={**old_env, "DJANGO_SUPERUSER_PASSWORD": password})  # fmt: skip
        browser = SiteClient(f"http://127.0.0.1:{PORT}/")
        assert browser.login("pia", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True
        title = "filed before the upgrade " + os.urandom(3).hex()
        file_rows(browser, title)
        cluster = cluster_in(project) if mode == "compose" else None

        if mode == "native":
            superuser_sql(site, "system_b", "CREATE TABLE public.move_blocker (note text)")  # undumpable by B
            run(site, "./stack", "down", env=old_env)
        run(site, "git", "checkout", "-q", "--detach", head)  # the upgrade: this checkout's code
        if mode == "native":
            a_failed_move_changes_nothing_and_up_tries_again(site, title, new_env)
        upgraded = run(site, "./stack", "up", f"--{mode}", env=new_env)

        assert "moving it into the schemas of one database, after a backup" in upgraded.stderr
        assert [path.name.endswith("-before-schemas.tar") for path in (site / "backups").iterdir()] == [True]
        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "pia"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "pia"}
        assert title in browser.get("/a/").text and title in browser.get("/b/").text
        layout = run(site, "./stack", "manage", "b", "shell", "-v", "0", "-c",
                     "from django.db import connection; c = connection.cursor(); "
                     "c.execute('SELECT current_schemas(false)'); print(c.fetchone()[0])", env=new_env)  # fmt: skip
        assert layout.stdout.strip() == "['system_b', 'shared']"
        if mode == "swarm":
            assert re.search(rf"^SSO_DEPLOYMENT={project}$", (site / ".env").read_text(), flags=re.M)
            assert "stopping" in upgraded.stderr and "of the release before for the move" in upgraded.stderr
            services = docker("stack", "services", project, "--format", "{{.Name}} {{.Image}}").split("\n")
            images = [line.split()[1] for line in services if line.strip()]
            assert images and all(image.startswith(f"{project}/") for image in images), services
        if mode == "compose":
            assert re.search(rf"^SSO_DEPLOYMENT={project}$", (site / ".env").read_text(), flags=re.M)
            assert f"recorded SSO_DEPLOYMENT={project}" in upgraded.stderr
            assert cluster_in(project) == cluster
            images = docker("ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Image}}")
            assert images.split() and all(image.startswith(f"{project}/") for image in images.split()), images
            labels = json.loads(docker("volume", "inspect", "--format", "{{json .Labels}}", f"{project}_identity"))
            assert labels == {"sso.deployment": project, "sso.deployment.folder": str(site)}
            status = run(site, "./stack", "status")
            assert f"deployment {project} ({site})" in status.stderr
    finally:
        if (site / "stack").exists():
            run(site, "./stack", "down", "--volumes", env=new_env, check=False)
            if mode == "compose":
                run(site, "docker", "compose", "-p", project, "down", "--volumes", check=False)
            if mode == "swarm":
                run(site, "docker", "stack", "rm", project, check=False)
        for image in ("app", "db", "nginx"):
            run(ROOT, "docker", "image", "rm", f"sso/{image}:{OLD_TAG}", f"{project}/{image}:{TAG}", check=False)
        shutil.rmtree(site, ignore_errors=True)
