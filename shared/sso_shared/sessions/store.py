"""The session engine both services use: Django's database sessions, findable by user.

``SESSION_ENGINE = "sso_shared.sessions.store"``. Sessions live in ``sso_session``
(``sso_shared.models.Session``), whose ``user_id`` column names the logged-in
user, so one user's sessions are an index lookup instead of decoding every
session in the table. Its other columns say where a logged-in session started
(service, address, browser, time) and when it was last seen, for the "Your
sessions" page (sso_shared.sessions.your_sessions); last seen is written at most once a
minute per session, never on every request (docs/sessions.md).
https://docs.djangoproject.com/en/5.2/topics/http/sessions/#extending-database-backed-session-engines
"""

import functools
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations.audit import USER_AGENT_LENGTH, client_address, record_sessions_revoked
from sso_shared.sessions import user_row as session_user
from sso_shared.sessions.prepared_statements import execute_prepared

# Last seen is written at most once a minute per session: a page view within a minute of the
# last write reads the session and writes nothing (docs/sessions.md, "Last seen").
LAST_SEEN_INTERVAL = timedelta(seconds=60)
# The columns that describe a logged-in session (sso_shared.models.Session), and their values
# for an anonymous one.
UNKNOWN_ORIGIN = {"service": "", "address": None, "user_agent": "", "started_at": None, "last_seen": None}
# What django.contrib.auth.login() puts in a session.
AUTH_KEYS = (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY)
logger = logging.getLogger(__name__)
# The canonical text form of a UUID, as sessions store the user's id: anything else is no user.
UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# The prepared statement that reads a session row with its user and the access decision
# (sso_shared.sessions.prepared_statements).
SESSION_ROW_STATEMENT = "sso_session_row"


def is_user_primary_key(value) -> bool:
    try:
        get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return False
    return True


@functools.cache
def user_row_layout() -> tuple[list[str], int]:
    """The user model's concrete fields' attribute names, as session_row_sql selects them, and where its key is."""
    user_model = get_user_model()
    fields = user_model._meta.concrete_fields
    return [field.attname for field in fields], fields.index(user_model._meta.pk)


@functools.cache
def session_row_sql(model, alias: str, access_column: str) -> str:
    """The text of the session-row statement (SessionStore._session_row): made once per process for each
    database alias and access column, not on every request."""
    quote = connections[alias].ops.quote_name
    table = quote(model._meta.db_table)
    origin_columns = ", ".join(f"{table}.{quote(model._meta.get_field(name).column)}" for name in UNKNOWN_ORIGIN)
    user_model = get_user_model()
    user_columns = ", ".join(f"member.{quote(field.column)}" for field in user_model._meta.concrete_fields)
    # Names from the models, quoted; values as parameters. Planned once per connection, not per request.
    # The row's user id turns into a UUID only when it is one, so an odd user_id never breaks the read.
    return (
        f"SELECT {table}.session_key, {table}.session_data, {table}.expire_date, {table}.user_id,"  # noqa: S608
        f" {origin_columns}, {access_column}, {user_columns}"
        f" FROM {table} LEFT JOIN {quote(user_model._meta.db_table)} member"
        f" ON member.{quote(user_model._meta.pk.column)}"
        f" = CASE WHEN {table}.user_id ~ %s THEN {table}.user_id::uuid END"
        f" WHERE {table}.session_key = %s AND {table}.expire_date > %s"
    )


