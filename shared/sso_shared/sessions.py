"""The session engine both services use: Django's database sessions, findable by user.

``SESSION_ENGINE = "sso_shared.sessions"``. Sessions live in ``sso_session``
(``sso_shared.models.Session``), whose ``user_id`` column names the logged-in
user, so one user's sessions are an index lookup instead of decoding every
session in the table.
https://docs.djangoproject.com/en/5.2/topics/http/sessions/#extending-database-backed-session-engines
"""

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from .routers import SHARED_DB


class SessionStore(db.SessionStore):
    """Django's database store writing to ``sso_session`` and filling ``user_id`` on every save.

    Keep the name: Django signs session data with the salt
    "django.contrib.sessions." + the class name, so under this name the
    services read sessions signed by Django's own ``db.SessionStore`` and the
    reverse (fingerprint.py compares it between services).
    """

    @classmethod
    def get_model_class(cls):
        # Imported here, like Django's own store does, so the engine module
        # imports before the app registry is ready.
        from .models import Session

        return Session

    # Set by sso_shared.access.ServiceAccessMiddleware before the session is read, on pages behind the
    # access gate: the query that reads the session row then also answers "may this session's user use
    # this service?" (sso_shared.access.service_access_sql). The answer: (user id of the row,
    # True or False), or None when not asked.
    service_access_wanted = False
    service_access = None

    def _get_session_from_db(self):
        """Django's lookup of the live session row, with this service's access decision beside it when wanted."""
        self.service_access = None
        if not self.service_access_wanted:
            return super()._get_session_from_db()
        from .access import service_access_sql

        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        access = service_access_sql(settings.SSO_SERVICE_NAME, connection, f"{table}.user_id")
        if access is None:
            return super()._get_session_from_db()
        access_column, access_params = access
        with connection.cursor() as cursor:
            cursor.execute(  # the table's name from its model, quoted; values as parameters
                f"SELECT session_key, session_data, expire_date, user_id, {access_column} FROM {table}"  # noqa: S608
                " WHERE session_key = %s AND expire_date > %s",
                [*access_params, self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        session_key, session_data, expire_date, user_id, allowed = row
        self.service_access = (user_id, allowed)
        return self.model(session_key=session_key, session_data=session_data, expire_date=expire_date, user_id=user_id)

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = data.get(SESSION_KEY)
        return session


def session_model():
    return SessionStore.get_model_class()


def sessions_of(user):
    """The user's live sessions, the one expiring last first."""
    return (
        session_model()
        .objects.using(SHARED_DB)
        .filter(user_id=str(user.pk), expire_date__gt=timezone.now())
        .order_by("-expire_date")
    )


def end_sessions_of(users) -> int:
    """Log these users out everywhere: delete their sessions, live or expired; returns how many.

    Each user's ending is recorded in the audit trail (``session_revoked``).
    """
    from .audit import record_sessions_revoked

    users = list(users)
    user_ids = [str(user.pk) for user in users]
    deleted, _ = session_model().objects.using(SHARED_DB).filter(user_id__in=user_ids).delete()
    record_sessions_revoked(users)
    return deleted
