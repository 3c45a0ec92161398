"""Migrating the shared tables from two services: at once, partly, and cleaning up after.

Each test runs the services' real `manage.py` against a fresh database.
"""

import time

from sso_shared.database.locks import MIGRATE_LOCK_ID

from .two_services import TwoServices, superuser_cursor

WAITING = "Another migration holds the shared-database lock; waiting for it to finish."
SHARED_APPS = ("admin", "auth", "contenttypes", "sessions", "sso_shared")
INTAKE_PERMISSIONS = ["intake.add_request", "intake.change_request", "intake.delete_request", "intake.view_request"]


def wait_until_waiting_for_the_lock(cursor, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        if cursor.fetchone()[0] == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} sso_migrate processes never queued for the lock")


def test_both_services_migrate_an_empty_database_at_the_same_moment(empty_databases):
    """Both start while the lock is taken, so both reach it together: one migrates, the other waits."""
    with superuser_cursor(empty_databases.database) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_ID])
        runs = [empty_databases.start_manage(service, "sso_migrate", "--noinput") for service in ("a", "b")]
        wait_until_waiting_for_the_lock(holder, count=2)
        holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_ID])
        outputs = [run.communicate(timeout=180)[0] for run in runs]

    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert WAITING in output
    assert "[a] the shared schema and this service's are up to date." in outputs[0]
    assert "[b] the shared schema and this service's are up to date." in outputs[1]
    history = empty_databases.query("SELECT app, name, count(*) FROM django_migrations GROUP BY app, name")
    assert all(count == 1 for _, _, count in history), "a migration was recorded twice"
    applied = {(app, name) for app, name, _ in history}
    assert {("sso_shared", "0003_access_groups"), ("auth", "0012_alter_user_first_name_max_length")} <= applied
    assert {app for app, _ in applied} >= set(SHARED_APPS)
    # The shared schema's own record lists the shared apps only: no service's.
    assert not {app for app, _ in applied} & {"intake", "review"}
    content_types = empty_databases.query("SELECT app_label, model FROM django_content_type WHERE model != ''")
    assert ("intake", "request") in content_types
    assert ("review", "review") in content_types
    assert len(content_types) == len(set(content_types))


def test_each_service_keeps_its_own_tables_in_its_own_schema(deployed):
    shared, a, b = (deployed.tables(name) for name in ("shared", "a", "b"))
    assert {"sso_user", "auth_permission", "sso_session", "sso_service_fingerprint"} <= shared
    assert not {"intake_request", "review_review"} & shared
    assert "intake_request" in a and "sso_user" not in a and "review_review" not in a
    assert "review_review" in b and "sso_user" not in b and "intake_request" not in b
    # Each schema records its own migrations in a table of its own.
    for schema, app in (("system_a", "intake"), ("system_b", "review")):
        assert deployed.query(f"SELECT count(*) FROM {schema}.django_migrations WHERE app = %s", [app]) == [(2,)]  # noqa: S608
    assert deployed.query("SELECT count(*) FROM shared.django_migrations WHERE app IN ('intake', 'review')") == [(0,)]


def permissions_in_shared_database(services, app_label):
    rows = services.query(
        "SELECT ct.app_label || '.' || p.codename FROM auth_permission p "
        "JOIN django_content_type ct ON ct.id = p.content_type_id WHERE ct.app_label = %s ORDER BY 1",
        [app_label],
    )
    return [name for (name,) in rows]


def test_migrating_only_the_service_schema_leaves_permissions_missing_and_check_says_so(empty_databases):
    services = empty_databases
    assert services.manage("b", "sso_migrate", "--noinput").returncode == 0
    # System A's operator migrates "its" schema only: its tables exist, its permissions do not.
    assert services.manage("a", "migrate", "--noinput").returncode == 0
    assert permissions_in_shared_database(services, "intake") == []

    message = (
        f"Permissions of system_a are missing in the shared schema: {', '.join(INTAKE_PERMISSIONS)}. "
        "No group can grant them. Run `manage.py sso_migrate` of system_a: it creates them "
        "(a plain `migrate` alone does not)."
    )
    check = services.manage("a", "check", "--database", "default")
    assert f"?: (sso_shared.W002) {message}" in check.stderr
    doctor = services.manage("a", "sso_doctor")
    assert doctor.returncode == 1
    assert f"FAIL  {message}" in doctor.stdout.splitlines()

    assert services.manage("a", "sso_migrate", "--noinput").returncode == 0
    assert permissions_in_shared_database(services, "intake") == INTAKE_PERMISSIONS
    assert "W002" not in services.manage("a", "check", "--database", "default").stderr
    assert (
        "PASS  permissions of system_a's models exist in the shared schema"
        in services.manage("a", "sso_doctor").stdout.splitlines()
    )


def test_remove_stale_contenttypes_from_a_keeps_bs_content_types_and_permissions(deployed):
    before = permissions_in_shared_database(deployed, "review")
    assert before == ["review.add_review", "review.change_review", "review.delete_review", "review.view_review"]
    result = deployed.manage("a", "remove_stale_contenttypes", "--include-stale-apps", "--noinput", "-v", "2")
    assert result.returncode == 0, result.stderr
    assert (
        "Keeping the content types of app 'review': they belong to system_b. "
        "Run remove_stale_contenttypes from system_b to clean them."
    ) in result.stdout
    assert permissions_in_shared_database(deployed, "review") == before


def test_remove_stale_contenttypes_refuses_while_the_other_service_is_unknown(deployed):
    assert deployed.manage("a", "sso_forget", "system_b").returncode == 0
    try:
        result = deployed.manage("a", "remove_stale_contenttypes", "--include-stale-apps", "--noinput")
        assert result.returncode == 1
        assert (
            "CommandError: Refusing --include-stale-apps: system_b has not recorded its app labels in the shared "
            "database, so its content types look stale from here and would be deleted with their permissions. "
            "Start it (or run its `manage.py sso_register`) first."
        ) in result.stderr
        assert len(permissions_in_shared_database(deployed, "review")) == 4
    finally:
        assert deployed.manage("b", "sso_register").returncode == 0


def test_on_a_database_not_migrated_yet_check_passes_and_starting_is_refused(empty_databases):
    check = empty_databases.manage("a", "check")
    assert (check.returncode, check.stderr) == (0, "")
    register = empty_databases.manage("a", "sso_register")
    assert register.returncode == 1
    assert register.stderr == (
        "CommandError: system_a cannot compare its settings with the other services: the shared database is not "
        'ready (relation "sso_service_fingerprint" does not exist): run `manage.py sso_migrate` first.\n'
    )
    doctor = empty_databases.manage("a", "sso_doctor")
    assert doctor.returncode == 1
    assert doctor.stdout.splitlines()[1].startswith("FAIL  the shared database is not ready (relation ")


def test_makemigrations_needs_no_database_and_finds_every_model_migrated():
    for service in ("a", "b"):
        result = TwoServices().manage(service, "makemigrations", "--check", "--dry-run", DB_PORT="1")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == "No changes detected\n"
