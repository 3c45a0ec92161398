"""Fixtures for the offline-bundle tests: bundles built by ./stack bundle, unpacked."""

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Heavy (builds two bundles, removes images from the engine): only when asked, as ./stack test does.
if not os.environ.get("E2E_OFFLINE"):
    collect_ignore_glob = ["test_*.py"]
PORT_BASE = int(os.environ.get("E2E_OFFLINE_PORT_BASE", "18400"))
PYTEST = str(ROOT / ".venv" / "bin" / "pytest")


def run(*args, env=None, check=True, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        env={**installed_env(), **(env or {})},
        timeout=timeout,
        **kwargs,
    )
    if check:
        assert result.returncode == 0, (
            f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def offline(*args, **kwargs) -> subprocess.CompletedProcess:
    """Run a command in a network namespace of its own: no network at all, not even loopback."""
    return run("unshare", "--net", *args, **kwargs)


@dataclass(frozen=True)
class SigningKey:
    secret: Path
    public: Path


def make_signing_key(folder: Path) -> SigningKey:
    """A throwaway key pair made by ./stack bundle-key, as an operator makes the site's."""
    secret = folder / "bundle-signing.key"
    run(ROOT / "stack", "bundle-key", env={"STACK_SIGNING_KEY": str(secret)})
    return SigningKey(secret, folder / "bundle-signing.pub")


def sign(file: Path, key: SigningKey) -> None:
    run("minisign", "-S", "-s", key.secret, "-m", file, "-x", f"{file}.minisig", "-t", file.name)


def build_bundle(ref: str, out: Path, key: SigningKey, env=None) -> Path:
    env = {"STACK_SIGNING_KEY": str(key.secret), **(env or {})}
    result = run(ROOT / "stack", "bundle", "--ref", ref, "--out", out, env=env)
    bundle = Path(result.stdout.strip().splitlines()[-1])
    assert bundle.is_file() and bundle.name.endswith("-offline.tar.gz")
    return bundle


def with_its_own_installer(bundle_dir: Path, ref: str, key: SigningKey) -> None:
    """./stack bundle --ref REF ships this checkout's installer with REF's source; a site of REF was
    installed with REF's own (as REF's ./stack bundle built it). Put back, SHA256SUMS made again and
    signed with the site's key."""
    for name, source in (
        ("install.sh", "offline/install.sh"),
        ("write-env.sh", "scripts/write-env.sh"),
        ("deployment-name.sh", "scripts/deployment-name.sh"),
    ):
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{source}"], capture_output=True, timeout=60)
        (bundle_dir / name).unlink(missing_ok=True)
        if shown.returncode == 0:
            (bundle_dir / name).write_bytes(shown.stdout)
            (bundle_dir / name).chmod(0o755)
    listed = sorted(
        str(path.relative_to(bundle_dir))
        for path in bundle_dir.rglob("*")
        if path.is_file() and path.name not in ("SHA256SUMS", "SHA256SUMS.minisig")
    )
    sums = run("sha256sum", *listed, cwd=bundle_dir).stdout
    (bundle_dir / "SHA256SUMS").write_text(sums)
    (bundle_dir / "SHA256SUMS.minisig").unlink()
    sign(bundle_dir / "SHA256SUMS", key)


def remove_deployment_images(project: str, bundle_dir: Path) -> None:
    """The tags install.sh gave the bundle's images for the deployment it installed (PROJECT/app:VERSION)."""
    for name, _image_id in manifest(bundle_dir, "image"):
        run("docker", "image", "rm", f"{project}/{name.split('/', 1)[1]}", check=False)


def unpack(bundle: Path, into: Path) -> Path:
    """As an operator unpacks it: with tar (Debian's Python 3.11.2 lacks tarfile's extraction filters)."""
    into.mkdir(parents=True, exist_ok=True)
    run("tar", "-xzf", bundle, "-C", into)
    (folder,) = into.iterdir()
    return folder


UNPRIVILEGED_USER = "nobody"


def unpack_as_unprivileged_user(bundle: Path, into: Path) -> Path:
    """Unpack as an ordinary user would, careless about modes: every file group- and world-writable."""
    script = 'umask 000 && tar -xzf - -C "$1" && chmod -R go+w "$1"'
    with bundle.open("rb") as tarball:
        run("runuser", "-u", UNPRIVILEGED_USER, "--", "sh", "-c", script, "sh", into, stdin=tarball)
    (folder,) = into.iterdir()
    return folder


def unprivileged_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


@pytest.fixture
def unprivileged_folder():
    """A folder of the unprivileged user's own, which it can reach (pytest's tmp_path it cannot)."""
    folder = Path(tempfile.mkdtemp(prefix="sso-unpacked-"))
    folder.chmod(0o755)
    os.chown(folder, *unprivileged_ids())
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def not_root_safe(prefix: Path) -> list[str]:
    """Installed paths that are not root's or that group or others may change (.env and backups/ aside)."""
    found = []
    for path in [prefix, *prefix.rglob("*")]:
        relative = path.relative_to(prefix)
        if relative.parts[:1] in ((".env",), ("backups",)) or path.is_symlink():
            continue
        status = path.stat()
        if status.st_uid != 0 or status.st_gid != 0 or status.st_mode & 0o022:
            found.append(f"{relative} uid={status.st_uid} mode={oct(status.st_mode & 0o7777)}")
    return found


def manifest(bundle_dir: Path, kind: str) -> list[list[str]]:
    return [
        line.split()[1:] for line in (bundle_dir / "MANIFEST").read_text().splitlines() if line.startswith(kind + " ")
    ]


def remove_images(bundle_dir: Path) -> None:
    """Take the bundle's images out of the engine, every tag of them, so the install must load them."""
    for name, image_id in manifest(bundle_dir, "image"):
        run("docker", "image", "rm", "-f", image_id, check=False)
        if run("docker", "image", "inspect", image_id, check=False).returncode == 0:
            # Builds are reproducible: another deployment on this host may run the very same image.
            label = '{{.Label "com.docker.compose.project.working_dir"}}'
            users = run("docker", "ps", "-a", "--filter", f"ancestor={image_id}", "--format",
                        f"{{{{.Names}}}} ({label})", check=False).stdout  # fmt: skip
            pytest.fail(f"{image_id} ({name}) is still present, used by containers: {users.splitlines() or 'none'}")


def installed_env() -> dict:
    """The environment for an installed copy: none of the test run's own STACK_*, SSO_* and COMPOSE_*
    settings (./stack exports its env file's COMPOSE_FILE, which would win over the install's own)."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("STACK_", "SSO_", "COMPOSE_"))}


def stack_down(prefix: Path) -> None:
    if (prefix / "stack").exists():
        result = subprocess.run(
            [str(prefix / "stack"), "down", "--volumes"], capture_output=True, text=True, env=installed_env()
        )
        assert result.returncode == 0, f"./stack down in {prefix} failed:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> SigningKey:
    """The test run's own key pair: never the operator's (STACK_SIGNING_KEY points here)."""
    return make_signing_key(tmp_path_factory.mktemp("signing-key"))


@pytest.fixture(scope="session")
def other_key(tmp_path_factory) -> SigningKey:
    """A key pair that is not the site's: what an attacker could sign with."""
    return make_signing_key(tmp_path_factory.mktemp("other-key"))


@pytest.fixture(scope="session")
def bundle(tmp_path_factory, signing_key) -> Path:
    """This commit's bundle, as ./stack bundle builds and signs it."""
    return build_bundle("HEAD", tmp_path_factory.mktemp("dist"), signing_key)


@pytest.fixture
def bundle_dir(bundle, tmp_path) -> Path:
    return unpack(bundle, tmp_path / "unpacked")


def e2e_suite(bundle_dir: Path, base_url: str, stack: Path, env=None) -> subprocess.CompletedProcess:
    """The bundle's own end-to-end suite (the one matching its code) against an installed system.
    It leaves nothing in the bundle (screenshots, bytecode): install.sh refuses a bundle with added files."""
    return run(
        PYTEST, "-q", "-p", "no:cacheprovider", bundle_dir / "e2e",
        "--ignore", bundle_dir / "e2e" / "deployment", "--ignore", bundle_dir / "e2e" / "offline",
        # An installed bundle runs under Docker Compose: its port proxy, not the client, is who nginx sees.
        env={"E2E_TARGET": "compose", "E2E_BASE_URL": base_url, "E2E_STACK": str(stack), "PYTHONDONTWRITEBYTECODE": "1",
             "E2E_SCREENSHOTS": str(bundle_dir.parent / "screenshots"), **(env or {})},
        check=False,
    )  # fmt: skip
