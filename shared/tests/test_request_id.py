"""Every line Django logs while handling a request carries the request id nginx set."""

import logging

import pytest
from django.test import Client

from sso_shared.operations.request_id import NONE, RequestIdFilter, current

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_traceback_logged_for_a_500_carries_the_request_id(settings, caplog):
    settings.ROOT_URLCONF = "tests.urls_failing"
    seen = []

    class Remember(logging.Handler):
        def emit(self, record):
            seen.append((record.request_id, record.getMessage(), record.exc_info is not None))

    handler = Remember()
    handler.addFilter(RequestIdFilter())
    logging.getLogger("django.request").addHandler(handler)
    try:
        Client(raise_request_exception=False).get("/fails", headers={"X-Request-ID": "0123abcd" * 4})
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    assert seen == [("0123abcd" * 4, "Internal Server Error: /fails", True)]
    assert current.get() == NONE


def test_a_forged_request_id_is_not_logged_as_given(client):
    seen = []

    def remember(sender, **kwargs):
        seen.append(current.get())

    from django.core.signals import request_started

    request_started.connect(remember)
    try:
        client.get("/whoami", headers={"X-Request-ID": "a b\nrid=forged"})
    finally:
        request_started.disconnect(remember)
    assert seen == [NONE]
