"""Before anything else, on every service: a temporary password to change, a second factor to set up.

- A user whose password an administrator set as a temporary one (``must_change_password``,
  sso_shared.accounts.recovery) is sent to the password change on A until they have changed it.
- A user who must have a second factor (``SSO_SECOND_FACTOR``: "staff" or "everyone") and has
  none is sent to the two-factor page on A to set one up.

Only the pages that get them there (login, logout, password change, the two-factor page and its
passkey calls) and the health and whoami answers are left alone. Nothing here costs a query on
an ordinary page: the user row is loaded anyway, and whether this session passed a second factor
is in the session itself. Only a user who must have one and whose session did not pass one costs
one query: if they have one after all (a session that began before it was required), that
session is logged out, so they log in again with both steps.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from sso_shared.access.service_access import view_path
from sso_shared.second_factor.rules import has_second_factor, must_have_second_factor, session_passed_second_factor

# The views a user held up here may still reach (named by their code, like SSO_ACCESS_EXEMPT_VIEWS).
ALWAYS_REACHABLE_VIEWS = frozenset(
    {
        "sso_shared.accounts.views.LoginView",
        "sso_shared.second_factor.login_step.SecondStepView",
        "django.contrib.auth.views.LogoutView",
        "sso_shared.accounts.views.PasswordChangeView",
        "django.contrib.auth.views.PasswordChangeDoneView",
        "sso_shared.second_factor.page.TwoFactorView",
        "sso_shared.second_factor.passkeys.RegisterBegin",
        "sso_shared.second_factor.passkeys.RegisterComplete",
        "sso_shared.second_factor.passkeys.LoginBegin",
        "sso_shared.second_factor.passkeys.LoginComplete",
        "django.views.i18n.JavaScriptCatalog",
        "sso_shared.accounts.views.whoami",
        "sso_shared.accounts.views.health",
        "sso_shared.accounts.views.admin_login",
        "django.contrib.admin.sites.AdminSite.logout",
    }
)


class AccountRequirementsMiddleware:
    """After ServiceAccessMiddleware (which has the session read with the access decision)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if view_path(view_func) in ALWAYS_REACHABLE_VIEWS:
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        if getattr(user, "must_change_password", False):
            messages.warning(request, "Your password is a temporary one: please choose your own now.")
            return redirect(settings.SSO_PASSWORD_CHANGE_URL)
        if must_have_second_factor(user) and not session_passed_second_factor(request):
            if has_second_factor(user):
                # Logged in before a second factor was required or set up elsewhere: both steps now.
                logout(request)
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            messages.warning(request, "Your account needs a second factor: please set one up now.")
            return redirect(settings.SSO_TWO_FACTOR_URL)
        return None
