"""sso_housekeeping removes expired sessions and old audit events, and one run at a time."""

from datetime import timedelta

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from sso_shared.database.locks import HOUSEKEEPING_LOCK_ID
from sso_shared.database.routers import SHARED_DB
from sso_shared.models import AuditEvent
from sso_shared.operations import housekeeping
from sso_shared.sessions.store import session_model

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def add_sessions(count: int, expire_in: timedelta) -> None:
    model = session_model()
    expiry = timezone.now() + expire_in
    model.objects.using(SHARED_DB).bulk_create(
        model(session_key=get_random_string(32), session_data="e30:", expire_date=expiry) for _ in range(count)
    )


def test_expired_sessions_go_in_batches_and_live_ones_stay():
    add_sessions(25, timedelta(hours=-1))
    add_sessions(3, timedelta(hours=1))
    assert housekeeping.clear_expired_sessions(batch=10) == 25
    assert session_model().objects.using(SHARED_DB).count() == 3


def test_old_audit_events_go_recent_ones_stay(settings):
    settings.SSO_AUDIT_RETENTION_DAYS = 30
    old = AuditEvent.objects.using(SHARED_DB).create(kind="login", service="a", username="old")
    AuditEvent.objects.using(SHARED_DB).filter(pk=old.pk).update(time=timezone.now() - timedelta(days=31))
    AuditEvent.objects.using(SHARED_DB).create(kind="login", service="a", username="new")
    add_sessions(2, timedelta(hours=-1))
    report = housekeeping.run()
    assert (report.ran, report.sessions, report.audit_events) == (True, 2, 1)
    assert report.lockout_rows == {"attempts": 0, "accesslog": 0, "accessfailurelog": 0}
    assert list(AuditEvent.objects.using(SHARED_DB).values_list("username", flat=True)) == ["new"]


def test_a_run_while_another_holds_the_lock_skips_and_removes_nothing(capsys):
    add_sessions(2, timedelta(hours=-1))
    params = connections[SHARED_DB].get_connection_params()
    other = psycopg2.connect(**{k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}})
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [HOUSEKEEPING_LOCK_ID])
            call_command("sso_housekeeping")
            assert "skipped: another run holds the lock" in capsys.readouterr().out
            assert session_model().objects.using(SHARED_DB).count() == 2
            cursor.execute("SELECT pg_advisory_unlock(%s)", [HOUSEKEEPING_LOCK_ID])
    finally:
        other.close()
    call_command("sso_housekeeping")
    assert "expired_sessions=2 " in capsys.readouterr().out
    assert session_model().objects.using(SHARED_DB).count() == 0


def test_lockout_attempts_go_once_their_cool_off_has_ended():
    from axes.models import AccessAttempt, AccessAttemptExpiration

    def attempt(username: str, ends_in: timedelta) -> None:
        record = AccessAttempt.objects.create(
            username=username, ip_address="127.0.0.9", user_agent="test", failures_since_start=5
        )
        AccessAttemptExpiration.objects.create(access_attempt=record, expires_at=timezone.now() + ends_in)

    attempt("lock-ended", timedelta(minutes=-1))
    attempt("still-locked", timedelta(minutes=10))
    assert housekeeping.prune_lockout_rows()["attempts"] >= 1
    left = set(AccessAttempt.objects.values_list("username", flat=True))
    assert "still-locked" in left and "lock-ended" not in left
