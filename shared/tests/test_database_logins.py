"""Which role each alias logs in as: the service's own for both at run time; the migration
role, over a local socket, for the shared database in the migrate step (db/provision.sql)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from sso_shared.databases import databases

SERVICE_PASSWORD = "p4ss-Word-of-a-service"


@pytest.fixture
def service_env(monkeypatch):
    for name in ("AUTH_DB_USER", "AUTH_DB_HOST", "AUTH_DB_ROLE", "AUTH_DB_PASSWORD", "DB_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_USER", "system_b")
    monkeypatch.setenv("DB_PASSWORD", SERVICE_PASSWORD)
    monkeypatch.setenv("DB_HOST", "db")
    monkeypatch.setenv("SERVICE_DB_NAME", "system_b")
    return monkeypatch


def test_at_run_time_a_service_logs_in_to_both_databases_as_itself(service_env):
    aliases = databases(shared="auth", service="default")
    for alias in ("auth", "default"):
        assert (aliases[alias]["USER"], aliases[alias]["PASSWORD"], aliases[alias]["HOST"]) == (
            "system_b",
            SERVICE_PASSWORD,
            "db",
        )
    assert "assume_role" not in aliases["auth"]["OPTIONS"]


def test_the_migrate_step_logs_in_to_the_shared_database_as_the_migration_role(service_env):
    service_env.setenv("AUTH_DB_USER", "sso_migrator")
    service_env.setenv("AUTH_DB_HOST", "/run/postgresql-migrate")
    service_env.setenv("AUTH_DB_ROLE", "sso_auth")
    aliases = databases(shared="auth", service="default")
    shared = aliases["auth"]
    assert (shared["USER"], shared["PASSWORD"], shared["HOST"]) == ("sso_migrator", "", "/run/postgresql-migrate")
    assert shared["OPTIONS"]["assume_role"] == "sso_auth"
    # Its own database stays its own role's.
    assert (aliases["default"]["USER"], aliases["default"]["HOST"]) == ("system_b", "db")


@pytest.mark.django_db(databases=["auth", "default"], transaction=True)
def test_waiting_for_migrations_returns_at_once_when_both_databases_are_current():
    out = io.StringIO()
    call_command("sso_wait_for_migrations", "--timeout", "0", stdout=out)
    assert "Both databases hold every migration of this code." in out.getvalue()


@pytest.mark.django_db(databases=["auth", "default"], transaction=True)
def test_waiting_for_migrations_names_what_is_missing_and_gives_up():
    recorder = MigrationRecorder(connections["auth"])
    applied = recorder.migration_qs.filter(app="sso_shared").order_by("-id").first()
    recorder.record_unapplied(applied.app, applied.name)
    try:
        with pytest.raises(CommandError) as gave_up:
            call_command("sso_wait_for_migrations", "--timeout", "0", stdout=io.StringIO())
        assert f"auth: sso_shared.{applied.name}" in str(gave_up.value)
        assert "docker compose logs migrate" in str(gave_up.value)
    finally:
        recorder.record_applied(applied.app, applied.name)
