"""A service shaped like System B: no login page of its own (LOGIN_URL is A's), the shared URLs."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("sso_shared.urls")),
]
