"""The user's primary key is a UUID; that is how a session finds its user."""

import uuid

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model

from sso_shared.database.routers import SHARED_DB

User = get_user_model()
pytestmark = pytest.mark.django_db(databases="__all__")


def test_user_primary_key_is_a_uuid():
    user = User.objects.create_user("uuid-user", password="a-long-password-1")
    assert isinstance(user.pk, uuid.UUID)
    assert User._meta.pk.get_internal_type() == "UUIDField"


def test_a_session_stores_the_uuid_and_finds_the_user_again(client):
    user = User.objects.create_user("session-user", password="a-long-password-1")
    client.force_login(user)
    assert client.session[SESSION_KEY] == str(user.pk)
    assert client.get("/whoami").json() == {"service": "a", "authenticated": True, "username": "session-user"}


def test_users_are_written_to_the_shared_database():
    user = User.objects.create_user("where-user", password="a-long-password-1")
    assert user._state.db == SHARED_DB
