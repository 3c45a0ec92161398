"""A cap on password checks running at once, across every service and replica: the login survives a flood.

Each password check costs about 0.25 s of one core (PBKDF2, 1,000,000 iterations). nginx's
throttle and the lockout bound what one address or one account may cost, not what many
addresses cost together: 40 addresses, each within its rate, kept every worker of A hashing
and its pages waited seconds (docs/login-protection.md, "Under a flood").

So at most ``SSO_PASSWORD_CHECKS_AT_ONCE`` hashes run at any moment, on the whole site: each
takes one of that many slots, PostgreSQL advisory locks in the shared database (one database
every service and replica reaches, natively, under Compose and under Swarm; a worker that dies
drops its slot with its connection).

A check that finds every slot taken may wait a little, in line: **fewer wrong passwords at its
client address go first, then fewer logins refused there** (its place in line, ``place_for``, set by
``sso_shared.login_protection.login_gate`` for each login). A real user, whose password is right and who tries again
when told, so passes the addresses of a flood, which fail with every check and come back twice a
second. Refusals order only those with as many wrong passwords: a real user refused while a flood
begins never falls behind the flood's addresses that failed a check. At most a few wait
(``WAITERS_PER_SLOT`` per slot, up to ``SSO_PASSWORD_CHECK_WAIT_SECONDS``), each polling for a
free slot that no one with fewer failures waits for; the others, and a waiter whose time is up,
raise ``PasswordChecksBusy``, which ``PasswordChecksBusyMiddleware`` answers 429 with
``Retry-After``, in the site's look. The refusal counts against the client address
(``sso_shared.login_protection.lockout.count_refused_at``), so an address that keeps the site busy falls back in
line and soon locks itself out, and its later attempts are refused before any slot or password
is needed. The waiters are shared advisory locks too, keyed by their place (``pg_locks`` shows
them to every service and replica; a worker that dies leaves the line with its connection).

The slots are taken by the password hashers themselves (``verify`` and ``encode``: the login,
both admins' logins, the password-change forms, and the dummy hash Django computes for an
unknown username), so no path that checks a password goes around them. The hashers keep
Django's algorithm names and parameters: stored hashes read and compare exactly as before.
https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#writing-your-own-hasher
"""

import logging
import re
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import hashers
from django.db import DatabaseError, connections
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from sso_shared.database.routers import SHARED_DB

logger = logging.getLogger(__name__)

# The advisory lock's first key (the second is the slot's number): "sso-pwch", as sso_shared.database.locks
# names its locks.
SLOTS_LOCK_KEY = int.from_bytes(b"sso-pwch", "big") & 0x7FFF_FFFF
# How long the busy page asks the browser to wait: one password check takes about a quarter of that.
RETRY_AFTER_SECONDS = 1

# One slot per thread at most: a check inside a check (Django re-hashing a password whose
# parameters changed, right after verifying it) runs in the slot already held.
_held = threading.local()

# Within a request through the login gate (sso_shared.login_protection.login_gate), its slot costs no round
# trip of its own:
# ``_request.taken`` is the slot the gate took with its look at the client address, for the view's check to
# use; ``_request.done`` one whose check has ended, given back with the connection's next statement (or
# by the next check of the request, which uses it). ``_request.active`` says the request is such a one.
_request = threading.local()

# The waiters' advisory locks: (WAITERS_LOCK_KEY, place), taken shared, so many may wait at one place.
WAITERS_LOCK_KEY = int.from_bytes(b"sso-pwln", "big") & 0x7FFF_FFFF
# How many may wait, per slot: a longer line only holds workers for nothing (each check takes about
# 0.25 s, a waiter gives up after SSO_PASSWORD_CHECK_WAIT_SECONDS). One with a better place than the last
# one waiting still joins, and the last leaves the line when it is longer than that (busy page): the line
# keeps the best places. Only addresses with fewer wrong passwords than lock one account wait at all.
WAITERS_PER_SLOT = 1
# How often a waiter looks for a free slot: after a check ends, its slot waits at most this long.
POLL_SECONDS = 0.05
# Refusals an address in good standing may have had (still counting): see in_good_standing.
GOOD_STANDING_REFUSALS = 1
# A place is an int4 key of an advisory lock: the wrong passwords in its high bits, the refusals in its low ones.
REFUSAL_BITS = 16
MOST_REFUSALS = 2**REFUSAL_BITS - 1
MOST_WRONG_PASSWORDS = 2 ** (31 - REFUSAL_BITS) - 1
LAST_PLACE = 2**31 - 1

