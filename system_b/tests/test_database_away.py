"""The database away: B's pages are the 503 page, and the same session works again after."""

import socket

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from sso_shared.database.routers import SERVICE_DB

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_database_away_is_a_503_and_the_page_is_back_after():
    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.create_user("bob", password="a-long-password-1"))
    connection = connections[SERVICE_DB]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(closed_port())
    try:
        response = client.get("/")
        assert response.status_code == 503
        assert "System B · Review is briefly unavailable" in response.content.decode()
        assert client.get("/whoami").status_code == 503
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert client.get("/").status_code == 200
    assert client.get("/whoami").json()["username"] == "bob"
