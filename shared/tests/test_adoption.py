"""Adoption of a legacy project (sso_shared.adoption): planning, sessions and the legacy-cookie middleware.

The legacy database here is a small SQLite file with the columns Django's auth
tables have; e2e/test_adoption.py adopts real Django projects into a running stack.
"""

import sqlite3
from datetime import timedelta

import pytest
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.management import CommandError
from django.test import Client
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sso_shared.access.service_access import access_group
from sso_shared.adoption import adoption, carried_sessions, plan
from sso_shared.adoption.inputs import Inputs
from sso_shared.adoption.models import AdoptedUser
from sso_shared.models import AuditEvent, Session

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
LEGACY_KEY = "legacy-" + "k" * 50
OLD_PASSWORD = "old-password-1"  # noqa: S105 (a test user's)
SCHEMA = """
CREATE TABLE django_content_type (id integer primary key, app_label text, model text);
CREATE TABLE auth_permission (id integer primary key, content_type_id integer, codename text, name text);
CREATE TABLE auth_group (id integer primary key, name text);
CREATE TABLE auth_group_permissions (id integer primary key, group_id integer, permission_id integer);
CREATE TABLE auth_user (id integer primary key, username text, email text, first_name text, last_name text,
  password text, is_active bool, is_staff bool, is_superuser bool, date_joined datetime, last_login datetime);
CREATE TABLE auth_user_groups (id integer primary key, user_id integer, group_id integer);
CREATE TABLE auth_user_user_permissions (id integer primary key, user_id integer, permission_id integer);
CREATE TABLE django_session (session_key text primary key, session_data text, expire_date datetime);
"""


class Legacy:
    def __init__(self):
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(SCHEMA)
        self.passwords = {}

    def user(self, pk: int, username: str, email: str = "", password: str = OLD_PASSWORD) -> None:
        hashed = make_password(password)
        self.passwords[pk] = hashed
        self.db.execute(
            "INSERT INTO auth_user VALUES (?, ?, ?, '', '', ?, 1, 0, 0, '2020-01-01 00:00:00', NULL)",
            (pk, username, email, hashed),
        )

    def session(self, key: str, data: dict, *, signing_key: str = LEGACY_KEY, expires_in=timedelta(days=1)):
        encoded = signing.dumps(data, key=signing_key, salt=carried_sessions.LEGACY_SESSION_SALT, compress=True)
        expiry = (timezone.now() + expires_in).strftime("%Y-%m-%d %H:%M:%S")
        self.db.execute("INSERT INTO django_session VALUES (?, ?, ?)", (key, encoded, expiry))

    def logged_in(self, key: str, pk: int, **options) -> None:
        auth_hash = salted_hmac(
            carried_sessions.AUTH_HASH_SALT, self.passwords[pk], secret=LEGACY_KEY, algorithm="sha256"
        ).hexdigest()
        self.session(key, {SESSION_KEY: str(pk), HASH_SESSION_KEY: auth_hash}, **options)

    def inputs(self, map_text: str | None = None) -> Inputs:
        return Inputs(
            label="legacy.sqlite3", secret_keys=[LEGACY_KEY], sqlite_bytes=self.db.serialize(), map_text=map_text
        )


def survey(legacy: Legacy, map_text=None):
    return adoption.survey(legacy.inputs(map_text), service="a", source="old", cookie="sessionid")


@pytest.fixture
def legacy():
    made = Legacy()
    made.user(7, "ann", "ann@example.com")
    made.user(8, "7", "seven@example.com")  # named after ann's old pk
    made.logged_in("ann-cookie-value-000000000000000", 7)
    made.logged_in("seven-cookie-value-0000000000000", 8)
    return made


def test_a_wrong_secret_key_stops_before_anything_is_written(legacy):
    legacy.session("other-key-session-000000000000000", {SESSION_KEY: "7"}, signing_key="another-" + "x" * 50)
    with pytest.raises(carried_sessions.WrongSecretKey, match="1 of 3 unexpired sessions"):
        survey(legacy)
    assert not User.objects.filter(username="ann").exists()


def test_expired_anonymous_and_logged_out_sessions_are_not_carried(legacy):
    legacy.session("anonymous-session-00000000000000", {"cart": [1]})
    legacy.session("expired-session-0000000000000000", {SESSION_KEY: "7"}, expires_in=timedelta(days=-1))
    legacy.session("stale-session-000000000000000000", {SESSION_KEY: "7", HASH_SESSION_KEY: "changed-password"})
    found = survey(legacy)
    assert (found.sessions.anonymous, found.sessions.expired, found.sessions.stale) == (1, 1, 1)
    assert sorted(session.legacy_key[:3] for session, _ in found.sessions_to_carry) == ["ann", "sev"]


