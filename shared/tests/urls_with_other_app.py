"""The test service with another app included without a namespace, after the service's own URLs."""

from django.urls import include, path

from .urls import urlpatterns as service_urlpatterns

urlpatterns = [*service_urlpatterns, path("other-app/", include("tests.other_app"))]
