"""One service's admin cannot grant the other service: only superusers grant, and the access groups grant only access.

This test service is System A; ``status_on_b`` asks the same access gate as System B ("/" with
SSO_SERVICE_NAME "b"), which answers from the same shared users, groups and permissions.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings

from sso_shared.access.groups import AccessGroupPermissionError
from sso_shared.database.routers import SHARED_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
GROUP_A, GROUP_B = "Access to System A · Intake", "Access to System B · Review"
PASSWORD = "a-long-password-1"


def permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def new_user(username: str, *, groups=(GROUP_A,), permissions=(), **fields):
    """A user of A only, as everyone in the reported escalation was."""
    user = User.objects.create_user(username, password=PASSWORD, **fields)
    user.groups.set(Group.objects.filter(name__in=groups))
    user.user_permissions.set([permission(codename) for codename in permissions])
    return user


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def status_on_b(user) -> int:
    with override_settings(SSO_SERVICE_NAME="b"):
        return admin_client(user).get("/").status_code


def group_permissions(name: str) -> list[str]:
    return sorted(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


def user_change_form(user, **changes) -> dict:
    """What the admin's change form posts for ``user``, plus ``changes``."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(changes)
    return data


@pytest.fixture
def gwen():
    """Staff whose only permission is auth.change_group."""
    return new_user("gwen", is_staff=True, permissions=["change_group"])


@pytest.fixture
def hank():
    """Staff whose only permission is change_user."""
    return new_user("hank", is_staff=True, permissions=["change_user"])


@pytest.fixture
def olive():
    """Any other user of A."""
    return new_user("olive", email="olive@example.com")


@pytest.fixture
def root():
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def test_change_group_cannot_widen_the_access_group_everyone_is_in(gwen, olive):
    group = Group.objects.get(name=GROUP_A)
    crafted = {
        "name": GROUP_A,
        "permissions": [permission(c).pk for c in ("access_service_b", "change_user", "change_group")],
    }
    client = admin_client(gwen)
    page = client.get(f"/admin/auth/group/{group.pk}/change/")
    assert page.status_code == 200
    assert "View group" in page.content.decode()  # shown read-only, with no form to save
    assert client.post(f"/admin/auth/group/{group.pk}/change/", crafted).status_code == 403
    assert group_permissions(GROUP_A) == ["access_service_a"]
    assert status_on_b(gwen) == 403
    assert status_on_b(olive) == 403


def test_change_group_cannot_give_any_group_permissions(gwen, olive):
    clerks = Group.objects.create(name="Clerks")
    gwen.groups.add(clerks)
    olive.groups.add(clerks)
    client = admin_client(gwen)
    form = client.get(f"/admin/auth/group/{clerks.pk}/change/").content.decode()
    assert 'name="name"' in form
    assert 'name="permissions"' not in form
    crafted = {"name": "Clerks and more", "permissions": [permission("access_service_b").pk]}
    assert client.post(f"/admin/auth/group/{clerks.pk}/change/", crafted).status_code == 302
    clerks.refresh_from_db()
    assert clerks.name == "Clerks and more"  # what she may change, she changed
    assert group_permissions("Clerks and more") == []
    assert status_on_b(gwen) == 403
    assert status_on_b(olive) == 403


def test_change_group_cannot_delete_an_access_group(olive):
    deleter = new_user("dora", is_staff=True, permissions=["change_group", "delete_group"])
    group = Group.objects.get(name=GROUP_A)
    response = admin_client(deleter).post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert olive.groups.filter(name=GROUP_A).exists()


