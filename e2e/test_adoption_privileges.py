"""A crafted legacy project adopted into the running stack: it takes over nobody here, unless told to (issue 24).

The crafted project (a real Django project, e2e/legacy/project.py) names a user who is here
already, with the same email, its own password and a last login in 2030, logged in there; a
superuser; and a group with the name of a group here granting sso_shared.change_user and
auth.add_permission (rows for apps it does not have). Adopted with no option, none of that
reaches anybody here; adopted again (under another source name) with the options, each does.
"""

import secrets
import subprocess

import pytest

from .client import SiteClient
from .conftest import BASE_URL, STACK, VERIFY, create_user_in_admin, manage, new_password
from .legacy.project import build

TAG = secrets.token_hex(3)
VIC, BOSS, HELPDESK = f"vic-{TAG}", f"boss-{TAG}", f"Helpdesk {TAG}"
HERE_PASSWORD, CRAFTED_PASSWORD, BOSS_PASSWORD = new_password(), new_password(), new_password()
OPTIONS = (
    "--keep-superusers",
    "--merge-group-permissions",
    "--join-existing-groups",
    "--merge-user-permissions",
    "--take-passwords",
    "--take-sessions",
)
GROUP_PERMISSIONS = (
    "from django.contrib.auth.models import Group; "
    f"print(sorted(f'{{p.content_type.app_label}}.{{p.codename}}' for p in Group.objects.get(name={HELPDESK!r})"
    ".permissions.all()))"
)


def stack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], capture_output=True, text=True, timeout=180)


def adopt(project, source: str, *more: str) -> subprocess.CompletedProcess:
    file = str(project.database)
    return stack(
        "adopt", "a", "--from", file, "--secret-key-file", str(project.secret_key_file), "--name", source, *more
    )


def logs_in(username: str, password: str) -> SiteClient | None:
    site = SiteClient(BASE_URL, verify=VERIFY)
    return site if site.login(username, password).status_code == 302 else None


def who_the_legacy_cookie_is(value: str) -> str | None:
    site = SiteClient(BASE_URL, verify=VERIFY)
    site.http.cookies.set("sessionid", value)
    return site.whoami("a")["username"]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, admin_credentials):
    admin = SiteClient(BASE_URL, verify=VERIFY)
    assert admin.login(*admin_credentials).status_code == 302
    create_user_in_admin(admin, VIC, HERE_PASSWORD)
    manage("a", "shell", "-c", (
        "from django.contrib.auth import get_user_model; from django.contrib.auth.models import Group, Permission; "
        f"get_user_model().objects.filter(username={VIC!r}).update(email={VIC + '@example.com'!r}); "
        f"Group.objects.create(name={HELPDESK!r}).permissions.add(Permission.objects.get(codename='view_user'))"
    ))  # fmt: skip
    project = build(
        tmp_path_factory.mktemp("crafted") / "intake",
        "intake",
        {HELPDESK: ["sso_shared.change_user", "auth.add_permission"]},
        [
            {"username": VIC, "email": f"{VIC.upper()}@example.com", "password": CRAFTED_PASSWORD,
             "groups": [HELPDESK], "logged_in": True, "last_login": "2030-01-01T00:00:00+00:00"},
            {"username": BOSS, "email": f"{BOSS}@example.com", "password": BOSS_PASSWORD, "superuser": True,
             "groups": [HELPDESK]},
        ],
        crafted_permissions=[("sso_shared", "user", "change_user")],
    )  # fmt: skip
    seen = {"dry run": adopt(project, f"crafted-{TAG}", "--dry-run")}
    seen["adopt"] = adopt(project, f"crafted-{TAG}")
    seen["vic here"] = logs_in(VIC, HERE_PASSWORD) is not None
    seen["vic crafted"] = logs_in(VIC, CRAFTED_PASSWORD) is not None
    seen["vic cookie"] = who_the_legacy_cookie_is(project.cookies[VIC])
    boss = logs_in(BOSS, BOSS_PASSWORD)
    seen["boss users page"] = boss.get("/a/admin/sso_shared/user/").status_code if boss else None
    seen["helpdesk"] = manage("a", "shell", "-v", "0", "-c", GROUP_PERMISSIONS).strip()

    seen["adopt with options"] = adopt(project, f"crafted-again-{TAG}", *OPTIONS)
    seen["vic crafted after"] = logs_in(VIC, CRAFTED_PASSWORD) is not None
    seen["vic cookie after"] = who_the_legacy_cookie_is(project.cookies[VIC])
    boss = logs_in(BOSS, BOSS_PASSWORD)
    seen["boss users page after"] = boss.get("/a/admin/sso_shared/user/").status_code if boss else None
    seen["helpdesk after"] = manage("a", "shell", "-v", "0", "-c", GROUP_PERMISSIONS).strip()
    yield seen

    manage("a", "shell", "-c", (
        "from django.contrib.auth import get_user_model; from django.contrib.auth.models import Group; "
        f"get_user_model().objects.filter(username__in={[VIC, BOSS]!r}).delete(); "
        f"Group.objects.filter(name={HELPDESK!r}).delete()"
    ))  # fmt: skip


def test_the_dry_run_lists_what_the_crafted_source_would_bring_and_which_option_lets_it_in(crafted):
    result = crafted["dry run"]
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    for line in (
        f"  {VIC} (one user with {VIC} here)",
        "    - password: the source's (last login there 2030-01-01 00:00 UTC (in the future), here ",
        f"    - group {HELPDESK} (exists here) (--merge-user-permissions --join-existing-groups)",
        "    - 1 logged-in session (each logs a browser in as this user) (--take-sessions)",
        f"  {BOSS} (new)",
        "    + password (the source's hash)",
        "    - superuser status (--keep-superusers)",
        f"  {HELPDESK} (exists here): permissions to add: 0",
        "    - sso_shared.change_user (--merge-group-permissions)",
        "    - auth.add_permission (--merge-group-permissions)",
    ):
        assert line in report, report
    assert "Left out: " in report and "Dry run: nothing was changed." in report


def test_by_default_the_crafted_source_takes_over_nobody(crafted):
    assert crafted["adopt"].returncode == 0, crafted["adopt"].stdout + crafted["adopt"].stderr
    assert crafted["vic here"] and not crafted["vic crafted"]
    assert crafted["vic cookie"] is None
    assert crafted["boss users page"] == 403  # staff, not a superuser: no right to see the users
    assert crafted["helpdesk"] == "['sso_shared.view_user']"


def test_each_option_lets_its_part_in(crafted):
    assert crafted["adopt with options"].returncode == 0, crafted["adopt with options"].stderr
    assert crafted["vic crafted after"]
    assert crafted["vic cookie after"] == VIC
    assert crafted["boss users page after"] == 200
    assert crafted["helpdesk after"] == "['auth.add_permission', 'sso_shared.change_user', 'sso_shared.view_user']"
