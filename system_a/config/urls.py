from django.contrib.auth import views as auth_views
from django.urls import include, path

from sso_shared.accounts.views import LoginView, PasswordChangeView
from sso_shared.sessions.your_sessions import SessionsView

urlpatterns = [
    path("", include("intake.urls")),
    # The one login page for every service, and the password change that logs out other sessions
    # (recorded in the audit trail).
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # "Your sessions" on every service, ending one or all others (docs/sessions.md).
    path("accounts/sessions/", SessionsView.as_view(), name="sessions"),
    # The login's second step, the "Two-factor" page and account recovery (docs/login-protection.md).
    path("accounts/", include("sso_shared.accounts.urls")),
    path("", include("sso_shared.urls")),
]

# A database that cannot be reached is a 503 page, not a 500 (sso_shared.operations.unavailable).
handler500 = "sso_shared.operations.unavailable.server_error"
