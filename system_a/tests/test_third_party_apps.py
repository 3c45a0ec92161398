"""A third-party app with a foreign key to the user, in both services' real manage.py and gunicorn.

Django REST framework's ``rest_framework.authtoken`` (a Token table pointing at the
user) is the example docs/architecture.md "Third-party apps" gives. Shared by both services, its
table lives in the shared database and a token made on A authenticates on B.
Installed in one service only, sso_shared.E004 refuses it before anything migrates,
instead of ``relation "sso_user" does not exist`` halfway through.
"""

import re
import secrets

import requests

from .two_services import SUPPORT

USERNAME = "token-holder"


def settings_module(name: str) -> dict:
    """Environment that runs a service with a settings module from tests/support."""
    return {"DJANGO_SETTINGS_MODULE": name, "PYTHONPATH": str(SUPPORT)}


SHARED = settings_module("drf_tokens_shared")
ONE_SERVICE_ONLY = settings_module("drf_tokens")

REFUSAL = (
    "authtoken.Token.user: (sso_shared.E004) Model authtoken.Token of app 'authtoken' (rest_framework.authtoken) "
    "lives in this service's own database, and has a database-level foreign key to sso_shared.User in the shared "
    'database. PostgreSQL has no foreign keys across databases: migrate fails with relation "sso_user" does not '
    "exist.\n"
    "\tHINT: Either share the app 'authtoken' (rest_framework.authtoken) in both services: add \"authtoken\" to "
    "SSO_SHARED_APP_LABELS in sso_shared/settings.py, so its tables live in the shared database. Or, if the model "
    "is your own, declare the field with db_constraint=False and decide what happens to its rows when the row it "
    "points at is deleted. docs/architecture.md, 'Third-party apps'."
)


def tables(services, database: str) -> set[str]:
    rows = services.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=database)
    return {name for (name,) in rows}


def contents(services) -> dict:
    """Every table of the three databases, with the migrations and content types recorded."""
    found = {}
    for database in services.databases:
        names = tables(services, database)
        found[database] = {"tables": names}
        for table in {"django_migrations", "django_content_type"} & names:
            found[database][table] = services.query(f"SELECT * FROM {table} ORDER BY id", database=database)  # noqa: S608
    return found


def test_shared_by_both_a_token_made_on_a_authenticates_a_request_on_b(empty_databases):
    services = empty_databases
    for service in ("a", "b"):
        result = services.manage(service, "sso_migrate", "--noinput", **SHARED)
        assert result.returncode == 0, result.stderr
    assert "authtoken_token" in tables(services, services.auth_db)
    assert "authtoken_token" not in tables(services, services.service_db("a")) | tables(
        services, services.service_db("b")
    )

    created = services.manage(
        "a",
        "createsuperuser",
        "--noinput",
        "--username",
        USERNAME,
        "--email",
        f"{USERNAME}@example.com",
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
        **SHARED,
    )
    assert created.returncode == 0, created.stderr
    made = services.manage("a", "drf_create_token", USERNAME, **SHARED)
    assert made.returncode == 0, made.stderr
    key = re.fullmatch(rf"Generated token (\w+) for user {USERNAME}\n", made.stdout)[1]
    registered = services.manage("a", "sso_register", **SHARED)
    assert registered.returncode == 0, registered.stderr

    with services.gunicorn("b", **SHARED) as b:
        answer = requests.get(f"{b}/api/me", headers={"Authorization": f"Token {key}"}, timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"service": "b", "username": USERNAME})
        unknown = requests.get(f"{b}/api/me", headers={"Authorization": f"Token {'0' * 40}"}, timeout=10)
        assert (unknown.status_code, unknown.json()) == (401, {"detail": "Invalid token."})


def test_in_one_service_only_it_is_refused_by_name_and_nothing_is_migrated(empty_databases):
    services = empty_databases
    migrated_a = services.manage("a", "sso_migrate", "--noinput")
    assert migrated_a.returncode == 0, migrated_a.stderr
    before = contents(services)
    assert before[services.service_db("b")] == {"tables": set()}

    # --skip-checks, too: sso_migrate runs this check itself, as when called by call_command.
    for command in (["check"], ["sso_migrate", "--noinput"], ["sso_migrate", "--noinput", "--skip-checks"]):
        result = services.manage("b", *command, **ONE_SERVICE_ONLY)
        assert result.returncode == 1, command
        assert REFUSAL in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    assert contents(services) == before
