from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("review.urls")),
    # Login lives on A (settings.LOGIN_URL); logging out here ends the session everywhere.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("sso_shared.urls")),
]

# A database that cannot be reached is a 503 page, not a 500 (sso_shared.operations.unavailable).
handler500 = "sso_shared.operations.unavailable.server_error"
