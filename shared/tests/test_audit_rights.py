"""Who may change the audit trail: the services only add events, housekeeping prunes them.

The rights as the migrate step sets them (sso_shared.database.table_rights) on a role granted its rows
the way db/provision.sql grants a service's, inside the test's transaction (roles and grants
are transactional in PostgreSQL: everything here is rolled back). Each statement runs as that
role (SET ROLE), as a compromised service would run it. e2e/test_audit_rights.py checks the
same against each running deployment, through the services' own database logins.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone

from sso_shared.accounts.tombstones import tombstone_users
from sso_shared.database import table_rights
from sso_shared.database.routers import SHARED_DB, SHARED_SCHEMA
from sso_shared.models import AuditEvent
from sso_shared.operations import audit, housekeeping
from sso_shared.sessions.store import session_model

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
SERVICE_ROLE = "sso_test_service"


def shared_sql(sql: str, params=None):
    with connections[SHARED_DB].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def refused(sql: str, params=None) -> str:
    """What PostgreSQL answers the current role; the statement must fail."""
    with pytest.raises(ProgrammingError) as error, transaction.atomic(using=SHARED_DB):
        shared_sql(sql, params)
    return str(error.value)


@pytest.fixture
def as_role():
    """Run as a role until the test ends (RESET ROLE then, before the rollback)."""

    def become(role: str) -> None:
        shared_sql(f"SET ROLE {role}")

    yield become
    shared_sql("RESET ROLE")


@pytest.fixture
def service_role():
    """A role holding what provisioning grants a service in the shared database, then the migrate step's rights."""
    shared_sql(f"CREATE ROLE {SERVICE_ROLE} NOLOGIN")
    shared_sql(f"GRANT USAGE ON SCHEMA {SHARED_SCHEMA} TO {SERVICE_ROLE}")
    shared_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SHARED_SCHEMA} TO {SERVICE_ROLE}")
    shared_sql(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {SHARED_SCHEMA} TO {SERVICE_ROLE}")
    table_rights.apply(connections[SHARED_DB])
    return SERVICE_ROLE


@pytest.fixture
def maintenance_role():
    """sso_maintenance, as provisioning makes it (./stack test provisions the cluster first; made here otherwise)."""
    if not shared_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", [table_rights.MAINTENANCE_ROLE]):
        shared_sql(f"CREATE ROLE {table_rights.MAINTENANCE_ROLE} NOLOGIN")
    shared_sql(f"GRANT USAGE ON SCHEMA {SHARED_SCHEMA} TO {table_rights.MAINTENANCE_ROLE}")
    table_rights.apply(connections[SHARED_DB])
    return table_rights.MAINTENANCE_ROLE


def old_event(username: str, days: int = 400) -> AuditEvent:
    event = AuditEvent.objects.using(SHARED_DB).create(kind="login", service="a", username=username)
    AuditEvent.objects.using(SHARED_DB).filter(pk=event.pk).update(time=timezone.now() - timedelta(days=days))
    return event


def test_a_service_adds_events_but_cannot_change_delete_or_truncate_one(service_role, as_role):
    event = old_event("carol")
    as_role(service_role)
    audit.record(audit.LOGIN, username="dave", service="a")
    assert AuditEvent.objects.using(SHARED_DB).filter(username="dave").exists()
    denied = "permission denied for table sso_audit_event"
    assert denied in refused("UPDATE sso_audit_event SET username = 'forged' WHERE id = %s", [event.pk])
    assert denied in refused("DELETE FROM sso_audit_event WHERE id = %s", [event.pk])
    assert denied in refused("TRUNCATE sso_audit_event")
    # The rest of the shared tables stay read and write for it.
    shared_sql("UPDATE sso_session SET expire_date = expire_date")


def test_a_service_cannot_prune_and_is_told_who_does(service_role, as_role):
    old_event("carol")
    as_role(service_role)
    with pytest.raises(CommandError, match=r"may not delete audit events.*\./stack housekeeping"):
        call_command("sso_audit", "--prune")
    with pytest.raises(CommandError, match=r"may not delete audit events"):
        call_command("sso_housekeeping")
    assert AuditEvent.objects.using(SHARED_DB).filter(username="carol").exists()


def test_housekeeping_as_the_maintenance_role_prunes_what_it_should(maintenance_role, as_role, settings):
    from axes.models import AccessAttempt, AccessAttemptExpiration

    settings.SSO_AUDIT_RETENTION_DAYS = 30
    old_event("old")
    AuditEvent.objects.using(SHARED_DB).create(kind="login", service="a", username="recent")
    model = session_model()
    model.objects.using(SHARED_DB).create(session_key="x" * 32, session_data="e30:", expire_date=timezone.now())
    attempt = AccessAttempt.objects.create(username="u", ip_address="127.0.0.9", user_agent="t", failures_since_start=5)
    AccessAttemptExpiration.objects.create(access_attempt=attempt, expires_at=timezone.now() - timedelta(minutes=1))
    as_role(maintenance_role)
    report = housekeeping.run()
    assert (report.ran, report.sessions, report.audit_events) == (True, 1, 1)
    assert list(AuditEvent.objects.using(SHARED_DB).values_list("username", flat=True)) == ["recent"]
    assert not AccessAttempt.objects.exists() and not AccessAttemptExpiration.objects.exists()


def test_the_maintenance_role_may_only_read_and_delete_what_housekeeping_prunes(maintenance_role, as_role):
    event = old_event("carol")
    as_role(maintenance_role)
    assert "permission denied" in refused("UPDATE sso_audit_event SET username = 'forged' WHERE id = %s", [event.pk])
    assert "permission denied" in refused(
        "INSERT INTO sso_audit_event (time, kind, service, username, user_agent) VALUES (now(), 'login', 'a', 'x', '')"
    )
    assert "permission denied" in refused("TRUNCATE sso_audit_event")
    assert "permission denied for table sso_user" in refused("SELECT password FROM sso_user")
    assert "permission denied for table sso_user" in refused("DELETE FROM sso_user")


def test_deleting_a_user_as_a_service_names_their_events_by_the_tombstone(service_role, as_role):
    erin = User.objects.create_user("erin", "erin@example.com", "a-long-password-1")
    audit.record(audit.LOGIN, user=erin, service="a")
    as_role(service_role)
    tombstone_users([erin])
    erin.refresh_from_db()
    assert erin.username.startswith("deleted-")
    assert set(AuditEvent.objects.using(SHARED_DB).filter(user_id=erin.pk).values_list("username", flat=True)) == {
        erin.username
    }


def test_the_owners_function_renames_only_a_tombstones_events_to_its_own_name(service_role, as_role):
    """A service cannot use it to rewrite the trail: a live user's events keep their name, and a
    temporary table named like the user table (the service may make those) is never read."""
    frank = User.objects.create_user("frank", "frank@example.com", "a-long-password-1")
    audit.record(audit.LOGIN, user=frank, service="a")
    as_role(service_role)
    forget = f"SELECT {audit.FORGET_USERNAME_FUNCTION}(%s)"
    assert shared_sql(forget, [frank.pk]) == [(0,)]
    shared_sql("CREATE TEMPORARY TABLE sso_user (id uuid, username text, is_active bool, password text)")
    shared_sql("INSERT INTO pg_temp.sso_user VALUES (%s, 'deleted-forged', false, '!')", [frank.pk])
    assert shared_sql(forget, [frank.pk]) == [(0,)]
    assert list(AuditEvent.objects.using(SHARED_DB).filter(user_id=frank.pk).values_list("username", flat=True)) == [
        "frank"
    ]