def test_change_user_cannot_make_himself_superuser_or_join_groups(hank):
    client = admin_client(hank)
    form = client.get(f"/admin/sso_shared/user/{hank.pk}/change/").content.decode()
    assert 'name="first_name"' in form
    for field in ("is_superuser", "groups", "user_permissions"):
        assert f'name="{field}"' not in form
    crafted = user_change_form(
        hank,
        first_name="Hank",
        is_superuser="on",
        groups=[Group.objects.get(name=GROUP_B).pk],
        user_permissions=[permission("change_group").pk, permission("access_service_b").pk],
    )
    assert client.post(f"/admin/sso_shared/user/{hank.pk}/change/", crafted).status_code == 302
    hank.refresh_from_db()
    assert hank.first_name == "Hank"
    assert hank.is_superuser is False
    assert list(hank.groups.values_list("name", flat=True)) == [GROUP_A]
    assert list(hank.user_permissions.values_list("codename", flat=True)) == ["change_user"]
    assert status_on_b(hank) == 403


def test_change_user_can_still_edit_a_users_name_and_email(hank, olive):
    changed = user_change_form(olive, first_name="Olive", last_name="Oak", email="olive.oak@example.com")
    response = admin_client(hank).post(f"/admin/sso_shared/user/{olive.pk}/change/", changed)
    assert response.status_code == 302
    olive.refresh_from_db()
    assert (olive.first_name, olive.last_name, olive.email) == ("Olive", "Oak", "olive.oak@example.com")
    assert list(olive.groups.values_list("name", flat=True)) == [GROUP_A]


def test_change_user_cannot_take_over_a_superuser_by_setting_the_password(hank, root):
    client = admin_client(hank)
    new_password = {"password1": "hanks-own-password-9", "password2": "hanks-own-password-9", "usable_password": "true"}
    assert client.post(f"/admin/sso_shared/user/{root.pk}/password/", new_password).status_code == 403
    assert client.post(f"/admin/sso_shared/user/{root.pk}/change/", user_change_form(root)).status_code == 403
    root.refresh_from_db()
    assert root.check_password(PASSWORD)
    assert root.is_superuser and root.is_active


def test_change_user_cannot_revive_an_account_with_rights_he_lacks(hank):
    """Reactivated and given a password, the account would be his, with change_group."""
    dormant = new_user("dormant-gwen", is_staff=True, is_active=False, permissions=["change_group"])
    revived = user_change_form(dormant)
    assert admin_client(hank).post(f"/admin/sso_shared/user/{dormant.pk}/change/", revived).status_code == 403
    dormant.refresh_from_db()
    assert dormant.is_active is False


def test_bulk_delete_cannot_tombstone_a_superuser(root, olive):
    deleter = new_user("dale", is_staff=True, permissions=["change_user", "delete_user"])
    client = admin_client(deleter)
    action = {"action": "delete_selected", "_selected_action": [str(root.pk), str(olive.pk)]}
    confirmation = client.post("/admin/sso_shared/user/", action)
    assert confirmation.status_code == 200
    page = confirmation.content.decode()
    assert "You may not delete these users: each is a superuser or holds permissions your account lacks." in page
    assert '<ul id="users-kept"><li>root</li></ul>' in page
    assert "Yes, I’m sure" not in page
    assert client.post("/admin/sso_shared/user/", {**action, "post": "yes"}).status_code == 403
    root.refresh_from_db()
    olive.refresh_from_db()
    assert root.is_active and root.username == "root"
    assert olive.is_active


def test_a_superuser_still_grants_through_groups_and_users(root, olive):
    client = admin_client(root)
    added = {"name": "Reviewers", "permissions": [permission("view_group").pk, permission("access_service_b").pk]}
    assert client.post("/admin/auth/group/add/", added).status_code == 302
    assert group_permissions("Reviewers") == ["access_service_b", "view_group"]
    granted = user_change_form(
        olive, is_staff="on", groups=[Group.objects.get(name=n).pk for n in (GROUP_A, "Reviewers")]
    )
    assert client.post(f"/admin/sso_shared/user/{olive.pk}/change/", granted).status_code == 302
    olive.refresh_from_db()
    assert olive.is_staff
    assert sorted(olive.groups.values_list("name", flat=True)) == [GROUP_A, "Reviewers"]
    assert status_on_b(olive) == 200
    made_superuser = user_change_form(olive, is_superuser="on", groups=[Group.objects.get(name=GROUP_A).pk])
    assert client.post(f"/admin/sso_shared/user/{olive.pk}/change/", made_superuser).status_code == 302
    olive.refresh_from_db()
    assert olive.is_superuser


