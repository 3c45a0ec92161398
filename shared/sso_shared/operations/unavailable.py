"""While a database cannot be reached, every request gets a 503 page, never a 500.

Django turns an exception raised anywhere while it handles a request (a view, a
template, a middleware: the session is loaded lazily, so the shared database is
first needed wherever ``request.user`` or ``request.session`` is first read, and
the session is saved in ``SessionMiddleware``'s response phase) into the 500
handler's answer. ``server_error`` is that handler in every service (each root
URLconf sets ``handler500`` to it; ``sso_shared.agreement.checks`` warns when one does
not): for a connection error (``OperationalError``, ``InterfaceError``) it
answers 503 with ``Retry-After`` and a small page that needs no database, and
logs one line instead of a traceback. Anything else stays Django's plain 500.

Django opens a fresh connection on the next request after a failed one (and
drops a broken persistent one at the end of the request: ``CONN_HEALTH_CHECKS``
and ``close_if_unusable_or_obsolete``), so requests succeed again as soon as
PostgreSQL answers, with no restart; sessions are rows in the shared database,
untouched by the outage, so nobody is logged out.
https://docs.djangoproject.com/en/5.2/ref/urls/#handler500
https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from sso_shared.accounts.context_processors import service

logger = logging.getLogger(__name__)

DATABASE_AWAY_ERRORS = (OperationalError, InterfaceError)
# How long browsers and clients are told to wait before trying again.
RETRY_AFTER_SECONDS = 5
TEMPLATE = "sso_shared/unavailable.html"


def database_away(error: BaseException | None) -> bool:
    """Is this (or what caused it) a database connection error?"""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, DATABASE_AWAY_ERRORS):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def unavailable_response() -> HttpResponse:
    """The 503 page: rendered without the request, so nothing in it reads the session or the user."""
    page = render_to_string(TEMPLATE, {**service(None), "retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {text[0] if text else ''}"


def server_error(request, *args, **kwargs):
    """handler500 of every service: 503 while a database is away, Django's 500 otherwise."""
    error = sys.exc_info()[1]
    if not database_away(error):
        return defaults.server_error(request, *args, **kwargs)
    logger.error("database unavailable, answered 503: %s %s: %s", request.method, request.path, first_line(error))
    response = unavailable_response()
    # Logged above in one line: Django's own "Service Unavailable" entry would add the traceback.
    response._has_been_logged = True
    return response
