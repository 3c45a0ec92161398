"""./stack backup and ./stack restore on the native stack, as an operator uses them.

Someone logs in and files a request on A and a review on B; the site is backed up while
it runs; it is wiped (stopped, PostgreSQL's data removed) and restored from the file: the
same browser cookie is still logged in on A and B, and what was there is back. Restores
that must be refused (over the running site, a damaged file, a file of a newer release,
another SECRET_KEY) say why and change nothing.
"""

import hashlib
import io
import json
import re
import secrets
import shutil
import stat
import tarfile
from pathlib import Path

import requests

from .conftest import PORT_BASE, run_stack, stack_environment

SESSION_COOKIE = "sso_sessionid"
CSRF_COOKIE = "sso_csrftoken"


class Browser:
    """One person's cookies; forms posted the way a browser posts them (CSRF token, Referer)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=15)

    def post(self, path: str, data: dict) -> requests.Response:
        self.get(path)
        form = {"csrfmiddlewaretoken": self.http.cookies[CSRF_COOKIE], **data}
        return self.http.post(
            self.base_url + path,
            data=form,
            headers={"Referer": self.base_url + path},
            timeout=15,
            allow_redirects=False,
        )

    def whoami(self, service: str) -> dict:
        return self.get(f"{service}/whoami").json()


def manage(env: dict, service: str, *args: str, **extra_env: str) -> str:
    result = run_stack("manage", service, *args, env={**env, **extra_env}, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rewrite_backup(source: Path, target: Path, change_manifest) -> None:
    """A copy whose manifest is changed and whose checksums agree with it (a whole file, not a damaged one)."""
    with tarfile.open(source) as tar:
        members = {member.name: tar.extractfile(member).read() for member in tar}
    manifest = json.loads(members["manifest.json"])
    change_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    sums = members["SHA256SUMS"].decode().splitlines()
    digest = hashlib.sha256(members["manifest.json"]).hexdigest()
    members["SHA256SUMS"] = "".join(
        f"{digest}  manifest.json\n" if line.endswith("  manifest.json") else f"{line}\n" for line in sums
    ).encode()
    with tarfile.open(target, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def damage(source: Path, target: Path) -> None:
    """One byte changed in the middle of the last dump, as a bad disk or copy would."""
    data = bytearray(source.read_bytes())
    data[len(data) * 3 // 4] ^= 0xFF
    target.write_bytes(bytes(data))


def test_backup_wipe_restore_keeps_people_logged_in_and_bad_restores_change_nothing(tmp_path, state):
    port = PORT_BASE + 10
    env = stack_environment(
        tmp_path, state, STACK_PORT=str(port), STACK_PG_PORT=str(port + 3), STACK_BACKUP_DIR=str(state / "backups")
    )
    base_url = f"http://127.0.0.1:{port}/"
    try:
        started = run_stack("up", "--native", env=env)
        assert started.returncode == 0, started.stderr

        # Someone with a group and a permission logs in and leaves a record on each service.
        username, password, group = (
            f"kim-{secrets.token_hex(3)}",
            secrets.token_urlsafe(16),
            f"reviewers-{secrets.token_hex(3)}",
        )
        manage(
            env,
            "a",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            "kim@example.com",
            DJANGO_SUPERUSER_PASSWORD=password,
        )
        manage(
            env,
            "a",
            "shell",
            "-c",
            (
                "from django.contrib.auth.models import Group, Permission; from sso_shared.models import User; "
                f"g = Group.objects.create(name='{group}'); "
                "g.permissions.add(Permission.objects.get(codename='view_review')); "
                f"User.objects.get(username='{username}').groups.add(g)"
            ),
        )
        browser = Browser(base_url)
        assert browser.post("a/accounts/login/", {"username": username, "password": password}).status_code == 302
        before, after = f"before-backup-{secrets.token_hex(3)}", f"after-backup-{secrets.token_hex(3)}"
        assert browser.post("a/", {"title": before, "details": ""}).status_code == 302
        assert browser.post("b/", {"subject": before, "verdict": "approved", "note": ""}).status_code == 302
        cookie = browser.http.cookies[SESSION_COOKIE]

        # The backup, while the site runs: the file's path is the last line, only its owner may read it.
        backed_up = run_stack("backup", env=env)
        assert backed_up.returncode == 0, backed_up.stderr
        backup = Path(backed_up.stdout.strip().splitlines()[-1])
        assert backup.parent == state / "backups"
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
        with tarfile.open(backup) as tar:
            assert tar.getnames() == ["SHA256SUMS", "manifest.json", "shared.dump", "system_a.dump", "system_b.dump"]
            manifest = json.loads(tar.extractfile("manifest.json").read())
        assert manifest["mode"] == "native"
        assert manifest["versions"]["sso_shared"] and manifest["versions"]["django"].startswith("5.2")
        assert manifest["layout"] == "schemas"
        assert "sso_shared.0001_initial" in manifest["migrations"]["shared"]
        assert "review.0001_initial" in manifest["migrations"]["system_b"]
        # SECRET_KEY is recorded as a fingerprint (an HMAC), never itself.
        assert re.fullmatch(r"[0-9a-f]{64}", manifest["secret_key_fingerprint"])
        secret_key = re.search(r"^SECRET_KEY=(.+)$", (tmp_path / "stack.env").read_text(), re.M).group(1)
        assert secret_key.encode() not in backup.read_bytes()
        # Written after the backup: a restore brings the site back to before it.
        assert browser.post("a/", {"title": after, "details": ""}).status_code == 302

        def assert_nothing_changed():
            assert browser.whoami("a")["username"] == username
            assert browser.whoami("b")["username"] == username
            assert after in browser.get("a/").text

        # Refused: over the running site without --force.
        refused = run_stack("restore", str(backup), env=env)
        assert refused.returncode != 0
        assert "the site is running" in refused.stderr and "Nothing was changed" in refused.stderr
        assert_nothing_changed()

        # Refused even with --force: a damaged file, a file of a newer release, another SECRET_KEY.
        damaged = tmp_path / "damaged.tar"
        damage(backup, damaged)
        refused = run_stack("restore", str(damaged), "--force", env=env)
        assert refused.returncode != 0
        assert "is damaged" in refused.stderr and "Nothing was changed" in refused.stderr
        assert_nothing_changed()

        newer = tmp_path / "newer.tar"

        def from_a_newer_release(manifest):
            manifest["versions"]["sso_shared"] = "99.0.0"
            manifest["migrations"]["shared"].append("sso_shared.9999_from_the_future")

        rewrite_backup(backup, newer, from_a_newer_release)
        refused = run_stack("restore", str(newer), "--force", env=env)
        assert refused.returncode != 0
        assert "newer release" in refused.stderr and "sso_shared 99.0.0" in refused.stderr
        assert "sso_shared.9999_from_the_future" in refused.stderr and "Nothing was changed" in refused.stderr
        assert_nothing_changed()

        other_key = {"SECRET_KEY": secrets.token_urlsafe(60)}
        refused = run_stack("restore", str(backup), "--force", env={**env, **other_key})
        assert refused.returncode != 0
        assert "SECRET_KEY is not the one the backup was taken with" in refused.stderr
        assert "Nothing was changed" in refused.stderr
        assert_nothing_changed()

        # Wiped: stopped, PostgreSQL's data gone.
        assert run_stack("down", env=env).returncode == 0
        shutil.rmtree(state / "pg")
        assert not (state / "pg").exists()
        # A damaged file on the stopped site: refused, nothing started or created.
        refused = run_stack("restore", str(damaged), env=env)
        assert refused.returncode != 0 and "is damaged" in refused.stderr
        assert not (state / "pg").exists() and not (state / "mode").exists()

        restored = run_stack("restore", str(backup), env=env)
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.strip().splitlines()[-1] == base_url

        # The same cookie, in a browser that kept it, is logged in on both services.
        again = Browser(base_url)
        again.http.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1", path="/")
        assert again.whoami("a") == {"service": "a", "authenticated": True, "username": username}
        assert again.whoami("b") == {"service": "b", "authenticated": True, "username": username}
        page_a, page_b = again.get("a/").text, again.get("b/").text
        assert before in page_a and after not in page_a
        assert before in page_b
        memberships = manage(
            env,
            "a",
            "shell",
            "-c",
            (
                "from sso_shared.models import User; "
                f"u = User.objects.get(username='{username}'); g = u.groups.get(name='{group}'); "
                "print('restored:', u.is_superuser, g.permissions.filter(codename='view_review').exists())"
            ),
        )
        assert memberships.strip().splitlines()[-1] == "restored: True True"
    finally:
        stopped = run_stack("down", env=env)
        assert stopped.returncode == 0, stopped.stderr
