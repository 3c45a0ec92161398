"""The login lockout: django-axes, per username and client address, in the shared database.

The policy (docs/login-protection.md; settings in ``sso_shared.settings``):

- Failed logins are counted per pair of username and client address, the address
  nginx saw (``sso_shared.operations.audit.client_address``, the one function for it).
- ``AXES_FAILURE_LIMIT`` failures in a row, each within the cool-off of the one
  before, lock that pair. The same username from another address, and other
  usernames from this address, go on as before.
- A locked pair is refused before its password is checked, the right one too.
- The lock ends ``SSO_LOCKOUT_MINUTES`` after the last attempt. Each attempt while
  locked counts as one more failure and starts the wait again, and every further
  ``AXES_FAILURE_LIMIT`` failures double the wait, up to ``SSO_LOCKOUT_MAX_MINUTES``.
- A successful login clears the pair's failures; so does an administrator
  (the admin's "Login failures" page, or ``manage.py axes_reset_username``).
- An address is locked for every username once its live failures, across all usernames, reach
  ``SSO_ADDRESS_FAILURE_LIMIT``: a flood of random usernames from one address (each pair failing
  once) stops costing password checks. Logins refused because every password-check slot was
  taken (``sso_shared.login_protection.password_checks``) count here too, under no username.
- Usernames are counted as the login form reads them (``login_username``): ``carol `` is ``carol``.

The records live in the shared database (the app label "axes" is in
SSO_SHARED_APP_LABELS), so a lock made through one service holds on every one.
"""

import unicodedata
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.db import router, transaction
from django.db.models import F, Max, Q, Sum
from django.dispatch import receiver
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from sso_shared.operations import audit

