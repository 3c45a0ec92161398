"""The test URLs plus a view that fails with an error that is no database outage."""

from django.urls import path

from tests.urls import handler500  # noqa: F401 (handler500 is read by Django)
from tests.urls import urlpatterns as test_urlpatterns


def fails(request):
    raise RuntimeError("a bug, not an outage")


urlpatterns = [path("fails", fails), *test_urlpatterns]
