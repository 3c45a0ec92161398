"""A cap on password checks running at once, across every service and replica: the login survives a flood.

Each password check costs about 0.25 s of one core (PBKDF2, 1,000,000 iterations). nginx's
throttle and the lockout bound what one address or one account may cost, not what many
addresses cost together: 40 addresses, each within its rate, kept every worker of A hashing
and its pages waited seconds (docs/login-protection.md, "Under a flood").

So at most ``SSO_PASSWORD_CHECKS_AT_ONCE`` hashes run at any moment, on the whole site: each
takes one of that many slots, PostgreSQL advisory locks in the shared database (one database
every service and replica reaches, natively, under Compose and under Swarm; a worker that dies
drops its slot with its connection).

A check that finds every slot taken may wait a little, in line: **fewer failed logins at its
client address go first** (its place in line, ``take_place``, set by
``sso_shared.login_gate`` for each login). A real user, whose address has failed little or not
at all, so passes the addresses of a flood, which fail with every attempt. At most a few wait
(``WAITERS_PER_SLOT`` per slot, up to ``SSO_PASSWORD_CHECK_WAIT_SECONDS``), each polling for a
free slot that no one with fewer failures waits for; the others, and a waiter whose time is up,
raise ``PasswordChecksBusy``, which ``PasswordChecksBusyMiddleware`` answers 429 with
``Retry-After``, in the site's look. The refusal counts against the client address
(``sso_shared.lockout.count_refused_at``), so an address that keeps the site busy falls back in
line and soon locks itself out, and its later attempts are refused before any slot or password
is needed. The waiters are shared advisory locks too, keyed by their place (``pg_locks`` shows
them to every service and replica; a worker that dies leaves the line with its connection).

The slots are taken by the password hashers themselves (``verify`` and ``encode``: the login,
both admins' logins, the password-change forms, and the dummy hash Django computes for an
unknown username), so no path that checks a password goes around them. The hashers keep
Django's algorithm names and parameters: stored hashes read and compare exactly as before.
https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#writing-your-own-hasher
"""

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import hashers
from django.db import connections
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from .routers import SHARED_DB

# The advisory lock's first key (the second is the slot's number): "sso-pwch", as sso_shared.locks names its locks.
SLOTS_LOCK_KEY = int.from_bytes(b"sso-pwch", "big") & 0x7FFF_FFFF
# How long the busy page asks the browser to wait: one password check takes about a quarter of that.
RETRY_AFTER_SECONDS = 1

# One slot per thread at most: a check inside a check (Django re-hashing a password whose
# parameters changed, right after verifying it) runs in the slot already held.
_held = threading.local()

# The waiters' advisory locks: (WAITERS_LOCK_KEY, place), taken shared, so many may wait at one place.
WAITERS_LOCK_KEY = int.from_bytes(b"sso-pwln", "big") & 0x7FFF_FFFF
# How many may wait, per slot: a longer line only holds workers for nothing (each check takes about
# 0.25 s, a waiter gives up after SSO_PASSWORD_CHECK_WAIT_SECONDS). One with fewer failures than
# someone waiting may still join, up to twice as many. Only addresses in good standing wait at all.
WAITERS_PER_SLOT = 1
# How often a waiter looks for a free slot: after a check ends, its slot waits at most this long.
POLL_SECONDS = 0.05
# Places are int4 keys of advisory locks; failures beyond this all count the same.
LAST_PLACE = 2**31 - 1

# A request's place in line: the failed logins still counting at its client address (sso_shared.login_gate).
# A hash computed outside a login (an administrator setting a password, a management command) is first.
_place: ContextVar[int] = ContextVar("sso_password_check_place", default=0)

# Advisory locks live in one database; pg_locks shows every database's, so each query names its own.
# Takes the first free slot of those below %(slots)s in one round trip, unless someone waits at a place before
# %(before)s: PostgreSQL stops at the first row the LIMIT needs, so it tries the last of them, then the one
# before, ... (the slots kept for addresses in good standing first) and takes no second one. CASE decides
# whether to try at all before any lock is tried (the order of ANDed conditions is the planner's).
TAKE_SLOT_SQL = """
    SELECT slot FROM generate_series(%(slots)s - 1, 0, -1) AS slot
     WHERE CASE WHEN EXISTS (SELECT FROM pg_locks
                              WHERE locktype = 'advisory' AND granted AND classid = %(waiters)s AND objsubid = 2
                                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                AND objid::bigint < %(before)s)
                THEN false
                ELSE pg_try_advisory_lock(%(key)s, slot) END
     LIMIT 1
"""
RELEASE_SLOT_SQL = "SELECT pg_advisory_unlock(%s, %s)"
# Slots below %(slots)s taken, then how many wait, the last place among them, and whether any waits at a place
# before %(before)s.
LINE_SQL = """
    WITH here AS (SELECT * FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND objsubid = 2
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    SELECT count(*) FILTER (WHERE classid = %(key)s AND objid::bigint < %(slots)s),
           count(*) FILTER (WHERE classid = %(waiters)s),
           coalesce(max(objid::bigint) FILTER (WHERE classid = %(waiters)s), -1),
           coalesce(bool_or(objid::bigint < %(before)s) FILTER (WHERE classid = %(waiters)s), false)
      FROM here
"""
JOIN_LINE_SQL = "SELECT pg_advisory_lock_shared(%s, %s)"
LEAVE_LINE_SQL = "SELECT pg_advisory_unlock_shared(%s, %s)"


class PasswordChecksBusy(Exception):  # noqa: N818 (a state of the site, raised and answered, not an error)
    """Every password-check slot was taken: answered 429 with Retry-After by PasswordChecksBusyMiddleware."""


