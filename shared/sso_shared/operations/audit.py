"""The audit trail: who logged in, failed to, logged out, changed a password, was refused or logged out by others.

One row per event in the shared database (``sso_shared.models.AuditEvent``,
table ``sso_audit_event``), written only when such an event happens: never on
an ordinary page view. Recording must never break what it records: a failure
logs a warning and the login (or logout, or 403 page) goes on.

Where each kind is recorded:

- ``login``, ``login_failed``, ``logout``: Django's auth signals (receivers below); ``login`` in one
  statement with the user's last_login.
- ``password_change``: ``sso_shared.accounts.views.PasswordChangeView`` (Django has no
  password-changed signal; the view is where the request is known).
- ``access_denied``: ``sso_shared.access.service_access.no_access``, the 403 page of every service.
- ``session_revoked``: ``sso_shared.sessions.store.end_sessions_of``, once per user
  (deleting a user ends their sessions through it, and so does the admin's
  "end all sessions"), and ``sso_shared.sessions.your_sessions``, once per session a user
  ends on the "Your sessions" page.
- ``second_factor_failed``: a wrong code or passkey at the login's second step (or when turning
  the second factor off), sent as ``user_login_failed`` so the lockout counts it
  (``sso_shared.second_factor.rules``); the other second-factor kinds (``totp_added``, ...,
  ``second_factor_reset``) and the recovery kinds (``reset_requested``, ``reset_link_made``,
  ``password_reset``, ``temp_password_set``) where they happen (``sso_shared.second_factor.rules``,
  ``sso_shared.second_factor.page``, ``sso_shared.accounts.recovery``).
- ``locked_out``: ``record_locked_out``, called on django-axes' lockout signal
  (``sso_shared.login_protection.lockout``): for the failed login that locks a username at an
  address, and for each login refused while it is locked. A refused login is
  recorded once, as ``locked_out`` (its password was never checked); the login that
  locks is a ``login_failed`` followed by the ``locked_out`` that it caused.

The client address is the one nginx saw. nginx sends
``X-Forwarded-For: $proxy_add_x_forwarded_for``: whatever the client sent, then,
last, the address nginx itself saw (``$remote_addr``). Only that last entry is
used; everything before it is the client's own claim. Without the header (a
request that did not come through nginx, like the test client's) it is
``REMOTE_ADDR``.
"""

import ipaddress
import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connections, transaction
from django.db.models.sql import InsertQuery
from django.db.utils import ProgrammingError
from django.dispatch import receiver
from django.utils import timezone

from sso_shared.database.routers import SHARED_DB, upkeep_db

logger = logging.getLogger(__name__)

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
PASSWORD_CHANGE = "password_change"  # noqa: S105 (an event kind, not a password)
LOCKED_OUT = "locked_out"
SESSION_REVOKED = "session_revoked"
ACCESS_DENIED = "access_denied"
# The second factor (sso_shared.second_factor.rules) and account recovery (sso_shared.accounts.recovery).
SECOND_FACTOR_FAILED = "second_factor_failed"
RECOVERY_CODE_USED = "recovery_code_used"
TOTP_ADDED = "totp_added"
TOTP_REMOVED = "totp_removed"
PASSKEY_ADDED = "passkey_added"
PASSKEY_REMOVED = "passkey_removed"
RECOVERY_CODES_MADE = "recovery_codes_made"
SECOND_FACTOR_OFF = "second_factor_off"
SECOND_FACTOR_RESET = "second_factor_reset"
RESET_REQUESTED = "reset_requested"
RESET_LINK_MADE = "reset_link_made"
PASSWORD_RESET = "password_reset"  # noqa: S105 (an event kind, not a password)
TEMPORARY_PASSWORD_SET = "temp_password_set"  # noqa: S105 (an event kind, not a password)
SECOND_FACTOR_KINDS = (
    SECOND_FACTOR_FAILED,
    RECOVERY_CODE_USED,
    TOTP_ADDED,
    TOTP_REMOVED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    RECOVERY_CODES_MADE,
    SECOND_FACTOR_OFF,
    SECOND_FACTOR_RESET,
)
RECOVERY_KINDS = (RESET_REQUESTED, RESET_LINK_MADE, PASSWORD_RESET, TEMPORARY_PASSWORD_SET)
KINDS = (
    *(LOGIN, LOGIN_FAILED, LOGOUT, PASSWORD_CHANGE, LOCKED_OUT, SESSION_REVOKED, ACCESS_DENIED),
    *SECOND_FACTOR_KINDS,
    *RECOVERY_KINDS,
)

