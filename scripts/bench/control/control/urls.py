"""B's URLs at the paths the real site serves them, so one benchmark client fits both."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import whoami

urlpatterns = [
    path("b/", include("review.urls")),
    path("b/whoami", whoami, name="whoami"),
    path("b/accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("a/accounts/login/", auth_views.LoginView.as_view(), name="login"),
]
