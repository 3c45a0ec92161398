"""A user kept off A still reaches A's login, logout and password pages: they serve every service."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


@pytest.fixture
def review_only(client):
    user = User.objects.create_user("rhea", password="a-long-password-1")
    user.groups.remove(Group.objects.get(name="Access to System A · Intake"))
    client.force_login(user)
    return user


def test_a_user_kept_off_a_gets_the_no_access_page(client, review_only):
    response = client.get("/")
    assert response.status_code == 403
    assert "<h1>No access to System A · Intake</h1>" in response.content.decode()


def test_they_can_still_change_their_password_on_a(client, review_only):
    form = client.get("/accounts/password_change/")
    assert form.status_code == 200
    assert "<h1>Change password</h1>" in form.content.decode()
    changed = client.post(
        "/accounts/password_change/",
        {
            "old_password": "a-long-password-1",
            "new_password1": "another-long-pass-2",
            "new_password2": "another-long-pass-2",
        },
    )
    assert changed.status_code == 302
    assert changed["Location"] == "/a/accounts/password_change/done/"
    done = client.get("/accounts/password_change/done/")
    assert done.status_code == 200
    assert "<h1>Password changed</h1>" in done.content.decode()


def test_they_can_reach_login_whoami_health_and_the_admin_login_and_log_out(client, review_only):
    login = client.get("/accounts/login/")
    assert login.status_code == 302  # a logged-in visitor is sent on, not shown the form again
    assert login["Location"] == "/a/"
    assert client.get("/whoami").json() == {"service": "a", "authenticated": True, "username": "rhea"}
    assert client.get("/health").status_code == 200
    assert "You are authenticated as rhea" in client.get("/admin/login/").content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/whoami").json()["authenticated"] is False
