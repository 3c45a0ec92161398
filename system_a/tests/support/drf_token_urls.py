"""The service's own URLs plus ``api/me``: the user a DRF token (Authorization: Token ...) belongs to."""

from django.conf import settings
from django.urls import path
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from config.urls import urlpatterns as service_urlpatterns


@api_view(["GET"])
@authentication_classes([TokenAuthentication])
@permission_classes([IsAuthenticated])
def me(request):
    return Response({"service": settings.SSO_SERVICE_NAME, "username": request.user.username})


urlpatterns = [path("api/me", me, name="api_me"), *service_urlpatterns]
