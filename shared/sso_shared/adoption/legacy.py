"""Reading a legacy Django project's auth and session tables, SQLite or PostgreSQL, read-only.

Only Django's own tables of the default user model are read: ``auth_user``,
``auth_group``, ``auth_permission``, ``django_content_type``, the three link
tables and ``django_session``. A database without them is not a Django project
with ``auth.User`` and is refused with a message saying so.
"""

import datetime
import sqlite3
from dataclasses import dataclass, field

from django.core.management import CommandError
from django.utils.dateparse import parse_datetime

REQUIRED_TABLES = (
    "auth_user",
    "auth_group",
    "auth_permission",
    "django_content_type",
    "auth_user_groups",
    "auth_group_permissions",
    "auth_user_user_permissions",
)
SESSION_TABLE = "django_session"
USER_QUERY = (
    "SELECT id, username, email, first_name, last_name, password, is_active, is_staff, is_superuser, "
    "date_joined, last_login FROM auth_user ORDER BY id"
)


@dataclass
class LegacyUser:
    pk: str
    username: str
    email: str
    first_name: str
    last_name: str
    password: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    date_joined: datetime.datetime
    last_login: datetime.datetime | None
    groups: list[str] = field(default_factory=list)  # group names
    permissions: list[tuple[str, str]] = field(default_factory=list)  # (app_label, codename)


@dataclass
class LegacySession:
    key: str
    data: str
    expire_date: datetime.datetime


@dataclass
class LegacyData:
    users: list[LegacyUser]
    groups: dict[str, list[tuple[str, str]]]  # name → permissions (app_label, codename)
    sessions: list[LegacySession]  # all of them, expired or not
    has_session_table: bool


def aware(value) -> datetime.datetime | None:
    """SQLite gives text, naive and in UTC (Django's USE_TZ=True); PostgreSQL gives aware datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


class Source:
    """A DB-API connection to the legacy database with the few questions asked of it."""

    def __init__(self, connection, kind: str, label: str):
        self.connection = connection
        self.kind = kind
        self.label = label

    def rows(self, sql: str) -> list[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def tables(self) -> set[str]:
        if self.kind == "sqlite":
            return {row[0] for row in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            row[0]
            for row in self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false))"
            )
        }

    def close(self):
        self.connection.close()


def open_source(inputs) -> Source:
    if inputs.url:
        import psycopg2

        try:
            connection = psycopg2.connect(inputs.url, **({"password": inputs.password} if inputs.password else {}))
        except psycopg2.Error as error:
            raise CommandError(f"cannot connect to {inputs.label}: {str(error).strip()}") from None
        connection.set_session(readonly=True)
        return Source(connection, "postgres", inputs.label)
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(inputs.sqlite_bytes)
        connection.execute("SELECT count(*) FROM sqlite_master")
    except sqlite3.DatabaseError:
        connection.close()
        raise CommandError(
            f"{inputs.label} is not a SQLite database: give the legacy project's SQLite file "
            "(DATABASES['default']['NAME'] in its settings) or a postgres:// URL."
        ) from None
    return Source(connection, "sqlite", inputs.label)


def read(source: Source) -> LegacyData:
    tables = source.tables()
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise CommandError(
            f"{source.label} is not the database of a Django project using django.contrib.auth's default user "
            f"model: it has no table {', '.join(missing)}. (A custom user model is not supported.)"
        )
    permissions = {
        row[0]: (row[1], row[2])
        for row in source.rows(
            "SELECT p.id, ct.app_label, p.codename FROM auth_permission p "
            "JOIN django_content_type ct ON ct.id = p.content_type_id"
        )
    }
    group_names = {row[0]: row[1] for row in source.rows("SELECT id, name FROM auth_group ORDER BY name")}
    groups = {name: [] for name in group_names.values()}
    for group_id, permission_id in source.rows("SELECT group_id, permission_id FROM auth_group_permissions"):
        groups[group_names[group_id]].append(permissions[permission_id])
    users = [
        LegacyUser(
            pk=str(row[0]),
            username=row[1],
            email=row[2] or "",
            first_name=row[3] or "",
            last_name=row[4] or "",
            password=row[5],
            is_active=bool(row[6]),
            is_staff=bool(row[7]),
            is_superuser=bool(row[8]),
            date_joined=aware(row[9]),
            last_login=aware(row[10]),
        )
        for row in source.rows(USER_QUERY)
    ]
    by_pk = {user.pk: user for user in users}
    for user_id, group_id in source.rows("SELECT user_id, group_id FROM auth_user_groups"):
        by_pk[str(user_id)].groups.append(group_names[group_id])
    for user_id, permission_id in source.rows("SELECT user_id, permission_id FROM auth_user_user_permissions"):
        by_pk[str(user_id)].permissions.append(permissions[permission_id])
    has_sessions = SESSION_TABLE in tables
    sessions = []
    if has_sessions:
        sessions = [
            LegacySession(key=row[0], data=row[1], expire_date=aware(row[2]))
            for row in source.rows("SELECT session_key, session_data, expire_date FROM django_session")
        ]
    return LegacyData(users=users, groups=groups, sessions=sessions, has_session_table=has_sessions)
