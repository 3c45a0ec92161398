"""Per-service access: this test service is System A; a user may be kept off it and still use B."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from sso_shared.access import access_group_name, may_use
from sso_shared.routers import SHARED_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
GROUP_A, GROUP_B = "Access to System A · Intake", "Access to System B · Review"


@pytest.fixture
def carol(client):
    user = User.objects.create_user("carol", password="a-long-password-1")
    client.force_login(user)
    return user


def test_a_new_user_may_use_every_service_through_one_group_each(carol):
    assert sorted(carol.groups.values_list("name", flat=True)) == [GROUP_A, GROUP_B]
    assert carol.has_perm("sso_shared.access_service_a") and carol.has_perm("sso_shared.access_service_b")
    assert access_group_name("b") == GROUP_B


def test_a_user_with_access_sees_the_page(client, carol):
    assert client.get("/").status_code == 200


def test_a_user_without_access_gets_a_403_page_naming_the_service_and_the_other_one(client, carol):
    carol.groups.remove(Group.objects.get(name=GROUP_A))
    response = client.get("/")
    assert response.status_code == 403
    assert "Location" not in response
    page = response.content.decode()
    assert "<h1>No access to System A · Intake</h1>" in page
    assert "You are logged in as <strong>carol</strong>, but your account may not use System A · Intake." in page
    assert "An administrator can give you access by adding you to the group “Access to System A · Intake”." in page
    assert '<a class="usable-service" href="/b/">Go to System B · Review</a>, which you may use.' in page


def test_without_access_anywhere_no_service_is_offered(client, carol):
    carol.groups.clear()
    page = client.get("/").content.decode()
    assert "No access to System A · Intake" in page
    assert "usable-service" not in page


def test_the_admin_of_a_service_answers_403_too(client):
    staff = User.objects.create_user("staffer", password="a-long-password-1", is_staff=True)
    staff.groups.remove(Group.objects.get(name=GROUP_A))
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "No access to System A · Intake" in response.content.decode()


def test_login_logout_whoami_and_health_stay_reachable_without_access(client, carol):
    carol.groups.clear()
    assert client.get("/whoami").json() == {"service": "a", "authenticated": True, "username": "carol"}
    assert client.get("/health").status_code == 200
    assert client.get("/accounts/login/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_superusers_may_use_every_service_without_groups(client):
    root = User.objects.create_superuser("root", "root@example.com", "a-long-password-1")
    root.groups.clear()
    client.force_login(root)
    assert client.get("/").status_code == 200


def test_anonymous_visitors_are_still_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/a/accounts/login/?next=/"


def test_access_groups_are_remade_if_someone_deleted_them():
    Group.objects.filter(name__startswith="Access to").delete()
    user = User.objects.create_user("dave", password="a-long-password-1")
    assert user.has_perm("sso_shared.access_service_a")


@pytest.mark.parametrize("how", ["group", "own permission", "none", "inactive"])
def test_the_one_query_access_check_agrees_with_has_perm(how, django_assert_num_queries):
    user = User.objects.create_user(f"dana-{how.replace(' ', '-')}", password="a-long-password-1")
    user.groups.clear()
    if how == "group":
        user.groups.add(Group.objects.get(name=GROUP_B))
    elif how == "own permission":
        user.user_permissions.add(Permission.objects.get(codename="access_service_b"))
    elif how == "inactive":
        user.groups.add(Group.objects.get(name=GROUP_B))
        user.is_active = False
        user.save()
    fresh = User.objects.get(pk=user.pk)
    with django_assert_num_queries(0 if how == "inactive" else 1, using=SHARED_DB):
        answer = may_use(fresh, "b")
    assert answer is User.objects.get(pk=user.pk).has_perm("sso_shared.access_service_b")
    assert answer is (how in {"group", "own permission"})
