"""Migration sso_shared 0004: sessions of Django's own table carry over to sso_session, users stay logged in."""

import importlib
import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session as OldSession
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.test import Client, override_settings
from django.utils import timezone

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import Session
from sso_shared.sessions.store import SessionStore

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
migration = importlib.import_module("sso_shared.migrations.0004_sessions_by_user")
OLD_ENGINE = "django.contrib.sessions.backends.db"


@pytest.fixture
def erin():
    return User.objects.create_user("erin", password="a-long-password-1")


def run(step) -> None:
    """Run one data step of the migration as ``migrate`` would: historical models, the shared database."""
    connection = connections[SHARED_DB]
    state = MigrationLoader(connection).project_state(("sso_shared", "0004_sessions_by_user"))
    with connection.schema_editor() as schema_editor:
        step(state.apps, schema_editor)


def old_session(data: dict, *, expires_in=timedelta(hours=1)) -> str:
    """A row of django_session written by Django's own engine, as before this change."""
    store = db.SessionStore()
    store.update(data)
    store.set_expiry(expires_in)
    store.create()
    return store.session_key


def logged_in_with_the_old_engine(user) -> str:
    return old_session(
        {
            SESSION_KEY: str(user.pk),
            # The backend that logs users in (the lockout's, first in the list, only refuses).
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
    )


def whoami(session_key: str) -> dict:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client.get("/whoami").json()


def test_an_old_cookie_logs_the_user_in_after_the_migration(erin):
    session_key = logged_in_with_the_old_engine(erin)
    assert whoami(session_key)["authenticated"] is False  # the new engine reads only its own table

    run(migration.copy_live_sessions)

    assert Session.objects.get(pk=session_key).user_id == str(erin.pk)
    assert SessionStore(session_key).load()[SESSION_KEY] == str(erin.pk)
    assert whoami(session_key) == {"service": "a", "authenticated": True, "username": "erin"}


def test_live_sessions_are_copied_anonymous_ones_without_a_user(erin):
    anonymous = old_session({"cart": ["a book"]})
    run(migration.copy_live_sessions)
    assert Session.objects.filter(pk=anonymous).values_list("user_id", flat=True).get() is None


def test_expired_and_undecodable_rows_are_not_copied(erin, caplog):
    expired = old_session({SESSION_KEY: str(erin.pk)}, expires_in=timedelta(seconds=-1))
    with override_settings(SECRET_KEY="k" * 60):
        signed_with_another_key = logged_in_with_the_old_engine(erin)
    OldSession.objects.create(session_key="g" * 32, session_data="garbage", expire_date=timezone.now() + timedelta(1))
    copied = logged_in_with_the_old_engine(erin)

    with caplog.at_level(logging.WARNING):
        run(migration.copy_live_sessions)

    assert list(Session.objects.values_list("pk", flat=True)) == [copied]
    assert {expired, signed_with_another_key, "g" * 32} <= set(OldSession.objects.values_list("pk", flat=True))
    assert [record.getMessage() for record in caplog.records] == [
        "2 live sessions in django_session did not decode with SECRET_KEY or SECRET_KEY_FALLBACKS and were not "
        "copied; their users log in again."
    ]


def test_a_session_signed_with_a_fallback_key_is_copied(erin):
    with override_settings(SECRET_KEY="o" * 60):
        session_key = logged_in_with_the_old_engine(erin)
    with override_settings(SECRET_KEY_FALLBACKS=["o" * 60]):
        run(migration.copy_live_sessions)
    assert Session.objects.get(pk=session_key).user_id == str(erin.pk)


def test_without_djangos_table_there_is_nothing_to_copy():
    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic(using=SHARED_DB):
        with connections[SHARED_DB].cursor() as cursor:
            cursor.execute("DROP TABLE django_session")
        run(migration.copy_live_sessions)
        raise RolledBack  # PostgreSQL undoes the DROP TABLE too
    assert not Session.objects.exists()


def test_undoing_gives_djangos_table_exactly_the_live_sessions(erin):
    logged_out_since = logged_in_with_the_old_engine(erin)
    run(migration.copy_live_sessions)
    Session.objects.filter(pk=logged_out_since).delete()
    client = Client()
    client.force_login(erin)
    current = client.session.session_key

    run(migration.copy_sessions_back)

    assert list(OldSession.objects.values_list("pk", flat=True)) == [current]
    assert db.SessionStore(current).load()[SESSION_KEY] == str(erin.pk)