def take_place(failures: int):
    """Password checks from now on wait, if they must, at this place: the client address's failed logins.

    Returns the token ``leave_place`` takes back (sso_shared.login_gate, around a request's view).
    """
    return _place.set(min(max(failures, 0), LAST_PLACE))


def leave_place(token) -> None:
    _place.reset(token)


@contextmanager
def place_in_line(failures: int):
    """Password checks in the block wait, if they must, at this place."""
    token = take_place(failures)
    try:
        yield
    finally:
        leave_place(token)


def current_place() -> int:
    return _place.get()


def in_good_standing(place: int) -> bool:
    """Fewer failed logins at the address than lock one account (LOGIN_FAILURE_LIMIT): a real user, typos and all."""
    return place < settings.AXES_FAILURE_LIMIT


def slots_for(place: int) -> int:
    """How many slots a check at this place may use: SSO_PASSWORD_CHECKS_AT_ONCE, and the kept ones in good standing.

    So a flood, whose addresses soon fail more often than that, never holds the check a real user needs: the
    kept slots are its only while its addresses are new.
    """
    kept = settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING if in_good_standing(place) else 0
    return settings.SSO_PASSWORD_CHECKS_AT_ONCE + kept


def _take_slot(cursor, place: int, *, waiting: bool) -> int | None:
    """A free slot, unless someone waits before this place (a newcomer also lets those at its own place go first)."""
    cursor.execute(
        TAKE_SLOT_SQL,
        {
            "slots": slots_for(place),
            "key": SLOTS_LOCK_KEY,
            "waiters": WAITERS_LOCK_KEY,
            "before": place if waiting else place + 1,
        },
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def may_wait(place: int, waiting: int, last_place: int) -> bool:
    """In good standing, and room in line, or fewer failures than the last one waiting (then up to twice the room).

    An address failing more often (a flood's, soon) never waits: it gets a slot no one waits for, or the busy page.
    """
    if settings.SSO_PASSWORD_CHECK_WAIT_SECONDS <= 0 or not in_good_standing(place):
        return False
    slots = settings.SSO_PASSWORD_CHECKS_AT_ONCE + settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING
    room = WAITERS_PER_SLOT * slots
    return waiting < room or (place < last_place and waiting < 2 * room)


def would_be_refused(place: int) -> bool:
    """True when a check at this place would find no slot and no room in line now: refused before any work.

    One query; what it sees may change before the check itself (which decides), so it is only a shortcut for
    the many requests of a flood that have no chance (sso_shared.login_gate).
    """
    slots = slots_for(place)
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(
            LINE_SQL, {"key": SLOTS_LOCK_KEY, "slots": slots, "waiters": WAITERS_LOCK_KEY, "before": place + 1}
        )
        taken, waiting, last_place, someone_before = cursor.fetchone()
    if taken < slots and not someone_before:
        return False  # a slot is free for it
    return not may_wait(place, waiting, last_place)


def _wait_for_slot(cursor, place: int) -> int | None:
    """Wait in line at ``place`` for a slot no one before it waits for; None when there is no room or time is up."""
    cursor.execute(
        LINE_SQL, {"key": SLOTS_LOCK_KEY, "slots": slots_for(place), "waiters": WAITERS_LOCK_KEY, "before": place}
    )
    _taken, waiting, last_place, _someone_before = cursor.fetchone()
    if not may_wait(place, waiting, last_place):
        return None
    cursor.execute(JOIN_LINE_SQL, [WAITERS_LOCK_KEY, place])
    try:
        deadline = time.monotonic() + settings.SSO_PASSWORD_CHECK_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            slot = _take_slot(cursor, place, waiting=True)
            if slot is not None:
                return slot
        return None
    finally:
        cursor.execute(LEAVE_LINE_SQL, [WAITERS_LOCK_KEY, place])


@contextmanager
def password_check_slot():
    """Hold one of SSO_PASSWORD_CHECKS_AT_ONCE slots for the block, after waiting in line a little if need be.

    No slot and no room in line, or no slot within SSO_PASSWORD_CHECK_WAIT_SECONDS: PasswordChecksBusy.
    """
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    connection = connections[SHARED_DB]
    place = current_place()
    with connection.cursor() as cursor:
        slot = _take_slot(cursor, place, waiting=False)
        if slot is None:
            slot = _wait_for_slot(cursor, place)
    if slot is None:
        raise PasswordChecksBusy
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SLOT_SQL, [SLOTS_LOCK_KEY, slot])


class BoundedHasher:
    """Mixed into Django's hashers: every hash computed (checked or made) holds a slot."""

    def verify(self, password, encoded):
        with password_check_slot():
            return super().verify(password, encoded)

    def encode(self, password, salt, *args, **kwargs):
        with password_check_slot():
            return super().encode(password, salt, *args, **kwargs)


class PBKDF2PasswordHasher(BoundedHasher, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(BoundedHasher, hashers.PBKDF2SHA1PasswordHasher):
    pass


class ScryptPasswordHasher(BoundedHasher, hashers.ScryptPasswordHasher):
    pass


def busy_response(request):
    """The login page's look: the site is checking too many passwords at once; try again in a second."""
    response = render(
        request, "registration/password_checks_busy.html", {"retry_after": RETRY_AFTER_SECONDS}, status=429
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


class PasswordChecksBusyMiddleware:
    """Turns PasswordChecksBusy, from any view that checks a password, into the 429 page; counts it for the address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, PasswordChecksBusy):
            return None
        from .lockout import count_refused_at

        count_refused_at(request)
        return busy_response(request)
