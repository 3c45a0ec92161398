"""A cap on password checks running at once, across every service and replica: the login survives a flood.

Each password check costs about 0.25 s of one core (PBKDF2, 1,000,000 iterations). nginx's
throttle and the lockout bound what one address or one account may cost, not what many
addresses cost together: 40 addresses, each within its rate, kept every worker of A hashing
and its pages waited seconds (docs/login-protection.md, "Under a flood").

So at most ``SSO_PASSWORD_CHECKS_AT_ONCE`` hashes run at any moment, on the whole site: each
takes one of that many slots, PostgreSQL advisory locks in the shared database (one database
every service and replica reaches, natively, under Compose and under Swarm; a worker that dies
drops its slot with its connection). A check that finds every slot taken does not wait: it
raises ``PasswordChecksBusy``, and ``PasswordChecksBusyMiddleware`` answers 429 with
``Retry-After`` at once, in the site's look. The refusal counts against the client address
(``sso_shared.lockout.count_refused_at``), so an address that keeps the site busy locks itself
out, and its later attempts are refused before any slot or password is needed.

The slots are taken by the password hashers themselves (``verify`` and ``encode``: the login,
both admins' logins, the password-change forms, and the dummy hash Django computes for an
unknown username), so no path that checks a password goes around them. The hashers keep
Django's algorithm names and parameters: stored hashes read and compare exactly as before.
https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#writing-your-own-hasher
"""

import threading
from contextlib import contextmanager

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

# Takes the first free slot in one round trip: PostgreSQL stops at the first row the LIMIT needs,
# so it tries slot 0, then 1, ... and takes no second one.
TAKE_SLOT_SQL = "SELECT slot FROM generate_series(0, %s - 1) AS slot WHERE pg_try_advisory_lock(%s, slot) LIMIT 1"
RELEASE_SLOT_SQL = "SELECT pg_advisory_unlock(%s, %s)"


class PasswordChecksBusy(Exception):  # noqa: N818 (a state of the site, raised and answered, not an error)
    """Every password-check slot was taken: answered 429 with Retry-After by PasswordChecksBusyMiddleware."""


@contextmanager
def password_check_slot():
    """Hold one of SSO_PASSWORD_CHECKS_AT_ONCE slots for the block, or raise PasswordChecksBusy at once."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    connection = connections[SHARED_DB]
    with connection.cursor() as cursor:
        cursor.execute(TAKE_SLOT_SQL, [settings.SSO_PASSWORD_CHECKS_AT_ONCE, SLOTS_LOCK_KEY])
        row = cursor.fetchone()
    if row is None:
        raise PasswordChecksBusy
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SLOT_SQL, [SLOTS_LOCK_KEY, row[0]])


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
