"""The door of every form that checks a password, under a flood (docs/login-protection.md, "Under a flood").

A flood of logins from many addresses costs the site what each request costs before it is refused.
So a POST to a form that checks a password (the login, both admins' logins, the password-change forms)
is looked at here, before its view, with one query on its client address:

1. an address locked for every username (``SSO_ADDRESS_FAILURE_LIMIT``) gets the lockout page at once:
   no form, no user, no password; counted (the lock lasts while it keeps trying) and audited once. When
   the attempt named no username with failures of its own there (a flood's random names), the page says
   so to nginx, which then answers that address's login POSTs with it for a few seconds by itself;
2. the others get their place in line for a password check from the failures still counting at their
   address (``sso_shared.password_checks.place_for``: wrong passwords first, then refusals), so a real
   user passes a flooding address;
3. one with no chance of a check now (every slot it may use taken, no room in line for its place) gets
   the busy page at once, counted against its address like any busy refusal.

After the CSRF check (its place in MIDDLEWARE): a page elsewhere that makes visitors' browsers post
here is refused by it, and counts against nobody's address.
"""

from django.conf import settings

from . import audit, lockout, password_checks
from .access import view_path

# The views whose POST checks a password, named as sso_shared.access.view_path names them.
PASSWORD_CHECKING_VIEWS = frozenset(
    {
        "sso_shared.views.LoginView",
        "sso_shared.views.PasswordChangeView",
        "sso_shared.views.admin_password_change",
        "sso_shared.views.admin_login",
    }
)


# How long nginx may answer an address locked for every username with its lockout page, without asking: the
# audit trail then records one of its attempts in that time, nginx's access log all of them.
NGINX_KEEPS_REFUSAL_SECONDS = 10
# Where the request keeps its place in line while its view runs.
PLACE_TOKEN = "_sso_password_check_place"  # noqa: S105 (an attribute name, no secret)


def attempted_username(request) -> str:
    """The username the form names, else (a password change) the logged-in user's."""
    typed = lockout.login_username(request)
    if typed:
        return typed
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else ""


class LoginGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            if hasattr(request, PLACE_TOKEN):
                password_checks.leave_place(getattr(request, PLACE_TOKEN))

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or view_path(view_func) not in PASSWORD_CHECKING_VIEWS:
            return None
        failures, named, until = lockout.address_state(audit.client_address(request))
        if failures >= settings.SSO_ADDRESS_FAILURE_LIMIT:
            return refuse_locked_address(request, until)
        # Looked at here: the lockout backend need not ask again (sso_shared.lockout.LockoutBackend).
        setattr(request, lockout.ADDRESS_CHECKED, True)
        # Nothing counting at the address: no username locked there, no failures to clear (LockoutHandler);
        # and the first place in line, which the check itself gives or refuses, so not looked at here.
        clean = failures == 0
        setattr(request, lockout.ADDRESS_CLEAN, clean)
        place = password_checks.place_for(wrong_passwords=named, refusals=failures - named)
        if not clean and password_checks.would_be_refused(place):
            lockout.count_refused_at(request)
            return password_checks.busy_response(request)
        # The view's password check waits, if it must, at this place (given back in __call__).
        setattr(request, PLACE_TOKEN, password_checks.take_place(place))
        return None


def refuse_locked_address(request, until):
    """The lockout page for an address locked for every username, before anything else is done.

    When the attempt named no username with failures of its own there (a flood's random names), nginx may
    answer the address's next login POSTs with this page for NGINX_KEEPS_REFUSAL_SECONDS without asking
    (nginx/sso.conf.template): such an address then costs the service one request in that time. Only an
    anonymous page, which shows nothing of anyone's.
    """
    setattr(request, lockout.ADDRESS_LOCKED, True)
    setattr(request, audit.REFUSED_BY_LOCKOUT, True)
    username = attempted_username(request)
    # The lock lasts while the address keeps trying.
    extended_to, on_address_record = lockout.count_refused_at(request, username=username or None)
    setattr(request, lockout.ADDRESS_LOCKED_UNTIL, max(filter(None, (until, extended_to)), default=None))
    audit.record_locked_out(request, username=username)
    response = lockout.lockout_response(request)
    if on_address_record and not request.user.is_authenticated:
        response["X-Accel-Expires"] = str(NGINX_KEEPS_REFUSAL_SECONDS)
    return response
