"""A request whose owner was deleted still shows everywhere, owned by the tombstone."""

import pytest
from django.contrib.auth import get_user_model

from intake.models import Request

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-password-1"))
    return client


@pytest.fixture
def request_of_a_deleted_user(admin_client):
    owner = User.objects.create_user("ivan", password="a-long-password-1")
    request = Request.objects.create(title="Chair", owner=owner)
    assert admin_client.post(f"/admin/sso_shared/user/{owner.pk}/delete/", {"post": "yes"}).status_code == 302
    request.refresh_from_db()
    return request


def test_the_home_page_shows_the_tombstone_as_owner(admin_client, request_of_a_deleted_user):
    owner = request_of_a_deleted_user.owner
    assert owner.username == f"deleted-{owner.pk.hex[:8]}"
    page = admin_client.get("/").content.decode()
    assert f'<td class="owner">{owner.username}</td>' in page


def test_the_admin_lists_filters_and_opens_the_request(admin_client, request_of_a_deleted_user):
    owner_id = request_of_a_deleted_user.owner_id
    listing = admin_client.get(f"/admin/intake/request/?owner__id__exact={owner_id}")
    assert listing.status_code == 200
    assert f"deleted-{owner_id.hex[:8]}" in listing.content.decode()
    change = admin_client.get(f"/admin/intake/request/{request_of_a_deleted_user.pk}/change/")
    assert change.status_code == 200
    assert f"deleted-{owner_id.hex[:8]}" in change.content.decode()


def test_the_deleted_user_cannot_log_in_again(client, request_of_a_deleted_user):
    assert not client.login(username=request_of_a_deleted_user.owner.username, password="a-long-password-1")
