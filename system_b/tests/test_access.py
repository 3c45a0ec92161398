"""Rights on B come from the shared groups; access to B itself can be withheld with a clear page."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


@pytest.fixture
def reviewer(client):
    user = User.objects.create_user("rita", password="a-long-password-1", is_staff=True)
    client.force_login(user)
    return user


def test_a_shared_group_granting_review_permissions_opens_bs_admin(client, reviewer):
    assert client.get("/admin/review/review/").status_code == 403
    reviewers = Group.objects.create(name="Reviewers")
    reviewers.permissions.add(*Permission.objects.filter(codename__in=["add_review", "view_review"]))
    reviewer.groups.add(reviewers)
    assert client.get("/admin/review/review/").status_code == 200
    assert client.get("/admin/review/review/add/").status_code == 200
    assert client.get("/admin/sso_shared/user/").status_code == 403


def test_without_access_to_b_the_home_page_is_a_403_pointing_to_a(client, reviewer):
    reviewer.groups.remove(Group.objects.get(name="Access to System B · Review"))
    response = client.get("/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>No access to System B · Review</h1>" in page
    assert '<a class="usable-service" href="/a/">Go to System A · Intake</a>, which you may use.' in page
    assert client.get("/whoami").json() == {"service": "b", "authenticated": True, "username": "rita"}


def test_without_access_to_b_its_health_admin_login_and_logout_still_answer(client, reviewer):
    reviewer.groups.remove(Group.objects.get(name="Access to System B · Review"))
    assert client.get("/health").status_code == 200
    admin_login = client.get("/admin/login/")
    assert admin_login.status_code == 302  # staff are sent on to the admin, which then answers 403
    assert admin_login["Location"] == "/b/admin/"
    assert client.get("/admin/").status_code == 403
    logout = client.post("/accounts/logout/")
    assert logout.status_code == 302
    assert logout["Location"] == "/a/accounts/login/"
    assert client.get("/whoami").json()["authenticated"] is False