# Set by the lockout (sso_shared.login_protection.lockout) on a request whose login it refused.
REFUSED_BY_LOCKOUT = "sso_login_refused"
# In the credentials of a user_login_failed that was a wrong second factor (sso_shared.second_factor.rules).
SECOND_FACTOR_MARK = "second_factor"

USERNAME_LENGTH = 150
USER_AGENT_LENGTH = 300


def printable(text: str) -> str:
    """The text with each control, format or whitespace character written as its code (\\x0a, \\x1b, \\x20).

    An attempted username is whatever a client typed: shown raw, ``zz<newline><time> login ...<ESC>[2K``
    would print a forged event line and send escape codes to the operator's terminal. A backslash is
    written doubled, so no escape can be forged either.
    """
    return "".join(char if shown_as_is(char) else escaped(char) for char in text)


def shown_as_is(char: str) -> bool:
    return char.isprintable() and not char.isspace() and char != "\\"


def escaped(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def client_address(request) -> str | None:
    """The address nginx saw: the last X-Forwarded-For entry (nginx's), else REMOTE_ADDR; None if neither is an IP."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    candidates = [forwarded.rsplit(",", 1)[-1].strip()] if forwarded.strip() else []
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def event_model():
    # Through the app registry: the models module imports this one (for the lengths above).
    return apps.get_model("sso_shared", "AuditEvent")


def new_event(kind: str, request=None, user=None, username: str = "", service: str | None = None):
    """One event, not yet written."""
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if user is not None and not username:
        username = user.get_username()
    return event_model()(
        kind=kind,
        service=service or settings.SSO_SERVICE_NAME,
        user_id=user.pk if user is not None else None,
        username=(username or "")[:USERNAME_LENGTH],
        address=client_address(request) if request is not None else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH] if request is not None else "",
    )


def record(kind: str, request=None, user=None, username: str = "", service: str | None = None) -> None:
    """Write one event; on any failure log a warning and return (never raise)."""
    try:
        event = new_event(kind, request, user=user, username=username, service=service)
        if transaction.get_connection(SHARED_DB).in_atomic_block:
            # A savepoint: a failed insert must not spoil a transaction the caller is in.
            with transaction.atomic(using=SHARED_DB):
                event.save(using=SHARED_DB)
        else:
            event.save(using=SHARED_DB)  # one INSERT, atomic on its own: no BEGIN and COMMIT round trips
    except Exception:  # recording never breaks a login, a logout or a 403 page
        logger.warning("Could not record the audit event %r for %r.", kind, username or user, exc_info=True)


def record_locked_out(request, username: str, user=None) -> None:
    """A username locked at the request's address after too many failed logins, or a login refused by that lock."""
    record(LOCKED_OUT, request, user=user, username=username)


def record_sessions_revoked(users, request=None) -> None:
    for user in users:
        record(SESSION_REVOKED, request, user=user)


def retention() -> timedelta:
    return timedelta(days=settings.SSO_AUDIT_RETENTION_DAYS)


def prune(now=None) -> int:
    """Delete the events older than SSO_AUDIT_RETENTION_DAYS; returns how many.

    Only the maintenance role (housekeeping) and the migrate step may, on their own login
    (routers.upkeep_db): the services may only add events (sso_shared.database.table_rights), and get a
    ``PruneRefused`` saying so.
    """
    cutoff = (now or timezone.now()) - retention()
    db = upkeep_db()
    try:
        with transaction.atomic(using=db):
            deleted, _ = event_model().objects.using(db).filter(time__lt=cutoff).delete()
    except ProgrammingError as error:
        if getattr(error.__cause__, "pgcode", None) != INSUFFICIENT_PRIVILEGE:
            raise
        raise PruneRefused(PRUNE_REFUSED) from error
    return deleted


INSUFFICIENT_PRIVILEGE = "42501"  # https://www.postgresql.org/docs/15/errcodes-appendix.html


PRUNE_REFUSED = (
    "This database role may not delete audit events: a service only adds them. Old events are pruned "
    "by housekeeping, as the maintenance role: ./stack housekeeping runs it now (docs/security.md)."
)


class PruneRefused(Exception):
    """A role that may not delete audit events (a service's) tried to prune them."""


def forget_username(user) -> None:
    """A deleted user's events name them by their tombstone (sso_shared.accounts.tombstones), like the admin history.

    The services may not UPDATE events: a function of the table's owner renames them, only to the
    tombstone's name of a user who is one (migration sso_shared.0007).
    """
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(f"SELECT {FORGET_USERNAME_FUNCTION}(%s)", [user.pk])


FORGET_USERNAME_FUNCTION = "sso_audit_forget_username"


# Django connects its receiver that writes last_login (django.contrib.auth.models.update_last_login) under this
# uid when django.contrib.auth is ready. sso_shared comes before it in INSTALLED_APPS (checked in
# sso_shared.apps), so ours below holds the uid first, and Django's connect finds it taken.
LAST_LOGIN_RECEIVER = "update_last_login"


@receiver(user_logged_in, dispatch_uid=LAST_LOGIN_RECEIVER)
def logged_in(sender, request, user, **kwargs):
    """The login event and the user's last_login, written together in one statement: one round trip, not two.

    last_login as Django's update_last_login sets it, without the user's save signals (a login is not an edit of
    the user). When the event cannot be written, last_login still is, and a warning is logged: recording never
    breaks a login.
    """
    user.last_login = timezone.now()
    try:
        sql, parameters = event_and_last_login_sql(new_event(LOGIN, request, user=user), user)
        connection = connections[SHARED_DB]
        if connection.in_atomic_block:
            with transaction.atomic(using=SHARED_DB), connection.cursor() as cursor:
                cursor.execute(sql, parameters)
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters)  # one statement, atomic on its own
    except Exception:
        logger.warning("Could not record the audit event %r for %r.", LOGIN, user, exc_info=True)
        user.save(update_fields=["last_login"])