def test_a_superuser_is_told_an_access_group_grants_only_its_service(root, olive):
    group = Group.objects.get(name=GROUP_A)
    crafted = {"name": GROUP_A, "permissions": [permission(c).pk for c in ("access_service_a", "access_service_b")]}
    page = admin_client(root).post(f"/admin/auth/group/{group.pk}/change/", crafted)
    assert page.status_code == 200
    assert (
        "The group “Access to System A · Intake” may grant only sso_shared.access_service_a, not "
        "sso_shared.access_service_b: every new user joins it, so it would grant them to everyone."
    ) in page.content.decode()
    assert group_permissions(GROUP_A) == ["access_service_a"]
    assert status_on_b(olive) == 403


def test_no_code_path_adds_another_permission_to_an_access_group():
    group = Group.objects.get(name=GROUP_B)
    # Each in its own transaction, as a request's would be: the refusal rolls it back.
    refused = pytest.raises(
        AccessGroupPermissionError, match="only sso_shared.access_service_b, not sso_shared.change_user"
    )
    with refused, transaction.atomic(using=SHARED_DB):
        group.permissions.add(permission("change_user"))
    refused = pytest.raises(AccessGroupPermissionError, match="not sso_shared.access_service_a")
    with refused, transaction.atomic(using=SHARED_DB):
        permission("access_service_a").group_set.add(group)
    assert group_permissions(GROUP_B) == ["access_service_b"]
    group.permissions.add(permission("access_service_b"))  # its own: fine


def test_a_group_with_other_rights_cannot_be_renamed_into_an_access_group():
    Group.objects.filter(name=GROUP_B).delete()
    admins = Group.objects.create(name="Admins")
    admins.permissions.add(permission("change_user"))
    admins.name = GROUP_B
    refused = pytest.raises(AccessGroupPermissionError, match="not sso_shared.change_user")
    with refused, transaction.atomic(using=SHARED_DB):
        admins.save()
    assert Group.objects.get(pk=admins.pk).name == "Admins"


def test_the_database_check_reports_an_access_group_granting_more():
    assert checks.run_checks(tags=["sso"], databases=[SHARED_DB]) == []
    group = Group.objects.get(name=GROUP_B)
    # Past the ORM's signals, as raw SQL or an old fixture would.
    Group.permissions.through.objects.bulk_create(
        [Group.permissions.through(group=group, permission=permission("change_user"))]
    )
    [error] = checks.run_checks(tags=["sso"], databases=[SHARED_DB])
    assert (error.level, error.id) == (checks.ERROR, "sso_shared.E005")
    assert error.msg == (
        "The group “Access to System B · Review” grants sso_shared.change_user besides sso_shared.access_service_b: "
        "every new user joins it, so every member holds them."
    )
    assert checks.run_checks(tags=["sso"]) == []  # a database check: plain `check` does not read the groups


def test_the_doctor_fails_on_an_access_group_granting_more(capsys):
    call_command("sso_doctor")
    assert "PASS  the access groups grant only their own service" in capsys.readouterr().out.splitlines()
    group = Group.objects.get(name=GROUP_A)
    Group.permissions.through.objects.bulk_create(
        [Group.permissions.through(group=group, permission=permission("change_group"))]
    )
    with pytest.raises(CommandError, match=r"1 check\(s\) failed"):
        call_command("sso_doctor")
    assert (
        "FAIL  The group “Access to System A · Intake” grants auth.change_group besides sso_shared.access_service_a: "
        "every new user joins it, so every member holds them." in capsys.readouterr().out.splitlines()
    )
