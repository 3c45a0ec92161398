"""What must be identical in every service sharing the login, in a form safe to store.

Each entry of ``SHARED_SETTINGS`` names a setting, reads this service's value,
and says what users see when two services disagree on it. The secret key is
never stored: only keyed digests of it and of each fallback, which prove two
services hold the same key without revealing it.
"""

import hashlib
import hmac
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import version

import django
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher
from django.db.migrations.loader import MigrationLoader

from sso_shared.database.routers import is_shared_label, shared_app_labels

# A fixed, public message: the digest depends only on the key, so equal keys give
# equal digests in every service, and the digest cannot be turned back into the key.
KEY_DIGEST_LABEL = b"sso-shared fingerprint of SECRET_KEY, v1"
# Cost parameters a password hasher may have; a different value means a rehash at login.
HASHER_COST_PARAMETERS = (
    "iterations",
    "work_factor",
    "block_size",
    "parallelism",
    "time_cost",
    "memory_cost",
    "rounds",
)
LOGIN_AGAIN = "users will be asked to log in again"
SHARED_MIGRATIONS = "migrations of the shared tables"


def key_digest(key: str) -> str:
    return hmac.new(key.encode(), KEY_DIGEST_LABEL, hashlib.sha256).hexdigest()


def secret_keys() -> dict:
    """The key this service signs with, and every key it accepts (itself plus the fallbacks)."""
    signs_with = key_digest(settings.SECRET_KEY)
    return {
        "signs_with": signs_with,
        "accepts": [signs_with, *(key_digest(key) for key in settings.SECRET_KEY_FALLBACKS)],
    }


def session_engine() -> str:
    # The signing salt is "django.contrib.sessions." + the store's class name: a
    # subclass with another name signs differently under the same engine setting.
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return f"{settings.SESSION_ENGINE} (store {store.__module__}.{store.__qualname__})"


def user_model() -> str:
    model = get_user_model()
    return f"{settings.AUTH_USER_MODEL} (primary key {model._meta.pk.get_internal_type()})"


def password_hashers() -> dict:
    hasher = get_hasher("default")
    costs = {name: getattr(hasher, name) for name in HASHER_COST_PARAMETERS if hasattr(hasher, name)}
    return {"hashers": list(settings.PASSWORD_HASHERS), "default": {"algorithm": hasher.algorithm, **costs}}


def feature_release_of_django() -> str:
    """Only the feature release (5.2) decides the shared schema: a patch release adds no migration."""
    return "{}.{}".format(*django.VERSION[:2])


def feature_release_of_sso_shared() -> str:
    major, minor, *_ = version("sso-shared").split(".")
    return f"{major}.{minor}"


