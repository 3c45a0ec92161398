"""Log in, once, a browser that still holds an adopted project's session cookie.

Between SessionMiddleware and AuthenticationMiddleware. Only a request with a
legacy cookie (``SSO_LEGACY_SESSION_COOKIES``) and no ``sso_sessionid`` costs a
query: the carried session is looked up by the cookie's digest and deleted
(``carried_sessions.claim``); its data goes into the new, empty session, which
SessionMiddleware saves under a NEW key (no fixation) and sends as
``sso_sessionid``. The legacy cookie is deleted on the path it was set for.
A cookie that finds nothing is left alone: the request is simply anonymous; so is one whose
user has a second factor by now (it is spent all the same: they log in with both steps).
The login is recorded in the audit trail (kind ``login``).
"""

from django.conf import settings

from sso_shared.adoption.carried_sessions import claim
from sso_shared.operations.audit import LOGIN, record

DEFAULT_PATH = "/"


def legacy_cookies() -> list[tuple[str, str]]:
    """(name, path) of each SSO_LEGACY_SESSION_COOKIES entry, written NAME or NAME:PATH."""
    entries = []
    for entry in settings.SSO_LEGACY_SESSION_COOKIES:
        name, _, path = entry.partition(":")
        if name.strip():
            entries.append((name.strip(), path.strip() or DEFAULT_PATH))
    return entries


def second_factor_owed(data: dict) -> bool:
    """A carried-over session of a user who has a second factor now logs nobody in: they log in with it."""
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.core.exceptions import ValidationError

    from sso_shared.database.routers import SHARED_DB
    from sso_shared.second_factor.rules import has_second_factor

    try:
        user = get_user_model()._default_manager.db_manager(SHARED_DB).filter(pk=data.get(SESSION_KEY)).first()
    except ValidationError:
        return False  # no user id of ours: the session store treats it as logged out anyway
    return user is not None and has_second_factor(user)


class LegacySessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        claimed = None
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            claimed = self.claim(request)
        response = self.get_response(request)
        if claimed:
            name, path = claimed
            response.delete_cookie(name, path=path, samesite=settings.SESSION_COOKIE_SAMESITE)
            # A login on this deployment, without a password: the audit trail says so like any other.
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                record(LOGIN, request, user=user)
        return response

    @staticmethod
    def claim(request) -> tuple[str, str] | None:
        for name, path in legacy_cookies():
            value = request.COOKIES.get(name)
            if not value:
                continue
            data = claim(name, value)
            if data and not second_factor_owed(data):
                # The session SessionMiddleware gave this request is new and empty: filled, it is saved
                # under a key of its own and with this deployment's expiry.
                request.session.update(data)
                return name, path
        return None
