"""The request id nginx gives each request (``X-Request-ID: $request_id``) on every log line.

nginx writes it in its access log (``rid=``), gunicorn in its access log, and this
filter puts it on every line Django logs while it handles that request (a
traceback included), so one request can be followed from nginx to the view.
Set from the WSGI environ when Django starts a request (``request_started``) and
cleared when it ends, so a line logged outside a request says ``rid=-``.
https://nginx.org/en/docs/http/ngx_http_core_module.html#var_request_id
https://docs.djangoproject.com/en/5.2/ref/signals/#request-started
"""

import contextvars
import logging
import re

from django.core.signals import request_finished, request_started

NONE = "-"
# nginx's ids are 32 hex digits; anything else (a request that bypassed nginx) is not logged as given.
VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

current = contextvars.ContextVar("sso_request_id", default=NONE)


def request_id_of(environ) -> str:
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if VALID.fullmatch(given) else NONE


def started(sender, environ=None, **kwargs):
    current.set(request_id_of(environ or {}))


def finished(sender, **kwargs):
    current.set(NONE)


request_started.connect(started, dispatch_uid="sso_shared.operations.request_id.started")
request_finished.connect(finished, dispatch_uid="sso_shared.operations.request_id.finished")


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the request being handled, or ``-``."""

    def filter(self, record):
        record.request_id = current.get()
        return True