def shared_migrations() -> list[str]:
    """Every migration of the apps in the shared database that this service's code knows ("app.name")."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.disk_migrations if is_shared_label(app))


def second_factor() -> dict:
    """Who must have a second factor, and whether this service holds such users to it."""
    return {
        "required_for": getattr(settings, "SSO_SECOND_FACTOR", None),
        "enforced": SECOND_FACTOR_MIDDLEWARE in settings.MIDDLEWARE,
    }


SECOND_FACTOR_MIDDLEWARE = "sso_shared.accounts.requirements.AccountRequirementsMiddleware"


@dataclass(frozen=True)
class SharedSetting:
    name: str
    read: object  # () -> a JSON-serialisable value
    consequence: str
    fix: str = ""
    # For a setting a service of an older release does not record: whether its absence there matters,
    # given this service's value (by default it does not: the older release simply predates it).
    missing_matters: object = None  # (value) -> bool

    @property
    def how_to_fix(self) -> str:
        return self.fix or f"Set the same {self.name} in both."


SHARED_SETTINGS = (
    SharedSetting(
        "SECRET_KEY",
        secret_keys,
        f"sessions from one will be rejected by the other and {LOGIN_AGAIN}",
    ),
    SharedSetting(
        "SESSION_ENGINE",
        session_engine,
        "they store or sign sessions differently (the store class is part of the signature), so sessions "
        f"from one look empty to the other and {LOGIN_AGAIN}, or a logout on one goes unseen by the other",
    ),
    SharedSetting(
        "SESSION_SERIALIZER",
        lambda: settings.SESSION_SERIALIZER,
        f"sessions written by one cannot be read by the other and {LOGIN_AGAIN}",
    ),
    SharedSetting(
        "SESSION_COOKIE_NAME",
        lambda: settings.SESSION_COOKIE_NAME,
        f"each looks for the session under its own cookie name, so {LOGIN_AGAIN} on the other",
    ),
    SharedSetting(
        "SESSION_COOKIE_PATH",
        lambda: settings.SESSION_COOKIE_PATH,
        f"the browser sends the session cookie only below its path, so {LOGIN_AGAIN} on the other",
    ),
    SharedSetting(
        "SESSION_COOKIE_DOMAIN",
        lambda: settings.SESSION_COOKIE_DOMAIN,
        f"the browser keeps one session cookie per domain, so {LOGIN_AGAIN} on the other",
    ),
    SharedSetting(
        "AUTH_USER_MODEL",
        user_model,
        "a session stores the user's primary key as text and each service reads it back with its own user "
        "model, so users are anonymous on the other or every request there fails with HTTP 500",
    ),
    SharedSetting(
        "AUTHENTICATION_BACKENDS",
        lambda: list(settings.AUTHENTICATION_BACKENDS),
        "a session stores the backend that logged the user in, and a backend the other does not list "
        "makes the user anonymous there",
    ),
    SharedSetting(
        "PASSWORD_HASHERS",
        password_hashers,
        "each rehashes passwords to its own default at login, which changes the session auth hash and "
        "logs the user out of the other, back and forth",
    ),
    SharedSetting(
        "SSO_SHARED_APP_LABELS",
        lambda: sorted(shared_app_labels()),
        "an app shared by one keeps its tables in the other's own database, so rows written on one (API "
        "tokens, say) are missing on the other, and its foreign keys to the user cannot be created there",
        fix="List the same labels in both: SSO_SHARED_APP_LABELS belongs in sso_shared/settings.py only.",
    ),
    SharedSetting(
        "SSO_SECOND_FACTOR",
        second_factor,
        "a user who must have a second factor and has none is sent to set one up on one and not on the other, "
        "which lets them (or a stolen password) past the requirement there",
        fix="Set the same SSO_SECOND_FACTOR in both (it belongs in .env), and keep "
        f"{SECOND_FACTOR_MIDDLEWARE} in both services' MIDDLEWARE.",
        missing_matters=lambda value: value.get("required_for") not in (None, "optional"),
    ),
    SharedSetting(
        "Django version",
        feature_release_of_django,
        "both write one django_migrations table, and a newer feature release of Django migrates the shared "
        "tables to a schema the older one does not know (patch releases never do, so they may differ)",
        fix="Install the same Django feature release in both (requirements.txt pins it).",
    ),
    SharedSetting(
        "sso_shared version",
        feature_release_of_sso_shared,
        "the shared package defines the user model, the session store and the shared tables, and two feature "
        "releases of it may read them differently",
        fix="Install the same sso-shared release in both.",
    ),
    SharedSetting(
        SHARED_MIGRATIONS,
        shared_migrations,
        "the shared tables are migrated for the newer one, under code of the older one that does not know them",
        fix="Upgrade the older one to the same release (or stop it).",
    ),
)


def current_fingerprint() -> dict:
    return {setting.name: setting.read() for setting in SHARED_SETTINGS}


def own_app_labels() -> list[str]:
    """Labels of this service's own apps with models: their content types live in the shared table."""
    return sorted(
        config.label
        for config in apps.get_app_configs()
        if not is_shared_label(config.label) and any(config.get_models())
    )
