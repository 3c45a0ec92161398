"""The door of every form that checks a password, under a flood (docs/login-protection.md, "Under a flood").

A flood of logins from many addresses costs the site what each request costs before it is refused.
So a POST to a form that checks a password (the login, both admins' logins, the password-change forms)
is looked at here, before its view, with one query on its client address:

1. an address locked for every username (``SSO_ADDRESS_FAILURE_LIMIT``) gets the lockout page at once:
   no form, no user, no password; counted (the lock lasts while it keeps trying) and audited once. When
   the attempt named no username with failures of its own there (a flood's random names), the page says
   so to nginx, which then answers that address's login POSTs with it for a few seconds by itself;
2. the others get their place in line for a password check from the failures still counting at their
   address (``sso_shared.login_protection.password_checks.place_for``: wrong passwords first, then refusals), so a real
   user passes a flooding address;
3. one with no chance of a check now (every slot it may use taken, no room in line for its place) gets
   the busy page at once, counted against its address like any busy refusal.

After the CSRF check (its place in MIDDLEWARE): a page elsewhere that makes visitors' browsers post
here is refused by it, and counts against nobody's address.
"""

from datetime import datetime

from django.conf import settings
from django.db import connections

from sso_shared.access.service_access import view_path
from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import lockout, password_checks
from sso_shared.operations import audit

# The views whose POST checks a password, named as sso_shared.access.service_access.view_path names them.
PASSWORD_CHECKING_VIEWS = frozenset(
    {
        "sso_shared.accounts.views.LoginView",
        "sso_shared.accounts.views.PasswordChangeView",
        "sso_shared.accounts.views.admin_password_change",
        "sso_shared.accounts.views.admin_login",
    }
)


# How long nginx may answer an address locked for every username with its lockout page, without asking: the
# audit trail then records one of its attempts in that time, nginx's access log all of them.
NGINX_KEEPS_REFUSAL_SECONDS = 10
# Where the request keeps its place in line while its view runs.
PLACE_TOKEN = "_sso_password_check_place"  # noqa: S105 (an attribute name, no secret)
# Set on a request the gate looked at: its password-check slot is given back when it ends.
GATED = "_sso_login_gated"


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
            if getattr(request, GATED, False):
                password_checks.end_request()

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or view_path(view_func) not in PASSWORD_CHECKING_VIEWS:
            return None
        setattr(request, GATED, True)
        failures, named, until, slot = look_at_address(audit.client_address(request))
        # From here the request holds the slot taken (if any) until its check, and gives it back (end_request).
        password_checks.begin_request(slot)
        if failures >= settings.SSO_ADDRESS_FAILURE_LIMIT:
            return refuse_locked_address(request, until)
        # Looked at here: the lockout backend need not ask again (sso_shared.login_protection.lockout.LockoutBackend).
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


def look_at_address(address: str | None) -> tuple[int, int, datetime | None, int | None]:
    """The address's failures that still count, those with a username, when the last stops counting; and, when
    nothing counts there, a password-check slot taken for the first place in line (or None: none free now).

    One round trip: the slot is taken in the same query, only when nothing counts at the address (PostgreSQL
    evaluates the CASE's subquery only in that branch). A slot so taken is held from here to the check, a
    lookup of the user longer than the check itself needs: no statement of its own to take it.
    """
    if address is None:
        return 0, 0, None, None
    state_sql, state_parameters = lockout.address_state_query(address).query.sql_with_params()
    take_sql, take_parameters = password_checks.take_slot_sql(password_checks.place_for(0))
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(  # Django's compiled query and password_checks' text only; every value is a parameter.
            f"""WITH state AS ({state_sql})
                SELECT state.total, state.named, state.until,
                       CASE WHEN coalesce(state.total, 0) = 0 THEN ({take_sql}) END
                  FROM (SELECT) AS one LEFT JOIN state ON true""",  # noqa: S608
            [*state_parameters, *take_parameters],
        )
        total, named, until, slot = cursor.fetchone()
    return total or 0, named or 0, until, slot


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
