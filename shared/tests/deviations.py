"""Settings a service might define on its own: each one breaks the shared login."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.backends import db


class AuditedSessionStore(db.SessionStore):
    """A store subclass under another name: Django salts session signatures with the class name."""


# The engine module's SessionStore is the subclass, as `SESSION_ENGINE = "tests.deviations"` expects.
SessionStore = AuditedSessionStore


class CheaperPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 100_000
