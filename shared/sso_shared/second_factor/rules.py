"""The second factor: who has one, who must, checking a code, and the login's pending second step.

A user's second factors are django-otp devices in the shared database: an authenticator app
(``TOTPDevice``: TOTP codes), passkeys (``WebAuthnCredential``, django-otp-webauthn) and one set
of single-use recovery codes (``StaticDevice``), made with the first of the others and never a
factor on its own.

The login (``sso_shared.accounts.views.LoginView``, then ``sso_shared.second_factor.login_step``) checks the
password first. For a user with a second factor it does not log in: the session, still
anonymous, only remembers who passed the password (``PENDING_KEY``, for ``PENDING_SECONDS``), and
the second step logs in once a code or a passkey is right. So a session names a user
(``_auth_user_id``) only after both steps: no service ever sees a half-logged-in user. The
session then holds django-otp's ``otp_device_id`` too, which says it passed a second factor.

Codes are checked by django-otp: a TOTP code is refused at or before the last one used (so never
twice), a recovery code is deleted when used, and each device slows down guessing on its own
(1, 2, 4, ... seconds after each wrong code). On top, every wrong code counts like a wrong
password: it is Django's ``user_login_failed`` for the username typed at the first step, so
django-axes counts it for the same pair of username and address and locks it at the same limit,
and the audit trail records it as ``second_factor_failed`` (docs/login-protection.md).
"""

import time
from dataclasses import dataclass
from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations import audit
from sso_shared.sessions.store import end_sessions_of

# The (anonymous) session's note of a password that was right, waiting for the second factor.
PENDING_KEY = "sso_second_step"
PENDING_SECONDS = 5 * 60
# Recovery codes shown once, on the next view of the two-factor page (never stored elsewhere).
CODES_TO_SHOW_KEY = "sso_recovery_codes_to_show"
RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "Recovery codes"
AUTHENTICATOR_NAME = "Authenticator app"
TOTP, RECOVERY_CODE, PASSKEY = "authenticator app", "recovery code", "passkey"


def totp_devices():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.using(SHARED_DB)


def recovery_devices():
    from django_otp.plugins.otp_static.models import StaticDevice

    return StaticDevice.objects.using(SHARED_DB)


def passkeys():
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.using(SHARED_DB)


# --- who has one, who must --------------------------------------------------------


def must_have_second_factor(user) -> bool:
    """SSO_SECOND_FACTOR: "everyone", "staff" (staff and superusers) or "optional" (nobody)."""
    requirement = settings.SSO_SECOND_FACTOR
    if requirement == "everyone":
        return True
    if requirement == "staff":
        return bool(user.is_staff or user.is_superuser)
    return False


def has_second_factor(user) -> bool:
    """A confirmed authenticator app or passkey (recovery codes alone are none), in one query."""
    apps = totp_devices().filter(user=user, confirmed=True).values("user_id")
    keys = passkeys().filter(user=user, confirmed=True).values("user_id")
    return apps.union(keys).exists()


def session_passed_second_factor(request) -> bool:
    """Whether this session logged in with a second factor, or set one up (django-otp's mark)."""
    return DEVICE_ID_SESSION_KEY in request.session


def mark_session_verified(request, device) -> None:
    otp_login(request, device)


# --- the login's second step --------------------------------------------------------


@dataclass(frozen=True)
class PendingLogin:
    """A user whose password was right, in this session, and who still owes the second factor."""

    user: object
    # As typed at the first step: the lockout counts wrong codes for the same pair as wrong passwords.
    username: str
    next_url: str


def start_second_step(request, user, username: str, next_url: str) -> None:
    """Remember who passed the password; the session stays anonymous (no _auth_user_id)."""
    # A new key, as login() would give: whoever planted this session's key learns nothing.
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": str(user.pk),
        "backend": user.backend,
        # A password changed meanwhile (or the user deactivated) ends the pending login.
        "hash": user.get_session_auth_hash(),
        "username": username,
        "next": next_url,
        "since": int(time.time()),
    }


def forget_second_step(request) -> None:
    request.session.pop(PENDING_KEY, None)


def pending_login(request) -> PendingLogin | None:
    """The pending login of this session, if it is young enough and still matches the user."""
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    if time.time() - float(state.get("since", 0)) > PENDING_SECONDS:
        forget_second_step(request)
        return None
    try:
        user = get_user_model()._default_manager.db_manager(SHARED_DB).filter(pk=state.get("user")).first()
    except ValidationError:
        user = None
    if (
        user is None
        or not user.is_active
        or not constant_time_compare(user.get_session_auth_hash(), str(state.get("hash", "")))
    ):
        forget_second_step(request)
        return None
    user.backend = state["backend"]
    return PendingLogin(user=user, username=str(state.get("username", "")), next_url=str(state.get("next", "")))


def finish_login(request, pending: PendingLogin, device) -> None:
    """Both steps passed: log in now (a new session key) and mark the session as verified."""
    forget_second_step(request)
    auth_login(request, pending.user, backend=pending.user.backend)
    mark_session_verified(request, device)
    if device_kind(device) == RECOVERY_CODE:
        audit.record(audit.RECOVERY_CODE_USED, request, user=pending.user)


