"""The pages whose events the audit trail records, as System A serves them."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

from sso_shared.accounts.views import LoginView, PasswordChangeView

urlpatterns = [
    path("", login_required(TemplateView.as_view(template_name="sso_shared/base.html")), name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("", include("sso_shared.urls")),
]
