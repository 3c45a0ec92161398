"""The user a session names, read in the same query as the session row: one round trip for both.

The session store (``sso_shared.sessions``) reads the live session row joined with the user it names, and keeps
that user here for the rest of the request. Django then loads the request's user as always
(``django.contrib.auth.get_user``: the session's user id, its backend, ``ModelBackend.get_user``, the session's
hash checked against the user's password): ModelBackend asks the user model's manager for the user by primary
key, and the manager (``sso_shared.models.SharedUserManager``) answers with the row read beside the session
instead of querying again. Nothing else changes: the row is as fresh as a second query would have read it (the
same request, a moment earlier), an inactive user or a changed password logs the session out as before.

The row is handed over once, only for its own primary key, and forgotten when a request starts and when it
ends: it never outlives its request, and no other lookup ever sees it.
"""

from contextvars import ContextVar

from django.core.signals import request_finished, request_started
from django.dispatch import receiver

_read_with_session: ContextVar = ContextVar("sso_user_read_with_session", default=None)


def keep(user) -> None:
    """The user the session row named, read with it."""
    _read_with_session.set(user)


def take(pk):
    """The user read with the session, if it is the one with this primary key; handed over once."""
    user = _read_with_session.get()
    if user is None or str(user.pk) != str(pk):
        return None
    _read_with_session.set(None)
    return user


@receiver(request_started, dispatch_uid="sso_shared.session_user.forget_at_start")
@receiver(request_finished, dispatch_uid="sso_shared.session_user.forget_at_end")
def forget(**kwargs) -> None:
    _read_with_session.set(None)
