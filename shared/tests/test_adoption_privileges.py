"""Adoption never raises a privilege held here nor brings a credential to a user here, unless an option names it.

Crafted legacy databases (tests.test_adoption.Legacy, SQLite with Django's auth columns) against
users and groups that exist here: a user claiming a last login in 2030, a superuser, a group
granting sso_shared.change_user and auth.add_permission under the name of a group here. Each is
left out by default and let in by its option only; the dry run lists every item.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from sso_shared.access.service_access import access_group, access_group_name
from sso_shared.adoption import adoption, plan
from sso_shared.adoption.privileges import Options

from .test_adoption import LEGACY_KEY, OLD_PASSWORD, Legacy

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
HERE_PASSWORD = "the-password-here-1"
VIC_COOKIE = "vic-cookie-value-000000000000000"
CRAFTED_LOGIN = "2030-01-01 00:00:00"


class Crafted(Legacy):
    """A legacy database whose rows say whatever its author wants."""

    def set(self, pk: int, **columns) -> None:
        for column, value in columns.items():
            self.db.execute(f"UPDATE auth_user SET {column} = ? WHERE id = ?", (value, pk))  # noqa: S608

    def permission(self, app_label: str, model: str, codename: str) -> int:
        found = self.db.execute(
            "SELECT id FROM django_content_type WHERE app_label = ? AND model = ?", (app_label, model)
        ).fetchone()
        content_type = found[0] if found else self.db.execute(
            "INSERT INTO django_content_type (app_label, model) VALUES (?, ?)", (app_label, model)
        ).lastrowid  # fmt: skip
        return self.db.execute(
            "INSERT INTO auth_permission (content_type_id, codename, name) VALUES (?, ?, ?)",
            (content_type, codename, codename),
        ).lastrowid

    def group(self, name: str, permissions: list[int], members: list[int]) -> None:
        group = self.db.execute("INSERT INTO auth_group (name) VALUES (?)", (name,)).lastrowid
        for permission in permissions:
            self.db.execute(
                "INSERT INTO auth_group_permissions (group_id, permission_id) VALUES (?, ?)", (group, permission)
            )
        for member in members:
            self.db.execute("INSERT INTO auth_user_groups (user_id, group_id) VALUES (?, ?)", (member, group))


@pytest.fixture
def here():
    """What exists here before: vic (a user, logged in here in 2025) and the group Helpdesk (view_user only)."""
    vic = User.objects.create_user("vic", "vic@example.com", HERE_PASSWORD)
    User.objects.filter(pk=vic.pk).update(last_login=datetime(2025, 3, 1, tzinfo=UTC))
    helpdesk = Group.objects.create(name="Helpdesk")
    helpdesk.permissions.add(Permission.objects.get(content_type__app_label="sso_shared", codename="view_user"))
    return {"vic": User.objects.get(pk=vic.pk), "helpdesk": helpdesk}


@pytest.fixture
def crafted(here):
    """vic again (same email) with a known password and a 2030 login, a superuser boss, Helpdesk granting more."""
    source = Crafted()
    source.user(1, "vic", "VIC@example.com")
    source.set(1, last_login=CRAFTED_LOGIN, is_staff=1)
    source.logged_in(VIC_COOKIE, 1)
    source.user(2, "boss", "boss@example.com")
    source.set(2, is_superuser=1, is_staff=1)
    change_user = source.permission("sso_shared", "user", "change_user")
    add_permission = source.permission("auth", "permission", "add_permission")
    source.group("Helpdesk", [change_user, add_permission], members=[1, 2])
    source.group("Night shift", [source.permission("sso_shared", "user", "view_user")], members=[1])
    return source


def adopt(source: Legacy, **options):
    found = adoption.survey(
        source.inputs(), service="a", source="crafted", cookie="sessionid", options=Options(**options)
    )
    assert found.users.clashes == []
    adoption.apply(found)
    return found


def helpdesk_permissions() -> set[str]:
    group = Group.objects.get(name="Helpdesk")
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def logged_in_by_legacy_cookie(value: str) -> str | None:
    browser = Client()
    browser.cookies["sessionid"] = value
    return browser.get("/whoami").json()["username"]


def test_a_crafted_last_login_in_2030_replaces_no_password_and_carries_no_session(crafted, here):
    found = adopt(crafted)
    [vic] = found.users.of(plan.MERGE)
    vic_here = User.objects.get(username="vic")
    assert vic_here.check_password(HERE_PASSWORD) and not vic_here.check_password(OLD_PASSWORD)
    assert vic_here.last_login == datetime(2025, 3, 1, tzinfo=UTC)  # a claim in the future is not believed
    assert found.sessions_left_out == 1 and found.sessions_to_carry == []
    assert logged_in_by_legacy_cookie(VIC_COOKIE) is None


def test_take_passwords_lets_the_source_password_in_and_nothing_else(crafted):
    adopt(crafted, take_passwords=True)
    vic_here = User.objects.get(username="vic")
    assert vic_here.check_password(OLD_PASSWORD)
    assert logged_in_by_legacy_cookie(VIC_COOKIE) is None
    assert not vic_here.is_staff and not vic_here.groups.filter(name="Night shift").exists()


def test_take_sessions_carries_the_sessions_of_a_user_here_and_leaves_the_password(crafted):
    adopt(crafted, take_sessions=True)
    assert logged_in_by_legacy_cookie(VIC_COOKIE) == "vic"
    assert User.objects.get(username="vic").check_password(HERE_PASSWORD)


def test_a_rerun_without_take_sessions_carries_no_session_of_a_user_adopted_before(crafted):
    adopt(crafted)
    again = adoption.survey(crafted.inputs(), service="a", source="crafted", cookie="sessionid")
    assert [user.action for user in again.users.users] == [plan.ALREADY, plan.ALREADY]
    assert again.sessions_to_carry == [] and again.sessions_left_out == 1
    assert not again.changes_anything()


def test_a_source_superuser_comes_in_without_superuser_status_unless_kept(crafted):
    adopt(crafted)
    boss = User.objects.get(username="boss")
    assert not boss.is_superuser and boss.is_staff
    assert not boss.has_perm("sso_shared.change_user")


def test_keep_superusers_keeps_them(crafted, here):
    crafted.set(1, is_superuser=1)
    adopt(crafted, keep_superusers=True)
    assert User.objects.get(username="boss").is_superuser
    assert User.objects.get(username="vic").is_superuser  # raised here too: the option says so


def test_a_source_group_adds_no_permission_to_the_group_here_of_its_name_and_nobody_joins_it(crafted):
    adopt(crafted)
    assert helpdesk_permissions() == {"sso_shared.view_user"}
    assert not Group.objects.get(name="Helpdesk").user_set.exists()
    assert not User.objects.get(username="boss").has_perm("sso_shared.change_user")


def test_merge_group_permissions_adds_them_and_join_existing_groups_lets_members_in(crafted):
    adopt(crafted, merge_group_permissions=True)
    assert helpdesk_permissions() == {"sso_shared.view_user", "sso_shared.change_user", "auth.add_permission"}
    assert not Group.objects.get(name="Helpdesk").user_set.exists()


def test_join_existing_groups_lets_new_users_join_and_nothing_more(crafted):
    adopt(crafted, join_existing_groups=True)
    boss = User.objects.get(username="boss")
    assert list(boss.groups.filter(name="Helpdesk")) == [Group.objects.get(name="Helpdesk")]
    assert helpdesk_permissions() == {"sso_shared.view_user"}
    # vic was here before: joining takes --merge-user-permissions too.
    assert not User.objects.get(username="vic").groups.filter(name="Helpdesk").exists()


def test_a_user_here_gets_no_staff_status_group_or_access_unless_merge_user_permissions(crafted, here):
    adopt(crafted)
    vic = User.objects.get(username="vic")
    assert not vic.is_staff
    assert set(vic.groups.values_list("name", flat=True)) == set(here["vic"].groups.values_list("name", flat=True))
    Group.objects.get(name="Night shift")  # made: it is new, with what the source gives it


def test_merge_user_permissions_gives_a_user_here_what_the_source_gives_them(crafted):
    access_group("a").user_set.remove(User.objects.get(username="vic"))
    adopt(crafted, merge_user_permissions=True)
    vic = User.objects.get(username="vic")
    assert vic.is_staff
    joined = set(vic.groups.values_list("name", flat=True))
    assert {access_group_name("a"), "Night shift"} <= joined and "Helpdesk" not in joined
    assert vic.has_perm("sso_shared.view_user") and not vic.has_perm("sso_shared.change_user")


def test_an_access_groups_permissions_are_never_merged_whatever_the_options(here):
    source = Crafted()
    source.user(1, "eve", "eve@example.com")
    source.group(access_group_name("b"), [source.permission("sso_shared", "user", "change_user")], members=[1])
    found = adopt(source, merge_group_permissions=True)
    [group] = found.groups
    assert group.access_group and group.to_add == []
    assert "never, whatever the options: an access group grants only its service" in group.items[0].line()
    assert not User.objects.get(username="eve").groups.filter(name=access_group_name("b")).exists()


def test_the_dry_run_lists_every_privilege_and_credential_and_which_option_lets_it_in(crafted, tmp_path: Path, capsys):
    database = tmp_path / "crafted.sqlite3"
    database.write_bytes(crafted.db.serialize())
    key = tmp_path / "secret_key"
    key.write_text(LEGACY_KEY)
    call_command("sso_adopt", "--from", str(database), "--secret-key-file", str(key), "--name", "crafted", "--dry-run")
    report = capsys.readouterr().out
    vic_password = (
        "    - password: the source's (last login there 2030-01-01 00:00 UTC (in the future), "
        "here 2025-03-01 00:00 UTC) (--take-passwords)\n"
    )
    expected = f"""\
