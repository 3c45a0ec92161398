"""scripts/write-env.sh: the secrets go into a fresh file of mode 0600, never through a path
someone else prepared (a planted .env.tmp symlink or world-readable file)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

WRITE_ENV = ROOT / "scripts" / "write-env.sh"


def write_env(path: Path, services: str = "a b") -> subprocess.CompletedProcess:
    # (Without ./stack test's own SSO_DEPLOYMENT: the name made here is the one checked.)
    env = {key: value for key, value in os.environ.items() if key != "SSO_DEPLOYMENT"}
    env["SSO_SERVICE_NAMES"] = services
    return subprocess.run([str(WRITE_ENV), str(path)], capture_output=True, text=True, timeout=30, env=env)


def secrets(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_writes_fresh_secrets_readable_by_the_owner_only(tmp_path):
    result = write_env(tmp_path / ".env")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    values = secrets(tmp_path / ".env")
    name = values.pop("SSO_DEPLOYMENT")
    assert set(values) == {"SECRET_KEY", "POSTGRES_PASSWORD", "SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD"}
    assert all(len(value) == 64 for value in values.values())
    # The deployment's name: the folder's name as a slug, then 4 random letters and digits.
    assert re.fullmatch(r"[a-z][a-z0-9-]*-[a-z0-9]{4}", name) and len(name) <= 24, name
    assert [path.name for path in tmp_path.iterdir()] == [".env"]  # no temporary file left


def test_each_declared_service_gets_the_password_of_its_role(tmp_path):
    result = write_env(tmp_path / ".env", services="a b wiki")
    assert result.returncode == 0, result.stderr
    values = secrets(tmp_path / ".env")
    assert {name for name in values if name.endswith("_DB_PASSWORD")} == {
        "SYSTEM_A_DB_PASSWORD",
        "SYSTEM_B_DB_PASSWORD",
        "SYSTEM_WIKI_DB_PASSWORD",
    }
    assert len({values[name] for name in values if name.endswith("_DB_PASSWORD")}) == 3


def test_without_the_services_nothing_is_written(tmp_path):
    for services in ("", "a B", "a;b"):
        result = write_env(tmp_path / ".env", services=services)
        assert result.returncode == 2 and "must be the declared services' names" in result.stderr
        assert not (tmp_path / ".env").exists()


def test_a_planted_tmp_symlink_is_not_written_through(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("untouched\n")
    (tmp_path / ".env.tmp").symlink_to(target)
    result = write_env(tmp_path / ".env")
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "untouched\n"
    assert not (tmp_path / ".env").is_symlink()
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert "SECRET_KEY" in secrets(tmp_path / ".env")


def test_a_planted_world_readable_tmp_file_does_not_become_the_env_file(tmp_path):
    planted = tmp_path / ".env.tmp"
    planted.write_text("")
    planted.chmod(0o666)
    result = write_env(tmp_path / ".env")
    assert result.returncode == 0, result.stderr
    assert planted.read_text() == ""  # the secrets never passed through it
    assert (tmp_path / ".env").stat().st_ino != planted.stat().st_ino
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600


def test_an_existing_env_file_is_kept(tmp_path):
    (tmp_path / ".env").write_text("SECRET_KEY=mine\n")
    result = write_env(tmp_path / ".env")
    assert result.returncode == 0
    assert "keeping it" in result.stderr
    assert (tmp_path / ".env").read_text() == "SECRET_KEY=mine\n"


def test_a_service_declared_later_gets_its_password_from_env_force(tmp_path):
    """envtool.py (./stack's check before every start, and ./stack env --force) wants a password for
    each service services.toml declares: a service added later is named, then given one."""
    env_file = tmp_path / ".env"
    assert write_env(env_file).returncode == 0
    before = secrets(env_file)
    declaration = tmp_path / "services.toml"
    declaration.write_text(
        (ROOT / "services.toml").read_text()
        + '\n[services.wiki]\ntitle = "Wiki"\nproject = "wiki"\nsettings = "s"\nrequirements = "r"\n'
    )
    envtool = [sys.executable, "-I", str(ROOT / "scripts" / "envtool.py")]
    env = {"PATH": "/usr/bin:/bin", "SSO_SERVICES_FILE": str(declaration)}
    checked = subprocess.run([*envtool, "check", str(env_file)], env=env, capture_output=True, text=True)
    assert checked.returncode == 1 and "SYSTEM_WIKI_DB_PASSWORD is not set" in checked.stderr
    repaired = subprocess.run([*envtool, "repair", str(env_file)], env=env, capture_output=True, text=True)
    assert repaired.returncode == 0, repaired.stderr
    after = secrets(env_file)
    assert len(after.pop("SYSTEM_WIKI_DB_PASSWORD")) == 64
    assert after == before  # every other secret kept
    assert subprocess.run([*envtool, "check", str(env_file)], env=env, capture_output=True).returncode == 0
