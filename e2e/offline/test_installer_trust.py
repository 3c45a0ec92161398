"""What install.sh trusts, on a small hand-made bundle (no images to build) and a stand-in docker
that only records its calls: a signature by the site's key, every file listed in the signed
SHA256SUMS, and an installed tree only root may change. The real bundle: test_offline_bundle.py."""

import hashlib
import os
import socket
import tarfile
from pathlib import Path

import pytest

from .conftest import ROOT, not_root_safe, run, sign, unpack_as_unprivileged_user, unprivileged_ids

FAKE_DOCKER = """#!/bin/sh
echo "$*" >>"$0.calls"
case "$*" in
  "version --format"*) echo 28.2.2 ;;
  "compose version --short") echo 2.40.3 ;;
esac
"""


def write_checksums(folder: Path) -> None:
    """SHA256SUMS as ./stack bundle writes it: every file but itself, sorted."""
    files = sorted(
        str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file() and path.name != "SHA256SUMS"
    )
    lines = [f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n" for name in files]
    (folder / "SHA256SUMS").write_text("".join(lines))


def make_bundle(folder: Path, key) -> Path:
    bundle = folder / "sso-fake-1"
    (bundle / "images").mkdir(parents=True)
    (bundle / "docs").mkdir()
    scripts = ("offline/install.sh", "scripts/write-env.sh", "scripts/database-owners.sh", "scripts/deployment-name.sh")
    for script in scripts:
        target = bundle / Path(script).name
        target.write_bytes((ROOT / script).read_bytes())
        target.chmod(0o755)
    (bundle / "stack").write_text('#!/bin/sh\necho "the release\'s own stack"\n')
    (bundle / "stack").chmod(0o755)
    (bundle / "compose.yaml").write_text("services: {}\n")
    (bundle / "MANIFEST").write_text("bundle sso fake-1\n")
    # The release's services, as ./stack bundle writes them from its services.toml.
    (bundle / "service-names").write_text("a b\n")
    (bundle / "docs" / "operations.md").write_text("# Operations\n")
    (bundle / "images" / "sso-images.tar").write_bytes(b"not really images")
    write_checksums(bundle)
    sign(bundle / "SHA256SUMS", key)
    return bundle


@pytest.fixture
def bundle_dir(tmp_path, signing_key) -> Path:
    return make_bundle(tmp_path / "unpacked", signing_key)


@pytest.fixture
def docker(tmp_path) -> Path:
    """A stand-in docker on PATH; its calls land in docker.calls."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "docker").write_text(FAKE_DOCKER)
    (folder / "docker").chmod(0o755)
    return folder / "docker"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install(bundle_dir: Path, prefix: Path, docker: Path, *args) -> object:
    env = {"PATH": f"{docker.parent}:/usr/sbin:/usr/bin:/sbin:/bin", "STACK_PORT": str(free_port())}
    return run(bundle_dir / "install.sh", "--prefix", prefix, *args, env=env, check=False)


def docker_calls(docker: Path) -> list[str]:
    calls = Path(f"{docker}.calls")
    return calls.read_text().splitlines() if calls.exists() else []


def assert_refused_before_any_change(result, prefix: Path, docker: Path, *messages: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    for message in messages:
        assert message in result.stderr
    assert "Nothing was changed" in result.stderr
    assert not prefix.exists()
    assert docker_calls(docker) == []  # not even asked for its version: no image loaded


def test_a_bundle_signed_with_the_sites_key_installs(bundle_dir, tmp_path, docker, signing_key):
    prefix = tmp_path / "opt"
    result = install(bundle_dir, prefix, docker, "--public-key", signing_key.public)
    assert result.returncode == 0, result.stderr
    assert "the signature of SHA256SUMS is good" in result.stderr
    assert "Installed sso fake-1" in result.stdout
    assert any(call.startswith("load -q -i ") for call in docker_calls(docker))
    assert (prefix / "bundle-signing.pub").read_bytes() == signing_key.public.read_bytes()
    assert (prefix / ".env").stat().st_mode & 0o777 == 0o600
    assert not (prefix / "SHA256SUMS.minisig").exists() and not (prefix / "images").exists()


def test_an_unsigned_bundle_is_refused(bundle_dir, tmp_path, docker, signing_key):
    (bundle_dir / "SHA256SUMS.minisig").unlink()
    result = install(bundle_dir, tmp_path / "opt", docker, "--public-key", signing_key.public)
    assert_refused_before_any_change(result, tmp_path / "opt", docker, "the bundle is not signed")


def test_a_bundle_signed_with_another_key_is_refused(bundle_dir, tmp_path, docker, signing_key, other_key):
    sign(bundle_dir / "SHA256SUMS", other_key)
    result = install(bundle_dir, tmp_path / "opt", docker, "--public-key", signing_key.public)
    assert_refused_before_any_change(
        result, tmp_path / "opt", docker, "signature does not match the public key", str(signing_key.public)
    )


def test_a_changed_sha256sums_is_refused(bundle_dir, tmp_path, docker, signing_key):
    """Listing a planted file in SHA256SUMS breaks its signature."""
    (bundle_dir / "evil.sh").write_text("#!/bin/sh\nid\n")
    write_checksums(bundle_dir)
    result = install(bundle_dir, tmp_path / "opt", docker, "--public-key", signing_key.public)
    assert_refused_before_any_change(result, tmp_path / "opt", docker, "signature does not match")


@pytest.mark.parametrize(
    ("planted", "shown"),
    [
        (".env", ".env"),
        ("evil.sh", "evil.sh"),
        ("docs/evil.sh", "docs/evil.sh"),
        ("hooks/", "hooks"),
        ("link", "link"),
    ],
)
def test_a_file_that_sha256sums_does_not_list_is_refused(bundle_dir, tmp_path, docker, signing_key, planted, shown):
    path = bundle_dir / planted
    if planted.endswith("/"):
        path.mkdir()
    elif planted == "link":
        path.symlink_to("/etc/passwd")
    else:
        path.write_text("SECRET_KEY=chosen-by-the-attacker\n")
    result = install(bundle_dir, tmp_path / "opt", docker, "--public-key", signing_key.public)
    assert_refused_before_any_change(result, tmp_path / "opt", docker, f"not in SHA256SUMS: {shown}\n", "does not list")


def test_no_public_key_is_refused_with_the_way_to_give_one(bundle_dir, tmp_path, docker):
    result = install(bundle_dir, tmp_path / "opt", docker)
    assert_refused_before_any_change(result, tmp_path / "opt", docker, "./install.sh --public-key FILE")


def test_the_pinned_key_checks_later_installs(bundle_dir, tmp_path, docker, signing_key, other_key):
    prefix = tmp_path / "opt"
    assert install(bundle_dir, prefix, docker, "--public-key", signing_key.public).returncode == 0
    again = install(bundle_dir, prefix, docker)  # no --public-key: the pinned one
    assert again.returncode == 0, again.stderr
    assert f"key {prefix}/bundle-signing.pub" in again.stderr
    before = sorted(str(path) for path in prefix.rglob("*"))

    other = install(bundle_dir, prefix, docker, "--public-key", other_key.public)
    assert other.returncode != 0
    assert f"is not the key pinned in {prefix}/bundle-signing.pub" in other.stderr
    sign(bundle_dir / "SHA256SUMS", other_key)
    forged = install(bundle_dir, prefix, docker)
    assert forged.returncode != 0
    assert "signature does not match the public key" in forged.stderr
    assert sorted(str(path) for path in prefix.rglob("*")) == before
    assert (prefix / "bundle-signing.pub").read_bytes() == signing_key.public.read_bytes()


def test_a_bundle_unpacked_by_a_user_installs_owned_by_root(tmp_path, docker, signing_key, unprivileged_folder):
    made = make_bundle(tmp_path / "made", signing_key)
    tarball = tmp_path / "sso-fake-1-offline.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(made, arcname=made.name)
    bundle_dir = unpack_as_unprivileged_user(tarball, unprivileged_folder)
    assert (bundle_dir / "stack").stat().st_uid != 0 and (bundle_dir / "stack").stat().st_mode & 0o022

    prefix = tmp_path / "opt"
    # As an install by the earlier installer left it: owners and modes copied from the bundle.
    (prefix / "docs").mkdir(parents=True)
    for path in (prefix, prefix / "docs"):
        os.chown(path, *unprivileged_ids())
        path.chmod(0o777)
    # Root writes into no folder another user may change: refused, with what to do, nothing changed.
    refused = install(bundle_dir, prefix, docker, "--public-key", signing_key.public)
    assert refused.returncode != 0
    assert f"{prefix} is not a folder only root may write to" in refused.stderr
    assert "make it root's (chown root:root, chmod go-w)" in refused.stderr
    assert not (prefix / "stack").exists()
    # The administrator does so; what is inside it (docs/, the user's) becomes root's with the install.
    os.chown(prefix, 0, 0)
    prefix.chmod(0o755)
    result = install(bundle_dir, prefix, docker, "--public-key", signing_key.public)
    assert result.returncode == 0, result.stderr
    assert (prefix / "stack").is_file() and (prefix / "docs" / "operations.md").is_file()
    assert not_root_safe(prefix) == []
    assert (prefix / "stack").stat().st_mode & 0o111  # still runnable
    assert (prefix / ".env").stat().st_mode & 0o777 == 0o600
