"""A's account pages beyond Django's login and password change: the login's second step, the
two-factor page with its passkey calls, and account recovery. Included under ``accounts/``
by System A, which holds the one login page (docs/architecture.md, "URLs")."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from sso_shared.accounts import recovery
from sso_shared.second_factor import passkeys
from sso_shared.second_factor.login_step import SecondStepView
from sso_shared.second_factor.page import TwoFactorView

urlpatterns = [
    # The second factor (sso_shared.second_factor.rules).
    path("login/second-step/", SecondStepView.as_view(), name="login_second_step"),
    path("login/passkey/begin/", passkeys.LoginBegin.as_view(), name="passkey_login_begin"),
    path("login/passkey/complete/", passkeys.LoginComplete.as_view(), name="passkey_login_complete"),
    path("two-factor/", TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/passkeys/begin/", passkeys.RegisterBegin.as_view(), name="passkey_register_begin"),
    path("two-factor/passkeys/complete/", passkeys.RegisterComplete.as_view(), name="passkey_register_complete"),
    # The texts of django-otp-webauthn's script (it calls gettext()).
    path(
        "two-factor/jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="passkey_jsi18n",
    ),
    # Account recovery (sso_shared.accounts.recovery). Django's URL names: its views and mails reverse them.
    path("password_reset/", recovery.PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", recovery.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", recovery.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