# A request's place in line (sso_shared.login_protection.login_gate, from its client address's records): see place_for.
# A hash computed outside a login (an administrator setting a password, a management command) is first.
_place: ContextVar[int] = ContextVar("sso_password_check_place", default=0)

# Advisory locks live in one database; pg_locks shows every database's, so each query names its own.
# Takes the first free slot of those below %(slots)s in one round trip, unless someone waits at a place before
# %(before)s: PostgreSQL stops at the first row the LIMIT needs, so it tries the last of them, then the one
# before, ... (the slots kept for addresses in good standing first) and takes no second one. CASE decides
# whether to try at all before any lock is tried (the order of ANDed conditions is the planner's).
# With %(after_kept)s, none is taken while a kept slot (%(kept_from)s and up) is: a check out of good standing
# never starts beside a real user's.
TAKE_SLOT_SQL = """
    SELECT slot FROM generate_series(%(slots)s - 1, 0, -1) AS slot
     WHERE CASE WHEN EXISTS (SELECT FROM pg_locks
                              WHERE locktype = 'advisory' AND granted AND classid = %(waiters)s AND objsubid = 2
                                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                AND objid::bigint < %(before)s)
                THEN false
                WHEN %(after_kept)s AND EXISTS (SELECT FROM pg_locks
                              WHERE locktype = 'advisory' AND granted AND classid = %(key)s AND objsubid = 2
                                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                AND objid::bigint >= %(kept_from)s)
                THEN false
                ELSE pg_try_advisory_lock(%(key)s, slot) END
     LIMIT 1
"""
RELEASE_SLOT_SQL = "SELECT pg_advisory_unlock(%s, %s)"
# A waiter's look, in one round trip: the slot it took (as TAKE_SLOT_SQL, or NULL), then how many wait and the
# last place among them.
WAITER_LOOK_SQL = """
    SELECT (SELECT slot FROM generate_series(%(slots)s - 1, 0, -1) AS slot
             WHERE CASE WHEN EXISTS (SELECT FROM pg_locks
                                      WHERE locktype = 'advisory' AND granted AND classid = %(waiters)s
                                        AND objsubid = 2 AND objid::bigint < %(before)s
                                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
                        THEN false
                        WHEN %(after_kept)s AND EXISTS (SELECT FROM pg_locks
                                      WHERE locktype = 'advisory' AND granted AND classid = %(key)s
                                        AND objsubid = 2 AND objid::bigint >= %(kept_from)s
                                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
                        THEN false
                        ELSE pg_try_advisory_lock(%(key)s, slot) END
             LIMIT 1),
           count(*), coalesce(max(objid::bigint), -1)
      FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND classid = %(waiters)s AND objsubid = 2
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
# Slots below %(slots)s taken, kept slots taken, then how many wait, the last place among them, and whether any
# waits at a place before %(before)s.
LINE_SQL = """
    WITH here AS (SELECT * FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND objsubid = 2
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    SELECT count(*) FILTER (WHERE classid = %(key)s AND objid::bigint < %(slots)s),
           count(*) FILTER (WHERE classid = %(key)s AND objid::bigint >= %(kept_from)s),
           count(*) FILTER (WHERE classid = %(waiters)s),
           coalesce(max(objid::bigint) FILTER (WHERE classid = %(waiters)s), -1),
           coalesce(bool_or(objid::bigint < %(before)s) FILTER (WHERE classid = %(waiters)s), false)
      FROM here
"""
JOIN_LINE_SQL = "SELECT pg_advisory_lock_shared(%s, %s)"
LEAVE_LINE_SQL = "SELECT pg_advisory_unlock_shared(%s, %s)"


class PasswordChecksBusy(Exception):  # noqa: N818 (a state of the site, raised and answered, not an error)
    """Every password-check slot was taken: answered 429 with Retry-After by PasswordChecksBusyMiddleware."""


def place_for(wrong_passwords: int, refusals: int = 0) -> int:
    """The place in line of a login from an address with these failures still counting there.

    Fewer wrong passwords (checked and failed, any usernames) first; among as many, fewer logins refused
    without a check (every slot busy). Each is capped, so the order holds however long a flood lasts.
    """
    wrong = min(max(wrong_passwords, 0), MOST_WRONG_PASSWORDS)
    return (wrong << REFUSAL_BITS) | min(max(refusals, 0), MOST_REFUSALS)


def wrong_passwords_at(place: int) -> int:
    return place >> REFUSAL_BITS


def take_place(place: int):
    """Password checks from now on wait, if they must, at this place (``place_for``).

    Returns the token ``leave_place`` takes back (sso_shared.login_protection.login_gate, around a request's view).
    """
    return _place.set(min(max(place, 0), LAST_PLACE))


def leave_place(token) -> None:
    _place.reset(token)


@contextmanager
def place_in_line(place: int):
    """Password checks in the block wait, if they must, at this place."""
    token = take_place(place)
    try:
        yield
    finally:
        leave_place(token)


def current_place() -> int:
    return _place.get()


def wrong_passwords_allow_waiting(place: int) -> bool:
    """Fewer wrong passwords at the address than lock one account (LOGIN_FAILURE_LIMIT): a real user, typos and all.

    Refusals do not count here: a real user refused while a flood begins still waits in line, ahead of the flood.
    """
    return wrong_passwords_at(place) < settings.AXES_FAILURE_LIMIT


def in_good_standing(place: int) -> bool:
    """Fewer wrong passwords at the address than lock one account (LOGIN_FAILURE_LIMIT), refused there at most once.

    A real user, typos and all: waiting in line ahead of a flood, they are seldom refused, and then try again
    when told. Not a flood's address after its first second, which comes back twice a second however often
    it is refused.
    """
    return wrong_passwords_allow_waiting(place) and place & MOST_REFUSALS <= GOOD_STANDING_REFUSALS


def slots_for(place: int) -> int:
    """How many slots a check at this place may use: SSO_PASSWORD_CHECKS_AT_ONCE, and the kept ones in good standing.

    So a flood, whose addresses soon fail or are refused more often than that, holds the kept check only in its
    first seconds: then it is a real user's, who never waits behind a flood's hash.
    """
    kept = settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING if in_good_standing(place) else 0
    return settings.SSO_PASSWORD_CHECKS_AT_ONCE + kept


def _slot_parameters(place: int, *, before: int) -> dict:
    return {
        "slots": slots_for(place),
        "key": SLOTS_LOCK_KEY,
        "waiters": WAITERS_LOCK_KEY,
        "before": before,
        "kept_from": settings.SSO_PASSWORD_CHECKS_AT_ONCE,
        "after_kept": not in_good_standing(place),
    }


def _take_slot(cursor, place: int, *, waiting: bool) -> int | None:
    """A free slot, unless someone waits before this place (a newcomer also lets those at its own place go first).

    Out of good standing, none while a kept slot is taken: a flood's hash never starts beside a real user's.
    """
    cursor.execute(TAKE_SLOT_SQL, _slot_parameters(place, before=place if waiting else place + 1))
    row = cursor.fetchone()
    return None if row is None else row[0]


def room_in_line() -> int:
    return WAITERS_PER_SLOT * (
        settings.SSO_PASSWORD_CHECKS_AT_ONCE + settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING
    )


def may_wait(place: int, waiting: int, last_place: int) -> bool:
    """Few wrong passwords, and room in line or a better place than the last one waiting (who then leaves).

    An address failing more often (a flood's, soon) never waits: it gets a slot no one waits for, or the busy page.
    """
    if settings.SSO_PASSWORD_CHECK_WAIT_SECONDS <= 0 or not wrong_passwords_allow_waiting(place):
        return False
    return waiting < room_in_line() or place < last_place


def would_be_refused(place: int) -> bool:
    """True when a check at this place would find no slot and no room in line now: refused before any work.

    One query; what it sees may change before the check itself (which decides), so it is only a shortcut for
    the many requests of a flood that have no chance (sso_shared.login_protection.login_gate).
    """
    look = _slot_parameters(place, before=place + 1)
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(LINE_SQL, look)
        taken, kept_taken, waiting, last_place, someone_before = cursor.fetchone()
    if taken < look["slots"] and not someone_before and not (look["after_kept"] and kept_taken):
        return False  # a slot is free for it
    return not may_wait(place, waiting, last_place)


def _wait_for_slot(cursor, place: int) -> int | None:
    """Wait in line at ``place`` for a slot no one before it waits for; None when there is no room or time is up."""
    look = _slot_parameters(place, before=place)
    cursor.execute(LINE_SQL, look)
    _taken, _kept_taken, waiting, last_place, _someone_before = cursor.fetchone()
    if not may_wait(place, waiting, last_place):
        return None
    cursor.execute(JOIN_LINE_SQL, [WAITERS_LOCK_KEY, place])
    try:
        deadline = time.monotonic() + settings.SSO_PASSWORD_CHECK_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            cursor.execute(WAITER_LOOK_SQL, look)
            slot, waiting, last_place = cursor.fetchone()
            if slot is not None:
                return slot
            if waiting > room_in_line() and place >= last_place:
                return None  # better places joined: the last leaves the line
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
    slot = _slot_held_for_request()
    if slot is None:
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
        if getattr(_request, "active", False):
            _request.done = slot  # given back with the next statement (give_back_with_next_statement)
        else:
            with connection.cursor() as cursor:
                cursor.execute(RELEASE_SLOT_SQL, [SLOTS_LOCK_KEY, slot])


def _slot_held_for_request() -> int | None:
    """The slot the login gate took for this request, or one the request's last check ended with: else None."""
    if not getattr(_request, "active", False):
        return None
    slot = _request.taken if _request.taken is not None else _request.done
    _request.taken = _request.done = None
    return slot


# TAKE_SLOT_SQL with positional placeholders, and the names of its parameters in their order: for a query that
# takes a slot beside what else it asks, with positional parameters of its own (take_slot_sql).
TAKE_SLOT_POSITIONAL_SQL = re.sub(r"%\(\w+\)s", "%s", TAKE_SLOT_SQL)
TAKE_SLOT_PARAMETER_NAMES = re.findall(r"%\((\w+)\)s", TAKE_SLOT_SQL)


def take_slot_sql(place: int) -> tuple[str, list]:
    """TAKE_SLOT_SQL for a newcomer at this place, with positional parameters: for a query to take a slot beside
    what else it asks (sso_shared.login_protection.login_gate, with its look at the client address)."""
    parameters = _slot_parameters(place, before=place + 1)
    return TAKE_SLOT_POSITIONAL_SQL, [parameters[name] for name in TAKE_SLOT_PARAMETER_NAMES]


def begin_request(taken: int | None) -> None:
    """A request through the login gate begins; ``taken``: a slot the gate already holds for its check (or None).

    Until end_request, a slot whose check ended is given back with the shared connection's next statement, in
    its round trip: the gate's look at the address took it, so a check costs no round trip of its own.
    """
    _request.active = True
    _request.taken = taken
    _request.done = None
    connections[SHARED_DB].execute_wrappers.append(give_back_with_next_statement)


def end_request() -> None:
    """Gives back a slot the request still holds (taken by the gate and never used, or ended just before)."""
    connection = connections[SHARED_DB]
    if give_back_with_next_statement in connection.execute_wrappers:
        connection.execute_wrappers.remove(give_back_with_next_statement)
    slot = _slot_held_for_request()
    _request.active = False
    if slot is None:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SLOT_SQL, [SLOTS_LOCK_KEY, slot])
    except DatabaseError:  # the connection is broken, and the lock went with it
        logger.warning("Could not give back password-check slot %s.", slot, exc_info=True)


def give_back_with_next_statement(execute, sql, params, many, context):
    """A Django execute wrapper: a slot whose check has ended is given back in the next statement's round trip.

    The two statements go as one simple query (psycopg2 returns the last one's rows), so the slot is held
    for one statement longer, not one round trip more. Not with executemany, nor on a server-side cursor.
    """
    slot = getattr(_request, "done", None)
    if slot is None or many or getattr(context["cursor"].cursor, "name", None):
        return execute(sql, params, many, context)
    _request.done = None
    given_back = RELEASE_SLOT_SQL % (SLOTS_LOCK_KEY, int(slot))
    return execute(f"{given_back}; {sql}", params, many, context)


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
        from sso_shared.login_protection.lockout import count_refused_at

        count_refused_at(request)
        return busy_response(request)