def test_clashes_are_listed_by_name_and_the_map_resolves_them(legacy):
    User.objects.create_user("ann", "ann@elsewhere.example")
    User.objects.create_user("sam", "SEVEN@example.com")
    clashes = survey(legacy).users.clashes
    assert clashes == [
        "user 'ann': the username exists here with email ann@elsewhere.example, the source has email ann@example.com",
        "user '7': email seven@example.com is already used here by 'sam'",
    ]
    resolved = survey(legacy, map_text="ann,ann-old\n7,skip\n")
    assert resolved.users.clashes == []
    assert [(user.action, user.target_username) for user in resolved.users.users] == [
        (plan.NEW, "ann-old"),
        (plan.SKIPPED, ""),
    ]
    with pytest.raises(CommandError, match="the source has no user 'nobody'"):
        survey(legacy, map_text="nobody,skip\n")


def test_adopted_users_get_their_service_keep_their_password_and_a_rerun_changes_nothing(legacy):
    adoption.apply(survey(legacy))
    ann = User.objects.get(username="ann")
    assert ann.check_password(OLD_PASSWORD)
    assert list(ann.groups.all()) == [access_group("a")]
    assert AdoptedUser.objects.get(source="old", old_pk="7").user == ann
    again = survey(legacy)
    assert not again.changes_anything()
    assert [user.action for user in again.users.users] == [plan.ALREADY, plan.ALREADY]


def test_the_legacy_cookie_logs_in_once_with_a_new_key_and_is_deleted(legacy):
    adoption.apply(survey(legacy))
    browser = Client()
    browser.cookies["sessionid"] = "ann-cookie-value-000000000000000"
    response = browser.get("/whoami")
    assert response.json()["username"] == "ann"
    assert response.cookies["sessionid"]["max-age"] == 0
    new_key = response.cookies["sso_sessionid"].value
    assert new_key != carried_sessions.cookie_digest("sessionid", "ann-cookie-value-000000000000000")
    assert Session.objects.get(pk=new_key).user_id == str(User.objects.get(username="ann").pk)
    assert AuditEvent.objects.filter(kind="login", username="ann").count() == 1
    # The carried record is gone: the same legacy cookie in another browser finds nobody.
    copy = Client()
    copy.cookies["sessionid"] = "ann-cookie-value-000000000000000"
    assert copy.get("/whoami").json()["authenticated"] is False


def test_a_legacy_cookie_never_gets_past_a_second_factor(legacy):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    adoption.apply(survey(legacy))
    TOTPDevice.objects.create(user=User.objects.get(username="ann"), name="Authenticator app", confirmed=True)
    browser = Client()
    browser.cookies["sessionid"] = "ann-cookie-value-000000000000000"
    assert browser.get("/whoami").json()["authenticated"] is False
    assert not AuditEvent.objects.filter(kind="login", username="ann").exists()


def test_the_user_named_after_an_old_pk_gets_his_own_session_only(legacy):
    adoption.apply(survey(legacy))
    browser = Client()
    browser.cookies["sessionid"] = "seven-cookie-value-0000000000000"
    assert browser.get("/whoami").json()["username"] == "7"


@pytest.fixture
def legacy_on_postgres(legacy):
    """The same legacy tables in a PostgreSQL database of their own, reached by a postgres:// URL."""
    import psycopg2
    from django.db import connections

    settings = connections["default"].settings_dict
    name = "legacy_adoption_test"
    server = psycopg2.connect(
        dbname="postgres",
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{name}"
    copy = psycopg2.connect(url, password=settings["PASSWORD"])
    with copy, copy.cursor() as cursor:
        cursor.execute(SCHEMA.replace("datetime", "timestamptz"))
        for (table,) in legacy.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in legacy.db.execute(f"SELECT * FROM {table}"):  # noqa: S608 (the test's own tables)
                if table == "auth_user":  # SQLite's 0/1 flags are booleans in PostgreSQL
                    row = (*row[:6], *(bool(flag) for flag in row[6:9]), *row[9:])  # noqa: PLW2901
                cursor.execute(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(row))})", row)  # noqa: S608
    copy.close()
    yield Inputs(label=url, secret_keys=[LEGACY_KEY], url=url, password=settings["PASSWORD"])
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")
    server.close()


def test_a_postgresql_source_reads_like_sqlite(legacy_on_postgres):
    found = adoption.survey(legacy_on_postgres, service="a", source="old", cookie="sessionid")
    assert [user.target_username for user in found.users.of(plan.NEW)] == ["ann", "7"]
    assert len(found.sessions_to_carry) == 2


def test_a_database_without_djangos_auth_tables_is_refused():
    empty = sqlite3.connect(":memory:")
    empty.execute("CREATE TABLE notes (id integer)")
    inputs = Inputs(label="notes.sqlite3", secret_keys=[LEGACY_KEY], sqlite_bytes=empty.serialize())
    with pytest.raises(CommandError, match="notes.sqlite3 is not the database of a Django project"):
        adoption.survey(inputs, service="a", source="old", cookie="sessionid")


def test_a_carried_session_survives_a_secret_key_rotation(legacy, settings):
    adoption.apply(survey(legacy))
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "r" * 50
    browser = Client()
    browser.cookies["sessionid"] = "ann-cookie-value-000000000000000"
    assert browser.get("/whoami").json()["username"] == "ann"
