"""The "Your sessions" page: the signed-in user's live sessions on every service, and ending them.

Served by A at ``/a/accounts/sessions/`` (``SSO_SESSIONS_URL``, linked from every
service's header). Sessions are named on the page by a keyed digest of their
key, never by the key itself (the key is the login). Ending a session deletes
its row in the shared table, so its browser is logged out of every service at
its next request. Only the user's own sessions are ever looked at: an id that is
not one of them ends nothing. docs/sessions.md.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils.crypto import salted_hmac
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations.audit import SESSION_REVOKED, record
from sso_shared.sessions.browsers import browser_name
from sso_shared.sessions.store import logged_in_sessions_of, session_model

PAGE = "sessions"  # the URL name of the page
PUBLIC_ID_SALT = "sso_shared.sessions.your_sessions.public_id"


def public_id(session_key: str) -> str:
    """How the page names a session: a digest of its key keyed with SECRET_KEY, useless as a login."""
    return salted_hmac(PUBLIC_ID_SALT, session_key, algorithm="sha256").hexdigest()[:32]


@dataclass(frozen=True)
class ListedSession:
    id: str
    service: str
    address: str | None
    browser: str
    started_at: datetime | None
    last_seen: datetime | None
    current: bool


def listed(session, current_key: str | None) -> ListedSession:
    service = settings.SSO_SERVICES.get(session.service)
    return ListedSession(
        id=public_id(session.session_key),
        service=service["title"] if service else "",
        address=session.address,
        browser=browser_name(session.user_agent),
        started_at=session.started_at,
        last_seen=session.last_seen,
        current=session.session_key == current_key,
    )


def listed_sessions(request) -> list[ListedSession]:
    """The user's live sessions: this one first, then the most recently seen."""
    sessions = [listed(session, request.session.session_key) for session in logged_in_sessions_of(request.user)]
    return sorted(sessions, key=lambda s: (not s.current, -s.last_seen.timestamp() if s.last_seen else float("inf")))


def end_session(request, session_id: str) -> bool:
    """End one of the user's other sessions, named by its public id; False if there is no such session."""
    wanted = session_id.encode()
    for session in other_sessions(request):
        if hmac.compare_digest(public_id(session.session_key).encode(), wanted):
            return end(request, [session.session_key]) == 1
    return False


def end_other_sessions(request) -> int:
    """Log out everywhere else: end every session of the user but this one; returns how many."""
    return end(request, [session.session_key for session in other_sessions(request)])


def other_sessions(request) -> list:
    """The user's sessions that log them in, this one aside."""
    current = request.session.session_key
    return [session for session in logged_in_sessions_of(request.user) if session.session_key != current]


def end(request, session_keys: list[str]) -> int:
    """Delete these sessions of the user (never another user's); one ``session_revoked`` event each."""
    ended, _ = (
        session_model().objects.using(SHARED_DB).filter(pk__in=session_keys, user_id=str(request.user.pk)).delete()
    )
    for _ in range(ended):
        record(SESSION_REVOKED, request, user=request.user)
    return ended


@method_decorator(never_cache, name="dispatch")
class SessionsView(LoginRequiredMixin, View):
    """GET lists the sessions; POST ends one (``end=<id>``) or all others (``end_others``)."""

    def get(self, request):
        return render(request, "sso_shared/sessions.html", {"sessions": listed_sessions(request)})

    def post(self, request):
        if "end_others" in request.POST:
            ended = end_other_sessions(request)
            noun = "session" if ended == 1 else "sessions"
            messages.success(request, f"Logged out everywhere else: {ended} other {noun} ended.")
        elif end_session(request, request.POST.get("end", "")):
            messages.success(request, "Session ended: that browser is logged out of every service.")
        else:
            messages.error(request, "No such session of yours: it may have ended already.")
        return redirect(PAGE)