What each user brings (+ brought; - left out, with the option that would let it in):
  vic (one user with vic here)
{vic_password}\
    - staff status (--merge-user-permissions)
    - group Helpdesk (exists here) (--merge-user-permissions --join-existing-groups)
    - group Night shift (--merge-user-permissions)
    - 1 logged-in session (each logs a browser in as this user) (--take-sessions)
  boss (new)
    + password (the source's hash)
    - superuser status (--keep-superusers)
    + staff status
    + access to System A · Intake
    - group Helpdesk (exists here) (--join-existing-groups)
Groups: 2 in the source
  Helpdesk (exists here): permissions to add: 0
    - sso_shared.change_user (--merge-group-permissions)
    - auth.add_permission (--merge-group-permissions)
  Night shift (new): permissions to add: 1
    + sso_shared.view_user
"""
    assert expected in report, report
    assert "0 to carry over, 0 carried before, 1 of users here already (left out: --take-sessions)" in report
    assert (
        "Left out: 9 (marked - above); the options that would let them in: --keep-superusers (1), "
        "--merge-group-permissions (2), --join-existing-groups (2), --merge-user-permissions (3), "
        "--take-passwords (1), --take-sessions (1)" in report
    )
    assert report.rstrip().endswith("Dry run: nothing was changed.")
    assert not User.objects.filter(username="boss").exists()
    assert helpdesk_permissions() == {"sso_shared.view_user"}
