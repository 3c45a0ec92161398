"""The one place that reads the environment.

Values come from the process environment, then from a ``.env`` file named by
``ENV_FILE``, read with Docker Compose's rules (sso_shared.environment.envfile, the reader ./stack
uses too). Nothing in this repository sets ENV_FILE: ./stack exports the values and
Compose passes them, so the services see them in their environment already.
A secret may also be given as a file with the Docker-secrets convention:
``SECRET_KEY_FILE=/run/secrets/secret_key`` (and ``SECRET_KEY_FALLBACKS_FILE``,
``DB_PASSWORD_FILE``); the file wins over the variable.
"""

import os
from pathlib import Path

from decouple import Config, Csv, RepositoryEmpty, UndefinedValueError
from django.core.checks.security.base import SECRET_KEY_INSECURE_PREFIX, SECRET_KEY_MIN_UNIQUE_CHARACTERS
from django.core.exceptions import ImproperlyConfigured

from sso_shared.environment.envfile import read_env_file

__all__ = ["Csv", "env", "secret"]

# Values a fresh .env.example carries; running with one of them is refused.
PLACEHOLDER_MARK = "change-me"
MIN_SECRET_LENGTH = 50
# Django's own deploy check (security.W009, W025 for fallbacks) judges a key by these too; it only
# warns, and only under `check --deploy`, so a key of one repeated letter would sign every session.
MIN_UNIQUE_CHARACTERS = SECRET_KEY_MIN_UNIQUE_CHARACTERS
INSECURE_PREFIX = SECRET_KEY_INSECURE_PREFIX
HOW_TO_FIX = (
    "Run `./stack env --force` to write fresh random values for the missing or unusable secrets "
    "into .env (it keeps the old file as a backup), or set a good value in the environment of both services."
)
# An old key is one the operator chose to keep: only they can say which to drop.
HOW_TO_FIX_FALLBACK = "Remove that key from SECRET_KEY_FALLBACKS (in .env or the environment of both services)."


class ComposeEnvRepository(RepositoryEmpty):
    """A .env file for decouple, parsed like Compose does (decouple's own RepositoryEnv
    differs on quotes, inline comments and $)."""

    def __init__(self, source):
        self.data = read_env_file(source)

    def __contains__(self, key):
        return key in os.environ or key in self.data

    def __getitem__(self, key):
        return self.data[key]


def _repository():
    env_file = os.environ.get("ENV_FILE", "")
    if env_file and Path(env_file).is_file():
        return ComposeEnvRepository(env_file)
    return RepositoryEmpty()


env = Config(_repository())


def _read_file(variable: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{variable}_FILE={path} cannot be read: {error.strerror}.") from None


def secret(variable: str, *, required: bool = True, min_length: int = MIN_SECRET_LENGTH) -> str:
    """A secret from VARIABLE or VARIABLE_FILE; refuses missing, short and placeholder values."""
    file_path = env(f"{variable}_FILE", default="")
    value = _read_file(variable, file_path) if file_path else env(variable, default="")
    if not value:
        if not required:
            return ""
        raise ImproperlyConfigured(f"{variable} is not set. {HOW_TO_FIX}")
    if PLACEHOLDER_MARK in value:
        raise ImproperlyConfigured(f"{variable} still holds the placeholder from .env.example. {HOW_TO_FIX}")
    if len(value) < min_length:
        raise ImproperlyConfigured(
            f"{variable} is too short ({len(value)} characters, at least {min_length} needed). {HOW_TO_FIX}"
        )
    if weakness := _weakness(value):
        raise ImproperlyConfigured(f"{variable} {weakness}. {HOW_TO_FIX}")
    return value


def _weakness(value: str) -> str:
    """Why Django's security.W009 would call this key weak, or "" (length is checked apart)."""
    if value.startswith(INSECURE_PREFIX):
        return f"starts with {INSECURE_PREFIX!r}, the mark of a key made by startproject for development"
    unique = len(set(value))
    if unique < MIN_UNIQUE_CHARACTERS:
        noun = "character" if unique == 1 else "characters"
        return f"has too little variety ({unique} different {noun}, at least {MIN_UNIQUE_CHARACTERS} needed)"
    return ""


def secret_list(variable: str) -> list[str]:
    """Comma-separated secrets (SECRET_KEY_FALLBACKS), from VARIABLE or VARIABLE_FILE; each one
    checked like ``secret``. Unlike ``secret``, none at all is fine (and an empty file says so)."""
    file_path = env(f"{variable}_FILE", default="")
    raw = _read_file(variable, file_path) if file_path else env(variable, default="")
    values = [item.strip() for item in raw.split(",") if item.strip()]
    for value in values:
        if PLACEHOLDER_MARK in value or len(value) < MIN_SECRET_LENGTH:
            raise ImproperlyConfigured(f"{variable} holds a placeholder or too short key. {HOW_TO_FIX_FALLBACK}")
        # An old key still verifies sessions, so it must be as hard to guess as the current one.
        if weakness := _weakness(value):
            raise ImproperlyConfigured(f"{variable} holds a key that {weakness}. {HOW_TO_FIX_FALLBACK}")
    return values


def required(variable: str, cast=str):
    try:
        return env(variable, cast=cast)
    except UndefinedValueError:
        raise ImproperlyConfigured(f"{variable} is not set. {HOW_TO_FIX}") from None


def positive_int(variable: str, default: int) -> int:
    """A whole number of at least 1 from the environment (unset or empty: the default), or a clear error."""
    raw = env(variable, default="").strip() or str(default)
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ImproperlyConfigured(f"{variable} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


SECOND_FACTOR_REQUIREMENTS = ("optional", "staff", "everyone")


def second_factor_requirement(variable: str, default: str) -> str:
    """Who must have a second factor: one of SECOND_FACTOR_REQUIREMENTS (unset or empty: the default)."""
    raw = env(variable, default="").strip().lower() or default
    if raw not in SECOND_FACTOR_REQUIREMENTS:
        choices = ", ".join(SECOND_FACTOR_REQUIREMENTS)
        raise ImproperlyConfigured(f"{variable} must be one of {choices}, not {raw!r}.")
    return raw


def optional_secret(variable: str) -> str:
    """Someone else's secret (the mail relay's password): from VARIABLE or VARIABLE_FILE, or "".

    No rules of length or variety (the relay chose it), but the placeholder is refused like any secret.
    """
    file_path = env(f"{variable}_FILE", default="")
    value = _read_file(variable, file_path) if file_path else env(variable, default="")
    if PLACEHOLDER_MARK in value:
        raise ImproperlyConfigured(f"{variable} still holds the placeholder from .env.example. Set the real value.")
    return value
