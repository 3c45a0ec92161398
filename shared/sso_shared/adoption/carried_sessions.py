"""Legacy sessions carried over: decoded with the legacy key, re-signed with ours, claimed once.

A legacy session row is signed with the legacy ``SECRET_KEY`` (Django's signing,
salt ``"django.contrib.sessions.SessionStore"``) and names its user by the old
primary key. Each unexpired one whose auth hash still matches its user's password
is rewritten for this deployment: ``_auth_user_id`` becomes the user's UUID,
``_auth_user_backend`` our backend, ``_auth_user_hash`` the user's
``get_session_auth_hash()`` under our key. It is stored in ``sso_session`` under a
key derived from the legacy cookie's name and value with our ``SECRET_KEY``
(``cookie_digest``): only a browser holding the legacy cookie can find it, and
``claim`` deletes it as it reads it. The user is never looked up by a username or
an old primary key at request time.
https://docs.djangoproject.com/en/5.2/topics/signing/
https://docs.djangoproject.com/en/5.2/topics/auth/default/#session-invalidation-on-password-change
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.serializers import JSONSerializer
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string

from sso_shared.database.routers import SHARED_DB
from sso_shared.sessions.store import SessionStore, session_model

# Django's db session store signs with "django.contrib.sessions." + its class name (sessions/backends/base.py).
LEGACY_SESSION_SALT = "django.contrib.sessions.SessionStore"
# The salt of AbstractBaseUser.get_session_auth_hash (contrib/auth/base_user.py), to check a legacy session
# still matches its user's password: one whose user changed the password since is not carried over.
AUTH_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
DIGEST_SALT = "sso_shared.adoption.legacy-session-cookie"
DIGEST_LENGTH = 40  # the length of sso_session.session_key; Django's own keys have 32 characters
# Expiry set by the legacy project's set_expiry(): the carried session gets this deployment's own.
LEGACY_EXPIRY_KEY = "_session_expiry"


class WrongSecretKey(Exception):
    pass


@dataclass
class DecodedSession:
    legacy_key: str
    old_user_pk: str
    data: dict
    expire_date: object


@dataclass
class SessionSurvey:
    """What the legacy session table holds, sorted by what becomes of each row."""

    total: int = 0
    expired: int = 0
    anonymous: int = 0
    stale: int = 0  # the user changed the password since: the session was logged out already
    unverified: int = 0
    logged_in: list[DecodedSession] = None


def decode(session_data: str, keys: list[str]) -> dict:
    return signing.loads(
        session_data, key=keys[0], fallback_keys=keys[1:], salt=LEGACY_SESSION_SALT, serializer=JSONSerializer
    )


def legacy_hash_matches(data: dict, password_hash: str, keys: list[str]) -> bool:
    given = data.get(HASH_SESSION_KEY, "")
    return any(
        constant_time_compare(
            given, salted_hmac(AUTH_HASH_SALT, password_hash, secret=key, algorithm="sha256").hexdigest()
        )
        for key in keys
    )


def survey(sessions, users_by_pk: dict, keys: list[str]) -> SessionSurvey:
    """Decode every unexpired legacy session; raises WrongSecretKey if any fails to verify."""
    now = timezone.now()
    result = SessionSurvey(total=len(sessions), logged_in=[])
    for session in sessions:
        if session.expire_date <= now:
            result.expired += 1
            continue
        try:
            data = decode(session.data, keys)
        except (signing.BadSignature, ValueError):
            result.unverified += 1
            continue
        old_pk = data.get(SESSION_KEY)
        if old_pk is None:
            result.anonymous += 1
            continue
        user = users_by_pk.get(str(old_pk))
        if user is None or not legacy_hash_matches(data, user.password, keys):
            result.stale += 1
            continue
        result.logged_in.append(DecodedSession(session.key, str(old_pk), data, session.expire_date))
    if result.unverified:
        live = result.total - result.expired
        raise WrongSecretKey(
            f"{result.unverified} of {live} unexpired sessions of the source do not verify with the SECRET_KEY "
            "in the secret key file: it is not that project's key. Nothing was changed. (If the project had "
            "SECRET_KEY_FALLBACKS, list them on the following lines of the file.)"
        )
    return result


def cookie_digest(cookie_name: str, cookie_value: str, secret: str | None = None) -> str:
    """Where a carried session is stored: derived with our SECRET_KEY, so the legacy cookie alone finds it."""
    message = f"{cookie_name}={cookie_value}"
    return salted_hmac(DIGEST_SALT, message, secret=secret, algorithm="sha256").hexdigest()[:DIGEST_LENGTH]


def cookie_digests(cookie_name: str, cookie_value: str) -> list[str]:
    """The digest under SECRET_KEY and under each SECRET_KEY_FALLBACKS: a key rotated since adoption still finds it."""
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [cookie_digest(cookie_name, cookie_value, secret=key) for key in keys]


def login_backend() -> str:
    """The backend a password login records: the first that finds users (the lockout's only refuses)."""
    for path in settings.AUTHENTICATION_BACKENDS:
        if hasattr(import_string(path), "get_user"):
            return path
    raise ImproperlyConfigured("no backend in AUTHENTICATION_BACKENDS can find a user (get_user)")


def rewritten(data: dict, user) -> dict:
    """The legacy session's data for this deployment: our user id, backend and auth hash."""
    carried = {key: value for key, value in data.items() if key != LEGACY_EXPIRY_KEY}
    carried[SESSION_KEY] = str(user.pk)
    carried[BACKEND_SESSION_KEY] = login_backend()
    carried[HASH_SESSION_KEY] = user.get_session_auth_hash()
    return carried


def store(digest: str, data: dict, user, expire_date) -> None:
    session_model().objects.using(SHARED_DB).create(
        session_key=digest, session_data=SessionStore().encode(data), expire_date=expire_date, user_id=str(user.pk)
    )


def claim(cookie_name: str, cookie_value: str) -> dict | None:
    """The carried session for this legacy cookie, deleted as it is read; None if there is none (any more)."""
    model = session_model()
    with transaction.atomic(using=SHARED_DB):
        row = (
            model.objects.using(SHARED_DB)
            .select_for_update()
            .filter(session_key__in=cookie_digests(cookie_name, cookie_value), expire_date__gt=timezone.now())
            .first()
        )
        if row is None:
            return None
        data = row.get_decoded()
        model.objects.using(SHARED_DB).filter(session_key=row.session_key).delete()
    return data or None
