"""One connection health check per request, not one per database alias.

Each service has two aliases (its own database and the shared one) on the same
PostgreSQL server. With ``CONN_HEALTH_CHECKS`` Django checks every persistent
connection with a ``SELECT 1`` before its first use in a request: two extra
round trips per page. Both connections go to one server, so one check says
enough for both:

* at the start of a request (``OneHealthCheckPerRequestMiddleware``, first in
  MIDDLEWARE), when the shared alias holds a connection (it is the first used on
  every authenticated page: session, then user), the other aliases of the same
  server are marked as checked; the shared alias is checked as usual;
* when the shared alias has to connect anew during a request (its check failed:
  the server restarted, or its connection had aged out), the others are marked
  unchecked again, so each gets its own check before its next use.

A connection of the service's own alias that died while the shared one lived
(one backend killed by hand, not a server outage) fails its next query; Django
then closes it at the end of that request and the following request reconnects.
https://docs.djangoproject.com/en/5.2/ref/databases/#caveats
https://docs.djangoproject.com/en/5.2/ref/settings/#conn-health-checks
"""

from django.db import connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from .routers import SHARED_DB


def same_server_aliases():
    """The aliases other than the shared one that connect to the same server."""
    shared = connections.settings[SHARED_DB]
    return [
        alias
        for alias, details in connections.settings.items()
        if alias != SHARED_DB and (details["HOST"], details["PORT"]) == (shared["HOST"], shared["PORT"])
    ]


class OneHealthCheckPerRequestMiddleware:
    """First in MIDDLEWARE: after Django's request_started handler has reset every connection's check.

    A middleware, not a request_started receiver: receivers run in the order they were connected, and
    Django's test client reconnects its own after each request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        one_health_check_per_request()
        return self.get_response(request)


def one_health_check_per_request():
    shared = connections[SHARED_DB]
    if shared.connection is None or not shared.health_check_enabled:
        return
    for alias in same_server_aliases():
        other = connections[alias]
        if other.connection is not None:
            other.health_check_done = True


@receiver(connection_created, dispatch_uid="sso_shared.recheck_after_reconnect")
def recheck_after_reconnect(sender, connection, **kwargs):
    if connection.alias != SHARED_DB:
        return
    for alias in same_server_aliases():
        other = connections[alias]
        if other.connection is not None and not other.in_atomic_block:
            other.health_check_done = False
