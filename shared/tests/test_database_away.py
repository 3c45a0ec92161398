"""While a database cannot be reached: a 503 page with Retry-After, one log line, and back to normal after.

The database really is unreachable: the connection's port is pointed at a closed
one, so psycopg2 fails to connect as it does while PostgreSQL is stopped.
"""

import contextlib
import logging
import socket

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from sso_shared.database.routers import SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def database_away(alias: str):
    connection = connections[alias]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(closed_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


@pytest.fixture
def logged_in():
    get_user_model().objects.create_user("dora", password="a-long-password-1")
    client = Client(raise_request_exception=False)
    assert client.login(username="dora", password="a-long-password-1")
    return client


def test_shared_database_away_is_a_503_page_with_retry_after_and_one_log_line(logged_in, caplog):
    with database_away(SHARED_DB), caplog.at_level(logging.WARNING):
        response = logged_in.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "System A · Intake is briefly unavailable" in page
    assert "Go to System B · Review" in page
    assert "Traceback" not in page
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    assert errors[0].getMessage().startswith("database unavailable, answered 503: GET /: OperationalError")
    assert errors[0].exc_info is None


def test_the_same_session_works_again_when_the_database_is_back(logged_in):
    with database_away(SHARED_DB):
        assert logged_in.get("/whoami").status_code == 503
    assert logged_in.get("/whoami").json()["username"] == "dora"


def test_an_anonymous_login_page_with_the_shared_database_away_is_a_503():
    client = Client(raise_request_exception=False)
    with database_away(SHARED_DB):
        response = client.post("/accounts/login/", {"username": "dora", "password": "whatever-it-is"})
    assert response.status_code == 503


def test_health_names_the_missing_database():
    with database_away(SERVICE_DB):
        response = Client().get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == {SERVICE_DB: "OperationalError"}
    assert body["missing"] == [f"default ({connections[SERVICE_DB].settings_dict['NAME']})"]
    assert "sso" in body["missing"][0]


def test_health_asks_only_the_connection_requests_use():
    """The alias that migrates the shared schema is never used by a request: health opens no second connection."""
    connections[SHARED_MIGRATIONS_DB].close()
    assert Client().get("/health").status_code == 200
    assert connections[SHARED_MIGRATIONS_DB].connection is None


def test_any_other_error_stays_a_plain_500(settings):
    settings.ROOT_URLCONF = "tests.urls_failing"
    response = Client(raise_request_exception=False).get("/fails")
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_a_root_urlconf_without_the_handler_gets_warning_w003(settings):
    from sso_shared.agreement.checks import database_away_is_a_503

    assert database_away_is_a_503() == []
    settings.ROOT_URLCONF = "tests.urls_audit"
    assert [message.id for message in database_away_is_a_503()] == ["sso_shared.W003"]
