from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

from sso_shared.accounts.views import PasswordChangeView
from sso_shared.sessions.your_sessions import SessionsView

urlpatterns = [
    # A page of this service that needs a login, like each service's home page.
    path("", login_required(TemplateView.as_view(template_name="sso_shared/base.html")), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/sessions/", SessionsView.as_view(), name="sessions"),
    path("accounts/", include("sso_shared.accounts.urls")),
    path("", include("sso_shared.urls")),
]

handler500 = "sso_shared.operations.unavailable.server_error"
