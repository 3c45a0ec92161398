"""Upgrading: only what would break a running service stops a start or a migration.

Real manage.py and gunicorn processes of both services against a fresh database.
"""

import json

from .two_services import new_key

FORGOTTEN = "sso_shared.0003_access_groups"


def forget_last_shared_migration(services, service: str) -> None:
    """Make ``service``'s record say what a release before FORGOTTEN would know."""
    [(fingerprint,)] = services.query(
        "SELECT fingerprint FROM sso_service_fingerprint WHERE service = %s", [f"system_{service}"]
    )
    fingerprint["migrations of the shared tables"].remove(FORGOTTEN)
    services.query(
        "UPDATE sso_service_fingerprint SET fingerprint = %s WHERE service = %s",
        [json.dumps(fingerprint), f"system_{service}"],
    )


def test_a_running_service_that_does_not_know_a_shared_migration_blocks_it(fresh_deployment):
    services = fresh_deployment
    assert services.manage("a", "migrate", "sso_shared", "0002", "--database", "shared").returncode == 0
    with services.gunicorn("b"):  # its workers hold B's presence lock
        forget_last_shared_migration(services, "b")
        refused = services.manage("a", "sso_migrate", "--noinput")
        assert refused.returncode == 1
        assert (
            f"CommandError: system_a will not migrate the shared tables: system_b is running and does not know "
            f"{FORGOTTEN}.\nStop system_b, or upgrade it to the release of system_a first, then run "
            "sso_migrate again (docs/operations.md, 'Upgrading')." in refused.stderr
        )
        assert services.query("SELECT count(*) FROM django_migrations WHERE name = '0003_access_groups'") == [(0,)]
        skipped = services.manage("a", "sso_migrate", "--noinput", "--skip-if-blocked")
        assert skipped.returncode == 0
        assert "Skipped: each service migrates when it starts." in skipped.stdout
    # B has stopped: its record blocks nothing.
    assert services.manage("a", "sso_migrate", "--noinput").returncode == 0
    assert services.query("SELECT count(*) FROM django_migrations WHERE name = '0003_access_groups'") == [(1,)]


def test_a_stopped_services_record_blocks_no_start_even_with_other_settings(fresh_deployment):
    services = fresh_deployment
    other_key = new_key()
    assert services.manage("a", "sso_register", SECRET_KEY=other_key, SECRET_KEY_FALLBACKS="").returncode == 0
    # A (not running) recorded another key; B starts anyway.
    started = services.manage("b", "sso_register")
    assert (started.returncode, started.stderr) == (0, "")
    # Once A runs with that key, B is refused.
    with services.gunicorn("a", SECRET_KEY=other_key):
        refused = services.manage("b", "sso_register")
    assert refused.returncode == 1
    assert "SECRET_KEY of system_b differs from system_a" in refused.stderr
