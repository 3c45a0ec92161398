"""Per-service access: this test service is System A; a user may be kept off it and still use B."""

from contextlib import ExitStack

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sso_shared.access.service_access import access_group_name, may_use
from sso_shared.database.routers import SHARED_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
GROUP_A, GROUP_B = "Access to System A · Intake", "Access to System B · Review"
ACCESS_TO_A = "sso_shared.access_service_a"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCESS_MIDDLEWARE = "sso_shared.access.service_access.ServiceAccessMiddleware"


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


def test_the_admin_login_stays_reachable_without_access(client, carol):
    carol.groups.clear()
    login = client.get("/admin/login/")
    assert login.status_code == 200
    assert "You are authenticated as carol, but are not authorized to access this page." in login.content.decode()


def test_the_admin_logout_stays_reachable_without_access(client):
    staff = User.objects.create_user("stan", password="a-long-password-1", is_staff=True)
    staff.groups.clear()
    client.force_login(staff)
    logout = client.post("/admin/logout/")
    assert logout.status_code == 302
    assert logout["Location"] == "/a/accounts/login/"
    assert client.get("/whoami").json()["authenticated"] is False


@pytest.mark.urls("tests.urls_with_other_app")
@pytest.mark.parametrize("path", ["/other-app/health", "/other-app/login/"])
def test_another_apps_views_named_like_exempt_ones_are_not_exempt(client, carol, path):
    assert client.get(path).content.decode().startswith("The other app's")
    carol.groups.clear()
    response = client.get(path)
    assert response.status_code == 403
    assert "<h1>No access to System A · Intake</h1>" in response.content.decode()
    assert client.get("/health").status_code == 200
    assert client.get("/accounts/login/").status_code == 200


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


def new_user(username: str, *, groups=(GROUP_A,), **fields):
    user = User.objects.create_user(username, password="a-long-password-1", **fields)
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


def test_a_backend_granting_access_lets_a_user_without_any_group_in(client, settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.backends.GrantsVisitors", MODEL_BACKEND]
    visitor = new_user("visitor-vic", groups=())
    client.force_login(visitor, backend=MODEL_BACKEND)
    assert client.get("/").status_code == 200


def test_a_backend_raising_permission_denied_keeps_a_group_member_off(client, settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.backends.DeniesSuspended", MODEL_BACKEND]
    suspended = new_user("suspended-sam", groups=(GROUP_A, GROUP_B))
    client.force_login(suspended, backend=MODEL_BACKEND)
    response = client.get("/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>No access to System A · Intake</h1>" in page
    assert '<a class="usable-service" href="/b/">Go to System B · Review</a>, which you may use.' in page


BACKEND_SETUPS = {
    "ModelBackend alone": [MODEL_BACKEND],
    "a granting backend first": ["tests.backends.GrantsVisitors", MODEL_BACKEND],
    "a denying backend first": ["tests.backends.DeniesSuspended", MODEL_BACKEND],
    "a denying backend after ModelBackend": [MODEL_BACKEND, "tests.backends.DeniesSuspended"],
    "a backend without has_perm": [
        "tests.backends.LogsInOnly",
        "django.contrib.auth.backends.AllowAllUsersModelBackend",
    ],
    "a ModelBackend that ignores groups": ["tests.backends.IgnoresGroups"],
}
USERS = {
    "in the group": lambda: new_user("grace"),
    "with the permission itself": lambda: own_permission_user("olga"),
    "without access": lambda: new_user("nora", groups=()),
    "inactive, in the group": lambda: new_user("ian", is_active=False),
    "superuser without groups": lambda: new_user("sue", groups=(), is_superuser=True),
    "inactive superuser": lambda: new_user("isa", groups=(), is_superuser=True, is_active=False),
    "a visitor without groups": lambda: new_user("visitor-vic", groups=()),
    "a suspended user in the group": lambda: new_user("suspended-sam"),
}


def own_permission_user(username: str):
    user = new_user(username, groups=())
    user.user_permissions.add(Permission.objects.get(codename="access_service_a"))
    return user


@pytest.mark.parametrize("backends", BACKEND_SETUPS.values(), ids=BACKEND_SETUPS.keys())
@pytest.mark.parametrize("make_user", USERS.values(), ids=USERS.keys())
def test_the_gate_answers_like_has_perm_with_every_backend(settings, backends, make_user):
    settings.AUTHENTICATION_BACKENDS = backends
    user = make_user()
    # Fresh objects: neither answer may reuse permissions the other one cached.
    assert may_use(User.objects.get(pk=user.pk), "a") is User.objects.get(pk=user.pk).has_perm(ACCESS_TO_A)


def test_with_model_backend_the_gate_adds_no_query_to_a_page(client, carol, settings):
    """user.has_perm would add two (the user's permissions, then their groups'); the gate's answer comes
    with the session row (sso_shared.sessions.store), in the query that loads it anyway."""
    # As shipped: the lockout's backend first, which answers no permission question.
    assert settings.AUTHENTICATION_BACKENDS == ["sso_shared.login_protection.lockout.LockoutBackend", MODEL_BACKEND]
    with_gate = queries_for_page(client)
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != ACCESS_MIDDLEWARE]
    without_gate_client = Client()  # a client loads the middleware on its first request
    without_gate_client.force_login(carol)
    assert queries_for_page(without_gate_client) == with_gate


def queries_for_page(client) -> int:
    """Queries on every database for the home page, once per-process caches are warm."""
    assert client.get("/").status_code == 200
    with ExitStack() as stack:
        captured = [
            stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in django_settings.DATABASES
        ]
        assert client.get("/").status_code == 200
    return sum(len(queries) for queries in captured)
