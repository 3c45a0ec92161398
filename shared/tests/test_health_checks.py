"""One connection health check per request (sso_shared.health_checks), and reconnecting after an outage."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import connections

from sso_shared.health_checks import one_health_check_per_request
from sso_shared.routers import SERVICE_DB, SHARED_DB

# Outside a transaction: Django closes, rather than checks, a connection left in one.
pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
ALIASES = (SHARED_DB, SERVICE_DB)


@pytest.fixture
def health_checks(monkeypatch):
    """How many health checks each alias ran (Django's is_usable, the SELECT 1)."""
    counts = dict.fromkeys(ALIASES, 0)
    for alias in ALIASES:
        connection = connections[alias]

        def counted(real=connection.is_usable, alias=alias):
            counts[alias] += 1
            return real()

        monkeypatch.setattr(connection, "is_usable", counted)
    return counts


def a_request():
    """What a request does to the connections: Django's signals, the middleware, a query on each database."""
    request_started.send(sender=None)
    one_health_check_per_request()
    for alias in ALIASES:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT current_database()")
    request_finished.send(sender=None)


def test_a_request_checks_one_connection_not_each(health_checks):
    connections.close_all()  # both anew, so neither reaches CONN_MAX_AGE during the test
    a_request()  # connects both: new connections need no check
    for alias in ALIASES:
        health_checks[alias] = 0
    a_request()
    a_request()
    assert health_checks == {SHARED_DB: 2, SERVICE_DB: 0}


def test_after_an_outage_the_next_request_reconnects_both_without_an_error(health_checks):
    a_request()
    pids = [connections[alias].connection.info.backend_pid for alias in ALIASES]
    killer = connections.create_connection(SHARED_DB)
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [pids])
    finally:
        killer.close()
    a_request()  # the shared check fails and reconnects; the service's is checked again, fails, reconnects
    assert [connections[alias].connection.info.backend_pid not in pids for alias in ALIASES] == [True, True]
    assert health_checks[SERVICE_DB] == 1


def test_the_middleware_comes_first_so_no_other_touches_a_database_before_it(settings):
    assert settings.MIDDLEWARE[0] == "sso_shared.health_checks.OneHealthCheckPerRequestMiddleware"