# Django's login form strips the username and normalises it (NFKC) before authenticate():
# the lockout keys on the same name, so "carol " or a look-alike spelling is the same pair.
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#django.contrib.auth.models.AbstractBaseUser.normalize_username
MAX_DOUBLINGS = 20  # far past any sensible SSO_LOCKOUT_MAX_MINUTES; keeps the number small


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before any password: a locked pair is refused (Django then records a failed login).

    Marks the refused request, so the audit trail records it once, as ``locked_out``.
    Without a request there is no client address to key on: that is code calling
    ``authenticate()`` itself (a shell, a test), never the login form, and it is let through.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        address = audit.client_address(request)
        if not getattr(request, ADDRESS_CHECKED, False) and address_locked(address):
            # Before axes' own check and any password: this address has failed too often, whatever the name.
            setattr(request, audit.REFUSED_BY_LOCKOUT, True)
            setattr(request, ADDRESS_LOCKED, True)
            request.axes_locked_out = True  # AxesMiddleware then answers with lockout_response
            audit.record_locked_out(request, username=login_username(request, {"username": username}) or "")
            raise AxesBackendPermissionDenied("the client address is locked")
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, audit.REFUSED_BY_LOCKOUT, True)
            raise

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        """Django's ``aauthenticate()`` asks every backend for this; the same check as ``authenticate``.

        django-axes has no async path of its own (its handlers and models are synchronous), so the one
        check runs in Django's thread for synchronous code, where the sync path would run it.
        """
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler (AXES_HANDLER), asking nothing for a login from a clean address.

    sso_shared.login_protection.login_gate has just looked at every record of the client address: with none still
    counting there (ADDRESS_CLEAN), no username is locked at it, and a successful login has no failures
    there to clear. Two queries fewer before the password check and two after it. (A wrong password
    sent at the same moment from that address may then be neither seen nor cleared by this login: the
    password-check line and nginx's two-at-once per address bound that to a guess or two.) Expired
    records, which a login clears elsewhere, are pruned by the housekeeping job too.
    """

    def get_failures(self, request, credentials=None) -> int:
        if getattr(request, ADDRESS_CLEAN, False):
            return 0
        return super().get_failures(request, credentials)

    def user_logged_in(self, sender, request, user, **kwargs):
        if getattr(request, ADDRESS_CLEAN, False):
            return
        super().user_logged_in(sender, request, user, **kwargs)


# Set on a request refused because its address, not its username and address, is locked.
ADDRESS_LOCKED = "sso_address_locked"
ADDRESS_LOCKED_UNTIL = "sso_address_locked_until"
# Set on a request whose address sso_shared.login_protection.login_gate found not locked, a moment before its
# password check.
ADDRESS_CHECKED = "sso_address_checked"
# Set as well when it found no record at all still counting at that address (LockoutHandler).
ADDRESS_CLEAN = "sso_address_clean"


def login_username(request, credentials=None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username as Django's login form cleans it (stripped, NFKC), else None."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    if value is None:
        return None
    # Bounded like the audit trail's column: no real username is longer (Django's limit is 150),
    # and django-axes' own column (255) would refuse a longer one with an error.
    value = unicodedata.normalize("NFKC", str(value).strip())[: audit.USERNAME_LENGTH]
    return value or None


def live_attempts():
    """Records whose cool-off has not ended (an expired one is deleted at the next login anywhere)."""
    from axes.models import AccessAttempt

    return AccessAttempt.objects.filter(Q(expiration__isnull=True) | Q(expiration__expires_at__gt=timezone.now()))


def address_failures(address: str | None) -> int:
    """Failed (and busy-refused) logins at the address, any username, that still count."""
    if address is None:
        return 0
    return live_attempts().filter(ip_address=address).aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_locked(address: str | None) -> bool:
    return address_failures(address) >= settings.SSO_ADDRESS_FAILURE_LIMIT


def address_locked_until(address: str | None) -> datetime | None:
    return live_attempts().filter(ip_address=address).aggregate(until=Max("expiration__expires_at"))["until"]


def address_state_query(address: str):
    """The address's failures that still count (``total``), those of them with a username (``named``: checked,
    or refused while that pair was locked; not the address's own record of refusals), and when the last of them
    stops counting (``until``): one row, or none when nothing counts there."""
    return (
        live_attempts()
        .filter(ip_address=address)
        .values("ip_address")
        .annotate(
            total=Sum("failures_since_start"),
            named=Sum("failures_since_start", filter=Q(username__isnull=False)),
            until=Max("expiration__expires_at"),
        )
        .values("total", "named", "until")
    )


def count_refused_at(request, username: str | None = None) -> tuple[datetime | None, bool]:
    """A login refused before any password check: one more failure at the request's address.

    Refused because every slot was busy (``username`` None): on the address's own record (username NULL),
    so it never counts toward any account's lock, only the address's. Refused because the address is
    locked: on the record of the username it named, when that pair has one (the same pair keeps failing, as
    django-axes counts an attempt while locked, and lifting that username's records lifts it), else on the
    address's own record. The record's cool-off starts again, as every attempt while locked does.

    Returns when the record stops counting, and whether it was the address's own. Two or three statements,
    no transaction (a flood sends many); the first refusal of an address creates its record.
    """
    from axes.models import AccessAttempt, AccessAttemptExpiration

    address = audit.client_address(request)
    if address is None:
        return None, False
    now = timezone.now()
    records = AccessAttempt.objects.filter(ip_address=address)
    own = {"username": None, "user_agent": ""}
    record = (
        records.filter(Q(username=username) | Q(**own) if username else Q(**own))
        .order_by(F("username").asc(nulls_last=True), "-attempt_time")
        .values("pk", "username", "failures_since_start")
        .first()
    )
    counted = record is not None and AccessAttempt.objects.filter(pk=record["pk"]).update(
        failures_since_start=F("failures_since_start") + 1
    )
    if counted:
        failures = record["failures_since_start"] + 1
        cool_off = cool_off_after(failures) if record["username"] else timedelta(minutes=settings.SSO_LOCKOUT_MINUTES)
        expiration = AccessAttemptExpiration.objects.filter(access_attempt_id=record["pk"])
        if not expiration.update(expires_at=now + cool_off):
            expiration.update_or_create(access_attempt_id=record["pk"], defaults={"expires_at": now + cool_off})
        return now + cool_off, record["username"] is None
    # No record of its own yet (or one lifted a moment ago): made once.
    expires_at = now + timedelta(minutes=settings.SSO_LOCKOUT_MINUTES)
    with transaction.atomic(using=router.db_for_write(AccessAttempt)):
        attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
            **own,
            ip_address=address,
            defaults={"failures_since_start": 1, "get_data": "", "post_data": "", "path_info": request.path[:255]},
        )
        if not created:
            AccessAttempt.objects.filter(pk=attempt.pk).update(failures_since_start=F("failures_since_start") + 1)
        AccessAttemptExpiration.objects.update_or_create(access_attempt=attempt, defaults={"expires_at": expires_at})
    return expires_at, True


def attempts_of(username: str, address: str | None):
    """The pair's records that still count."""
    return live_attempts().filter(username=username, ip_address=address)


def failures_of(username: str, address: str | None) -> int:
    return attempts_of(username, address).aggregate(total=Sum("failures_since_start"))["total"] or 0


def cool_off_after(failures: int) -> timedelta:
    """SSO_LOCKOUT_MINUTES, doubled for each AXES_FAILURE_LIMIT failures past the first lock, capped."""
    doublings = min(max(failures // settings.AXES_FAILURE_LIMIT - 1, 0), MAX_DOUBLINGS)
    minutes = min(settings.SSO_LOCKOUT_MINUTES * 2**doublings, settings.SSO_LOCKOUT_MAX_MINUTES)
    return timedelta(minutes=minutes)


def pair_of(request, credentials=None) -> tuple[str, str | None] | None:
    """(username, client address) of a login request; None without a username."""
    username = login_username(request, credentials) if request is not None else None
    if not username:
        return None
    return str(username), audit.client_address(request)


def cool_off(request) -> timedelta:
    """AXES_COOLOFF_TIME: how long the pair of this request stays locked after its last attempt."""
    pair = pair_of(request)
    return cool_off_after(failures_of(*pair) if pair else 0)


def locked_until(username: str, address: str | None) -> datetime | None:
    """When the pair's lock ends: each record keeps the end of its cool-off (AXES_USE_ATTEMPT_EXPIRATION)."""
    return attempts_of(username, address).aggregate(until=Max("expiration__expires_at"))["until"]


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the login page's own look, saying until when (429 with Retry-After)."""
    if getattr(request, ADDRESS_LOCKED, False):
        pair, address = None, audit.client_address(request)
        # Known already when sso_shared.login_protection.login_gate refused it.
        username, until = "", getattr(request, ADDRESS_LOCKED_UNTIL, None) or address_locked_until(address)
    else:
        pair = pair_of(request, credentials)
        username, address = pair if pair else ("", audit.client_address(request))
        until = locked_until(username, address) if pair else None
    if until is None:  # no record left (lifted meanwhile): say the plain cool-off
        until = timezone.now() + cool_off_after(settings.AXES_FAILURE_LIMIT)
    response = render(
        request,
        "registration/locked_out.html",
        # The login page by its path, not its URL name: System B has no page named "login".
        {"locked_username": username, "locked_until": until, "login_url": resolve_url(settings.LOGIN_URL)},
        status=429,
    )
    response["Retry-After"] = str(max(int((until - timezone.now()).total_seconds()), 1))
    add_never_cache_headers(response)
    return response


@receiver(user_locked_out, dispatch_uid="sso_shared.login_protection.lockout.locked_out")
def locked_out(sender, request, username, **kwargs):
    """Axes sends this for the attempt that locks a pair and for each attempt refused while it is locked."""
    if getattr(request, ADDRESS_LOCKED, False):
        return  # refused for its address: LockoutBackend recorded it, once
    audit.record_locked_out(request, username=str(username or ""))