def event_and_last_login_sql(event, user) -> tuple[str, list]:
    """``WITH event AS (INSERT the event) UPDATE the user's last_login``: both or neither."""
    connection = connections[SHARED_DB]
    model = type(event)
    query = InsertQuery(model)
    query.insert_values([field for field in model._meta.local_concrete_fields if not field.primary_key], [event])
    [(insert_sql, insert_parameters)] = query.get_compiler(using=SHARED_DB).as_sql()
    quote = connection.ops.quote_name
    last_login = user._meta.get_field("last_login")
    table, column, key = quote(user._meta.db_table), quote(last_login.column), quote(user._meta.pk.column)
    return (
        # Django's compiled INSERT and quoted names only; every value is a parameter.
        f"WITH event AS ({insert_sql}) UPDATE {table} SET {column} = %s WHERE {key} = %s",  # noqa: S608
        [
            *insert_parameters,
            last_login.get_db_prep_save(user.last_login, connection),
            user._meta.pk.get_db_prep_value(user.pk, connection),
        ],
    )


@receiver(user_login_failed, dispatch_uid="sso_shared.operations.audit.login_failed")
def login_failed(sender, credentials, request=None, **kwargs):
    if getattr(request, REFUSED_BY_LOCKOUT, False):
        return  # refused by the lockout before any password was checked: recorded as locked_out
    kind = SECOND_FACTOR_FAILED if credentials.get(SECOND_FACTOR_MARK) else LOGIN_FAILED
    record(kind, request, username=str(credentials.get("username", "")))


@receiver(user_logged_out, dispatch_uid="sso_shared.operations.audit.logged_out")
def logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(LOGOUT, request, user=user)
