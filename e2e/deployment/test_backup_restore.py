"""./stack backup and ./stack restore on the Compose deployment: backed up while it runs, wiped
(its database volume deleted), restored: the same cookie is still logged in on A and B.
(The refusals are the same code on both targets; scripts/tests/test_backup_restore.py checks them.)"""

import secrets
from pathlib import Path

from ..client import SESSION_COOKIE, SiteClient
from .conftest import PROJECT, ROOT, compose, run


def test_backup_wipe_restore_keeps_the_same_cookie_logged_in(site, user, base_url, tmp_path):
    username, password = user
    assert site.login(username, password).status_code == 302
    title = f"before-backup-{secrets.token_hex(3)}"
    assert site.post_form("/a/", {"title": title, "details": ""}, allow_redirects=False).status_code == 302
    cookie = site.session_cookie

    backup = tmp_path / "site.tar"
    backed_up = run(str(ROOT / "stack"), "backup", str(backup))
    assert Path(backed_up.stdout.strip().splitlines()[-1]) == backup.resolve()
    # The site ran on through the backup.
    assert site.whoami("b")["username"] == username

    run(str(ROOT / "stack"), "down", "--volumes")
    assert compose("ps", "-aq").stdout.strip() == ""
    assert run("docker", "volume", "ls", "-q", "--filter", f"name={PROJECT}_db-data").stdout.strip() == ""

    restored = run(str(ROOT / "stack"), "restore", str(backup))
    assert restored.stdout.strip().splitlines()[-1] == base_url

    again = SiteClient(base_url)
    again.http.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1", path="/")
    assert again.whoami("a") == {"service": "a", "authenticated": True, "username": username}
    assert again.whoami("b") == {"service": "b", "authenticated": True, "username": username}
    assert title in again.get("/a/").text
