"""The offline bundle: built here, installed with no network at all, upgraded in place."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from e2e.client import SiteClient

from .conftest import (
    PORT_BASE,
    ROOT,
    build_bundle,
    e2e_suite,
    manifest,
    offline,
    remove_images,
    run,
    stack_down,
    unpack,
)


def install_env(port: int, project: str) -> dict:
    return {"STACK_PORT": str(port), "STACK_COMPOSE_PROJECT": project}


def test_bundle_holds_images_wheels_manifest_and_checksums(bundle_dir):
    names = {path.name for path in bundle_dir.iterdir()}
    assert {
        "install.sh",
        "compose.yaml",
        "nginx",
        ".env.example",
        "stack",
        "README.md",
        "MANIFEST",
        "SHA256SUMS",
    } <= names
    assert {name.split(":")[0] for name, _ in manifest(bundle_dir, "image")} == {"sso/app", "sso/db", "sso/nginx"}
    wheels = manifest(bundle_dir, "wheel")
    for arch in ("linux_x86_64", "linux_aarch64"):
        packages = {name.lower(): version for path, name, version in wheels if path.startswith(arch + "/")}
        assert packages["django"] == "5.2.19"
        assert "psycopg2_binary" in packages and "sso_shared" in packages
    listed = {line.split(maxsplit=1)[1] for line in (bundle_dir / "SHA256SUMS").read_text().splitlines()}
    on_disk = {str(p.relative_to(bundle_dir)) for p in bundle_dir.rglob("*") if p.is_file() and p.name != "SHA256SUMS"}
    assert listed == on_disk
    assert not (bundle_dir / ".env").exists()
    assert not list(bundle_dir.glob("docker/extra-ca/*.crt"))


def test_install_with_no_network_then_the_e2e_suite_passes(bundle_dir, tmp_path):
    prefix, port, project = tmp_path / "opt", PORT_BASE, f"sso-offline-{PORT_BASE}"
    remove_images(bundle_dir)
    try:
        result = offline(bundle_dir / "install.sh", "--prefix", prefix, env=install_env(port, project))
        assert "./stack manage a createsuperuser" in result.stdout
        assert (prefix / ".env").stat().st_mode & 0o077 == 0
        suite = e2e_suite(bundle_dir, f"http://127.0.0.1:{port}/", prefix / "stack")
        assert suite.returncode == 0, suite.stdout[-4000:]
        assert re.search(r"\d+ passed", suite.stdout)

        env_before = (prefix / ".env").read_text()
        again = offline(bundle_dir / "install.sh", "--prefix", prefix, env=install_env(port, project))
        assert "all services are healthy" in again.stdout
        assert (prefix / ".env").read_text() == env_before
    finally:
        stack_down(prefix)


def test_native_stack_from_the_wheelhouse_with_no_network(bundle, tmp_path):
    arch = os.uname().machine
    # PostgreSQL and the services run as unprivileged users, who must reach the
    # release, its venv and the data folder: none of them under pytest's 0700 tmp_path.
    state = Path(tempfile.mkdtemp(prefix="sso-native-"))
    state.chmod(0o755)
    bundle_dir = unpack(bundle, state / "unpacked")
    port = PORT_BASE + 10
    env = {
        "STACK_WHEELHOUSE": str(bundle_dir / "wheels" / f"linux_{arch}"),
        "STACK_VENV": str(state / "venv"),
        "STACK_STATE": str(state / "state"),
        "STACK_ENV_FILE": str(tmp_path / "env"),
        "STACK_PORT": str(port),
        "STACK_PG_PORT": str(port + 1),
        "STACK_A_PORT": str(port + 2),
        "STACK_B_PORT": str(port + 3),
        "E2E_BASE_URL": f"http://127.0.0.1:{port}/",
        "E2E_STACK": str(bundle_dir / "stack"),
    }
    suite = f"{ROOT}/.venv/bin/pytest -q -p no:cacheprovider e2e --ignore e2e/deployment --ignore e2e/offline"
    script = f"ip link set lo up && ./stack up --native && {{ {suite}; status=$?; ./stack down; exit $status; }}"
    try:
        result = offline("bash", "-c", script, env=env, cwd=bundle_dir, check=False)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
        assert re.search(r"\d+ passed", result.stdout)
        pip_list = run(state / "venv" / "bin" / "pip", "list", "--format=freeze").stdout
        assert "Django==5.2.19" in pip_list
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_a_corrupted_file_stops_the_install_before_any_change(bundle_dir, tmp_path):
    prefix = tmp_path / "opt"
    compose_file = bundle_dir / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("read_only: true", "read_only: false"))
    images_before = set(run("docker", "image", "ls", "-q", "--no-trunc").stdout.split())
    result = offline(bundle_dir / "install.sh", "--prefix", prefix, check=False)
    assert result.returncode != 0
    assert "compose.yaml: FAILED" in result.stderr
    assert "the bundle is damaged" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert not prefix.exists()
    assert set(run("docker", "image", "ls", "-q", "--no-trunc").stdout.split()) == images_before


def test_a_taken_port_is_refused_before_any_change(bundle_dir, tmp_path):
    prefix = tmp_path / "opt"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(bundle_dir / "install.sh", "--prefix", prefix, env=install_env(port, "sso-busy"), check=False)
    assert result.returncode != 0
    assert f"port {port} is in use by another program" in result.stderr
    assert not prefix.exists()


@pytest.mark.parametrize(
    ("engine", "compose", "message"),
    [
        ("19.03.15", "2.40.3", "Docker Engine 19.03.15 is too old"),
        ("28.2.2", "1.29.2", "Docker Compose 1.29.2 is too old"),
    ],
)
def test_old_docker_or_compose_is_refused(bundle_dir, tmp_path, engine, compose, message):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        "#!/bin/sh\n"
        f'case "$*" in "version --format"*) echo {engine};;\n'
        f'  "compose version --short") echo {compose};;\n'
        "  *) exit 1;;\nesac\n"
    )
    (fake / "docker").chmod(0o755)
    result = run(
        bundle_dir / "install.sh", "--prefix", tmp_path / "opt", env={"PATH": f"{fake}:/usr/bin:/bin"}, check=False
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "opt").exists()


def django_version(prefix: Path) -> str:
    shell = run(prefix / "stack", "manage", "a", "shell", "-v", "0", "-c", "import django; print(django.get_version())")
    return shell.stdout.strip()


def test_upgrade_from_the_previous_commit_on_the_previous_django_keeps_users_logged_in(bundle, tmp_path):
    """An install of the previous commit on the previous Django patch release, upgraded with this bundle."""
    if run("git", "-C", ROOT, "rev-parse", "--verify", "-q", "HEAD~1", check=False).returncode != 0:
        pytest.skip("this clone has no previous commit to upgrade from")
    previous = {"SSO_REQUIREMENTS": "e2e/upgrade/requirements-previous-django.txt"}
    old_dir = unpack(build_bundle("HEAD~1", tmp_path / "old-dist", env=previous), tmp_path / "old")
    new_dir = unpack(bundle, tmp_path / "new")
    prefix, port, project = tmp_path / "opt", PORT_BASE + 20, f"sso-upgrade-{PORT_BASE}"
    env = install_env(port, project)
    try:
        offline(old_dir / "install.sh", "--prefix", prefix, env=env)
        password = "upgrade-" + os.urandom(8).hex()
        run(
            prefix / "stack", "manage", "a", "createsuperuser", "--noinput", "--username", "carol",
            "--email", "carol@example.com", env={"DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        assert django_version(prefix) == "5.2.18"
        browser = SiteClient(f"http://127.0.0.1:{port}/")
        assert browser.login("carol", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True

        upgrade = offline(new_dir / "install.sh", "--prefix", prefix, env=env)
        assert django_version(prefix) == "5.2.19"
        [backup] = (prefix / "backups").iterdir()
        assert f"The databases as they were before this upgrade are in {backup}" in upgrade.stdout
        assert sorted(path.name for path in backup.glob("*.dump")) == [
            "sso_auth.dump",
            "system_a.dump",
            "system_b.dump",
        ]
        db_image = f"sso/db:{manifest(new_dir, 'bundle')[0][1]}"
        listing = run("docker", "run", "--rm", "--user", "0", "-v", f"{backup}:/backup:ro",
                      "--entrypoint", "pg_restore", db_image, "--list", "/backup/sso_auth.dump")  # fmt: skip
        assert "TABLE public sso_user" in listing.stdout
        new_version = manifest(new_dir, "bundle")[0][1]
        images = run("docker", "compose", "-p", project, "ps", "--format", "{{.Image}}", cwd=prefix).stdout.split()
        assert images and all(image.endswith(":" + new_version) for image in images), images

        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "carol"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "carol"}
    finally:
        stack_down(prefix)
        subprocess.run(["rm", "-rf", str(tmp_path / "old"), str(tmp_path / "new")], check=False)
