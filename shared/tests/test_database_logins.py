"""Which role each alias logs in as, and what it sees: the service's own role at run time, with
its schema then the shared one on the search_path; the migration role, over a local socket, for
the shared schema alone in the migrate step (db/provision.sql)."""

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from sso_shared.database.aliases import databases

SERVICE_PASSWORD = "p4ss-Word-of-a-service"


@pytest.fixture
def service_env(monkeypatch):
    for name in ("AUTH_DB_USER", "AUTH_DB_HOST", "AUTH_DB_ROLE", "AUTH_DB_PASSWORD", "DB_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_USER", "system_b")
    monkeypatch.setenv("DB_PASSWORD", SERVICE_PASSWORD)
    monkeypatch.setenv("DB_HOST", "db")
    monkeypatch.delenv("DB_SCHEMA", raising=False)
    monkeypatch.setenv("DB_NAME", "sso")
    return monkeypatch


def test_at_run_time_a_service_logs_in_once_as_itself_seeing_its_schema_then_the_shared_one(service_env):
    aliases = databases(shared="shared", service="default")
    for alias in ("shared", "default"):
        assert (aliases[alias]["NAME"], aliases[alias]["USER"], aliases[alias]["PASSWORD"], aliases[alias]["HOST"]) == (
            "sso",
            "system_b",
            SERVICE_PASSWORD,
            "db",
        )
    assert aliases["default"]["OPTIONS"]["options"] == "-c search_path=system_b,shared"
    assert aliases["shared"]["OPTIONS"]["options"] == "-c search_path=shared"
    assert "assume_role" not in aliases["shared"]["OPTIONS"]


def test_the_service_schema_may_be_named_and_must_be_a_plain_one_other_than_the_shared(service_env):
    service_env.setenv("DB_SCHEMA", "review")
    assert databases(shared="shared", service="default")["default"]["OPTIONS"]["options"] == (
        "-c search_path=review,shared"
    )
    for bad in ("shared", "Review", "a;b", "1st"):
        service_env.setenv("DB_SCHEMA", bad)
        with pytest.raises(ImproperlyConfigured, match="is not a service schema"):
            databases(shared="shared", service="default")


def test_the_migrate_step_logs_in_to_the_shared_schema_as_the_migration_role(service_env):
    service_env.setenv("AUTH_DB_USER", "sso_migrator")
    service_env.setenv("AUTH_DB_HOST", "/run/postgresql-migrate")
    service_env.setenv("AUTH_DB_ROLE", "sso_auth")
    aliases = databases(shared="shared", service="default")
    shared = aliases["shared"]
    assert (shared["USER"], shared["PASSWORD"], shared["HOST"]) == ("sso_migrator", "", "/run/postgresql-migrate")
    assert shared["OPTIONS"]["assume_role"] == "sso_auth"
    # Its own schema stays its own role's.
    assert (aliases["default"]["USER"], aliases["default"]["HOST"]) == ("system_b", "db")


@pytest.mark.django_db(databases=["shared", "default"], transaction=True)
def test_waiting_for_migrations_returns_at_once_when_both_schemas_are_current():
    out = io.StringIO()
    call_command("sso_wait_for_migrations", "--timeout", "0", stdout=out)
    assert "The shared schema and this service's hold every migration of this code." in out.getvalue()


@pytest.mark.django_db(databases=["shared", "default"], transaction=True)
def test_waiting_for_migrations_names_what_is_missing_and_gives_up():
    recorder = MigrationRecorder(connections["shared"])
    applied = recorder.migration_qs.filter(app="sso_shared").order_by("-id").first()
    recorder.record_unapplied(applied.app, applied.name)
    try:
        with pytest.raises(CommandError) as gave_up:
            call_command("sso_wait_for_migrations", "--timeout", "0", stdout=io.StringIO())
        assert f"shared: sso_shared.{applied.name}" in str(gave_up.value)
        assert "docker compose logs migrate" in str(gave_up.value)
    finally:
        recorder.record_applied(applied.app, applied.name)