class SessionStore(db.SessionStore):
    """Django's database store writing to ``sso_session`` and filling ``user_id`` on every save.

    Keep the name: Django signs session data with the salt
    "django.contrib.sessions." + the class name, so under this name the
    services read sessions signed by Django's own ``db.SessionStore`` and the
    reverse (fingerprint.py compares it between services).
    """

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # Where the session started and when it was last seen, as loaded from its row or as set
        # at login: every save writes them back, since Django's save writes every column.
        self.origin = dict(UNKNOWN_ORIGIN)

    @classmethod
    def get_model_class(cls):
        # From the app registry when first needed, so the engine module imports before the registry
        # is ready (as Django's own store does) and the models module may import this package.
        return apps.get_model("sso_shared", "Session")

    # Set by the access gate (sso_shared.access.service_access.ServiceAccessMiddleware) before the
    # session is read, on pages behind it: a function of the connection and the session row's user id
    # column that gives the SQL of "may this session's user use this service?" and its parameters
    # (sso_shared.access.service_access.service_access_sql), or None. The query that reads the
    # session row then answers it too. The answer: (user id of the row, True or False), or None when
    # not asked.
    service_access_query = None
    service_access = None

    def load(self):
        """The session's data; logged out, with a log line, when it names a user id of the wrong type.

        Django converts ``_auth_user_id`` with the user model's primary key field and does not catch
        the error: a session written by a project with another user model (an integer id where ours
        is a UUID: docs/pitfalls, "User primary key type") would be a 500 on every request and on
        the login itself. Such a session is treated as logged out here instead; the row is left as
        it is (a login replaces it).
        """
        data = super().load()
        user_id = data.get(SESSION_KEY)
        if user_id is not None and not is_user_primary_key(user_id):
            logger.error(
                "a session names the user id %r, which is not a %s primary key: it was written by a project "
                "with another user model (docs/troubleshooting.md). Treated as logged out.",
                str(user_id)[:40],
                settings.AUTH_USER_MODEL,
            )
            data = {key: value for key, value in data.items() if key not in AUTH_KEYS}
        return data

    # Django's async twins (aload, asave, acreate_model_instance, ...) query on their own and skip what the
    # sync ones above and below add: the user-id guard, the user_id and origin columns, last seen, the
    # access decision. They run the sync ones instead, in Django's thread for synchronous code (the one
    # holding the request's connection), so both paths read and write the same rows the same way.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def _aget_session_from_db(self):
        return await sync_to_async(self._get_session_from_db)()

    async def acreate_model_instance(self, data):
        return await sync_to_async(self.create_model_instance)(data)

    def _get_session_from_db(self):
        row = self._session_row()
        self.origin = {name: getattr(row, name) for name in UNKNOWN_ORIGIN} if row else dict(UNKNOWN_ORIGIN)
        if row is not None and row.user_id is not None:
            self.note_seen()
        return row

    def _session_row(self):
        """The live session row, with the user it names (sso_shared.sessions.user_row) and, when wanted, this service's
        access decision beside it: one prepared statement, one round trip."""
        self.service_access = None
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        query = self.service_access_query
        access = query(connection, f"{table}.user_id") if query is not None else None
        wanted = access is not None
        access_column, access_params = access if wanted else ("NULL", [])
        sql = session_row_sql(self.model, connection.alias, access_column)
        with connection.cursor() as cursor:
            execute_prepared(
                connection,
                cursor,
                SESSION_ROW_STATEMENT,
                sql,
                [*access_params, UUID_TEXT, self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        session_key, session_data, expire_date, user_id, *rest = row
        origin, allowed, user_values = (
            rest[: len(UNKNOWN_ORIGIN)],
            rest[len(UNKNOWN_ORIGIN)],
            rest[len(UNKNOWN_ORIGIN) + 1 :],
        )
        if wanted:
            self.service_access = (user_id, allowed)
        user_attnames, pk_index = user_row_layout()
        if user_values[pk_index] is not None:
            session_user.keep(get_user_model().from_db(connection.alias, user_attnames, user_values))
        return self.model(
            session_key=session_key,
            session_data=session_data,
            expire_date=expire_date,
            user_id=user_id,
            **dict(zip(UNKNOWN_ORIGIN, origin, strict=True)),
        )

    def note_seen(self) -> None:
        """Set last seen to now, unless it was set less than LAST_SEEN_INTERVAL ago.

        One UPDATE of that column alone, never of the session data, so a request that
        reads the session cannot overwrite what a parallel one wrote. Its condition
        lets only one of several parallel requests change the row.
        """
        now = timezone.now()
        last_seen = self.origin["last_seen"]
        if last_seen is not None and now - last_seen < LAST_SEEN_INTERVAL:
            return
        stale = Q(last_seen__isnull=True) | Q(last_seen__lt=now - LAST_SEEN_INTERVAL)
        self.model.objects.using(SHARED_DB).filter(Q(pk=self.session_key) & stale).update(last_seen=now)
        self.origin["last_seen"] = now

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = data.get(SESSION_KEY)
        origin = dict(UNKNOWN_ORIGIN)
        if session.user_id is not None:
            # Saving writes the whole row anyway: last seen comes along at no cost.
            origin |= self.origin | {"last_seen": timezone.now()}
        for name, value in origin.items():
            setattr(session, name, value)
        return session

    def note_login(self, request) -> None:
        """Where, from where and with which browser this session starts: the login's request."""
        now = timezone.now()
        self.origin = {
            "service": service_logged_in_for(request),
            "address": client_address(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
            "started_at": now,
            "last_seen": now,
        }
        self.modified = True


def service_logged_in_for(request) -> str:
    """The service the login leads to (its ``next`` page), else the one serving the login page."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    for name, details in settings.SSO_SERVICES.items():
        if next_url == details["prefix"] or next_url.startswith(details["prefix"] + "/"):
            return name
    return settings.SSO_SERVICE_NAME


@receiver(user_logged_in, dispatch_uid="sso_shared.sessions.store.note_login")
def note_login(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if isinstance(session, SessionStore):
        session.note_login(request)


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


def logged_in_sessions_of(user) -> list:
    """The user's live sessions that still log them in, the one expiring last first.

    A password change leaves the user's other sessions in the table, but signed for
    the old password: Django logs them out (and deletes them) at their next request.
    Like Django, a session counts when its hash verifies with SECRET_KEY or a fallback.
    """
    store = SessionStore()
    hashes = {user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()}
    return [
        session for session in sessions_of(user) if store.decode(session.session_data).get(HASH_SESSION_KEY) in hashes
    ]


def end_sessions_of(users, request=None) -> int:
    """Log these users out everywhere: delete their sessions, live or expired; returns how many.

    Each user's ending is recorded in the audit trail (``session_revoked``), with the
    address and browser of ``request`` when one did it (an admin's, say). The session of
    ``request`` itself is kept: an admin logging themselves out everywhere else stays
    on the page (deleting it under a request that saves it would end in an HTTP 400).
    """
    users = list(users)
    user_ids = [str(user.pk) for user in users]
    sessions = session_model().objects.using(SHARED_DB).filter(user_id__in=user_ids)
    if request is not None and request.session.session_key:
        sessions = sessions.exclude(pk=request.session.session_key)
    deleted, _ = sessions.delete()
    record_sessions_revoked(users, request)
    return deleted
