"""The user a session names, read in the same query as the session row: one round trip for both.

The session store (``sso_shared.sessions.store``) reads the live session row joined with the user it names, and keeps
that user here for the rest of the request. Django then loads the request's user as always
(``django.contrib.auth.get_user``: the session's user id, its backend, ``ModelBackend.get_user``, the session's
hash checked against the user's password): ModelBackend asks the user model's manager for the user by primary
key, and the manager (``sso_shared.models.SharedUserManager``) answers with the row read beside the session
instead of querying again. Nothing else changes: the row is as fresh as a second query would have read it (the
same request, a moment earlier), an inactive user or a changed password logs the session out as before.

The row is kept only while a request runs, handed over once, only for its own primary key, and forgotten when
the request ends: it never outlives its request, and no other lookup ever sees it.
"""

from contextvars import ContextVar

from django.core.signals import request_finished, request_started
from django.dispatch import receiver

_read_with_session: ContextVar = ContextVar("sso_user_read_with_session", default=None)
# Between a request's start and its end: only a request's session read keeps its user (a management command
# reading sessions, then changing users, never gets a row it read before).
_in_request: ContextVar = ContextVar("sso_user_in_request", default=False)


def keep(user) -> None:
    """The user the session row named, read with it: kept while a request runs, for that request."""
    if _in_request.get():
        _read_with_session.set(user)


def take(pk):
    """The user read with the session, if it is the one with this primary key; handed over once."""
    user = _read_with_session.get()
    if user is None or str(user.pk) != str(pk):
        return None
    _read_with_session.set(None)
    return user


@receiver(request_started, dispatch_uid="sso_shared.sessions.user_row.forget_at_start")
def request_starts(**kwargs) -> None:
    _read_with_session.set(None)
    _in_request.set(True)


@receiver(request_finished, dispatch_uid="sso_shared.sessions.user_row.forget_at_end")
def request_ends(**kwargs) -> None:
    _read_with_session.set(None)
    _in_request.set(False)