# --- checking a code ----------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    device: object = None
    # Set when django-otp's own slowdown refused to look at the code: until when.
    wait_until: datetime | None = None
    locked: bool = False

    @property
    def wait_seconds(self) -> int:
        if self.wait_until is None:
            return 0
        return max(int((self.wait_until - timezone.now()).total_seconds()) + 1, 1)


def normalised_code(code: str) -> str:
    """Spaces and dashes people type (or copy) inside a code are not part of it."""
    return "".join(str(code or "").split()).replace("-", "").lower()


def device_kind(device) -> str:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if isinstance(device, TOTPDevice):
        return TOTP
    if isinstance(device, StaticDevice):
        return RECOVERY_CODE
    return PASSKEY


def verify_code(user, code: str) -> CodeCheck:
    """The device that accepts the code: six digits go to the authenticator app, anything else is
    taken for a recovery code. Rows are locked while checked, so two requests cannot both use one code."""
    code = normalised_code(code)
    if not code or len(code) > 16:
        return CodeCheck()
    devices = totp_devices() if code.isdigit() and len(code) == 6 else recovery_devices()
    wait_until = None
    with transaction.atomic(using=SHARED_DB):
        for device in devices.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
            allowed, details = device.verify_is_allowed()
            if not allowed:
                wait_until = (details or {}).get("locked_until")
                continue
            if device.verify_token(code):
                return CodeCheck(device=device)
    return CodeCheck(wait_until=wait_until)


def lockout_refuses(request, username: str) -> bool:
    """Whether the pair (username, address) is locked now: then no code is even looked at."""
    return not AxesProxyHandler.is_allowed(request, {"username": username})


def count_failure(request, username: str, factor: str) -> None:
    """A wrong code (or passkey): one more failed login of the pair, audited as second_factor_failed.

    When it reaches the limit, django-axes locks the pair and marks the request, and its middleware
    answers with the lockout page (sso_shared.login_protection.lockout.lockout_response).
    """
    user_login_failed.send(
        sender=__name__, credentials={"username": username, audit.SECOND_FACTOR_MARK: factor}, request=request
    )


def count_refused(request, username: str, factor: str) -> None:
    """A code sent while the pair is locked: counted like a login refused by the lock (starts the wait again)."""
    setattr(request, audit.REFUSED_BY_LOCKOUT, True)
    count_failure(request, username, factor)


def check_code(request, user, username: str, code: str) -> CodeCheck:
    """A code from a person: refused unchecked while the pair is locked; a wrong one counted and audited."""
    if lockout_refuses(request, username):
        count_refused(request, username, TOTP)
        return CodeCheck(locked=True)
    result = verify_code(user, code)
    if result.device is None:
        count_failure(request, username, RECOVERY_CODE if not normalised_code(code).isdigit() else TOTP)
    return result


# --- setting up and taking away -----------------------------------------------------


def new_recovery_codes(user) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working), returned to be shown once."""
    from django_otp.plugins.otp_static.models import StaticToken

    with transaction.atomic(using=SHARED_DB):
        device = recovery_devices().filter(user=user).order_by("pk").first()
        if device is None:
            device = recovery_devices().create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        recovery_devices().filter(user=user).exclude(pk=device.pk).delete()
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.using(SHARED_DB).bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_left(user) -> int:
    from django_otp.plugins.otp_static.models import StaticToken

    return StaticToken.objects.using(SHARED_DB).filter(device__user=user, device__confirmed=True).count()


def show_codes_once(request, codes: list[str]) -> None:
    request.session[CODES_TO_SHOW_KEY] = codes


def codes_to_show(request) -> list[str]:
    return request.session.pop(CODES_TO_SHOW_KEY, None) or []


def factor_added(request, user, device, *, first: bool) -> None:
    """A new authenticator app or passkey, confirmed in this session.

    Audited. The first one also brings recovery codes (shown once) and logs out every other
    session of the user: from now on each of their sessions passed a second factor.
    """
    kind = audit.TOTP_ADDED if device_kind(device) == TOTP else audit.PASSKEY_ADDED
    audit.record(kind, request, user=user)
    if not session_passed_second_factor(request):
        mark_session_verified(request, device)
    if first:
        show_codes_once(request, new_recovery_codes(user))
        audit.record(audit.RECOVERY_CODES_MADE, request, user=user)
        end_sessions_of([user], request)


def remove_all(user) -> int:
    """Delete every second factor of the user (apps, passkeys, recovery codes); returns how many."""
    with transaction.atomic(using=SHARED_DB):
        removed = sum(queryset.filter(user=user).delete()[0] for queryset in (totp_devices(), passkeys()))
        recovery_devices().filter(user=user).delete()
    return removed


def turn_off(request, user) -> None:
    """The user turned their second factor off (after a code): every device goes, audited."""
    remove_all(user)
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    audit.record(audit.SECOND_FACTOR_OFF, request, user=user)


def reset_by_admin(users, request=None) -> int:
    """An administrator's reset: every second factor of these users goes, and so do all their sessions.

    They log in again with their password alone and, where SSO_SECOND_FACTOR requires one, set a
    new second factor up before anything else. Audited per user (second_factor_reset, then
    session_revoked), with the administrator's address. Returns how many users had one.
    """
    had = 0
    for user in users:
        had += bool(remove_all(user))
        audit.record(audit.SECOND_FACTOR_RESET, request, user=user)
    end_sessions_of(users, request)
    return had
