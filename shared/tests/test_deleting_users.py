"""Deleting a user keeps an anonymised, inactive tombstone, whichever way it is deleted."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from sso_shared.models import Session
from sso_shared.sessions.store import SessionStore

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
EXPLAINED = "Records in every service keep pointing at the account, so it is not erased"


@pytest.fixture
def erin():
    user = User.objects.create_user(
        "erin", email="erin@example.com", password="a-long-password-1", first_name="Erin", last_name="Example"
    )
    user.user_permissions.add(Permission.objects.get(codename="view_group"))
    return user


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-password-1"))
    return client


def logged_in_session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.session.session_key


def assert_tombstone(user):
    user.refresh_from_db()
    assert user.username == f"deleted-{user.pk.hex[:8]}"
    assert (user.first_name, user.last_name, user.email) == ("", "", "")
    assert not user.has_usable_password()
    assert (user.is_active, user.is_staff, user.is_superuser) == (False, False, False)
    assert not user.groups.exists() and not user.user_permissions.exists()


def test_deleting_a_user_keeps_an_anonymised_inactive_row(erin):
    erin.delete()
    assert User.objects.filter(pk=erin.pk).exists()
    assert_tombstone(erin)


def anonymous_session() -> str:
    store = SessionStore()
    store["cart"] = ["a book"]
    store.create()
    return store.session_key


def test_deleting_a_user_ends_exactly_their_sessions(erin):
    bystander = User.objects.create_user("frank", password="a-long-password-1")
    erins = {logged_in_session(erin), logged_in_session(erin)}
    others = {logged_in_session(bystander), anonymous_session()}
    assert set(Session.objects.values_list("pk", flat=True)) == erins | others
    erin.delete()
    assert set(Session.objects.values_list("pk", flat=True)) == others


def test_deleting_a_queryset_keeps_tombstones_too(erin):
    other = User.objects.create_user("gina", password="a-long-password-1")
    assert User.objects.filter(pk__in=[erin.pk, other.pk]).delete() == (2, {"sso_shared.User": 2})
    assert User.objects.filter(pk__in=[erin.pk, other.pk]).count() == 2
    assert_tombstone(erin)
    assert_tombstone(other)


def test_deleting_twice_changes_nothing(erin):
    erin.delete()
    erin.delete()
    assert_tombstone(erin)


def test_a_taken_short_name_falls_back_to_the_whole_id(erin):
    User.objects.create_user(f"deleted-{erin.pk.hex[:8]}", password="a-long-password-1")
    erin.delete()
    erin.refresh_from_db()
    assert erin.username == f"deleted-{erin.pk.hex}"


def test_the_admin_confirmation_page_explains_the_tombstone(admin_client, erin):
    response = admin_client.get(f"/admin/sso_shared/user/{erin.pk}/delete/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Are you sure you want to delete the user “erin”?" in page
    assert EXPLAINED in page
    assert "<li>User: erin</li>" in page


def test_the_admin_delete_view_leaves_a_tombstone_and_anonymises_the_history(admin_client, erin):
    LogEntry.objects.log_actions(user_id=User.objects.get(username="root").pk, queryset=[erin], action_flag=ADDITION)
    response = admin_client.post(f"/admin/sso_shared/user/{erin.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/sso_shared/user/"
    assert_tombstone(erin)
    history = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User), object_id=str(erin.pk))
    assert set(history.values_list("object_repr", flat=True)) == {erin.username}


def test_the_admin_bulk_delete_action_leaves_tombstones(admin_client, erin):
    other = User.objects.create_user("hank", password="a-long-password-1")
    form = {"action": "delete_selected", "_selected_action": [str(erin.pk), str(other.pk)]}
    confirmation = admin_client.post("/admin/sso_shared/user/", form)
    assert confirmation.status_code == 200
    assert EXPLAINED in confirmation.content.decode()
    done = admin_client.post("/admin/sso_shared/user/", {**form, "post": "yes"})
    assert done.status_code == 302
    assert_tombstone(erin)
    assert_tombstone(other)
