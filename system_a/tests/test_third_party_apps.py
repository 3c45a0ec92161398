"""Third-party apps with foreign keys to the user, groups, permissions and content types, in both
services' real manage.py and gunicorn.

Installed in one service only (the ordinary case), Django REST framework's
``rest_framework.authtoken`` (a Token per user) and django-guardian (object permissions
of users and groups) migrate into that service's schema with real foreign keys into the
shared one; the other service knows nothing of them. Shared by both services
(``SSO_SHARED_APP_LABELS``), the token table lives in the shared schema and a token made
on A authenticates on B.
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

THIRD_PARTY_TABLES = {
    "authtoken_token",
    "guardian_userobjectpermission",
    "guardian_groupobjectpermission",
}


def foreign_keys(services, schema: str) -> set[tuple[str, str, str]]:
    """(table, column, "schema.table" it references) of every foreign key constraint of tables in ``schema``."""
    rows = services.query(
        """
        SELECT source.relname, attribute.attname, target_schema.nspname || '.' || target.relname
          FROM pg_constraint constraint_
          JOIN pg_class source ON source.oid = constraint_.conrelid
          JOIN pg_namespace source_schema ON source_schema.oid = source.relnamespace
          JOIN pg_class target ON target.oid = constraint_.confrelid
          JOIN pg_namespace target_schema ON target_schema.oid = target.relnamespace
          JOIN pg_attribute attribute ON attribute.attrelid = constraint_.conrelid
                                     AND attribute.attnum = constraint_.conkey[1]
         WHERE constraint_.contype = 'f' AND source_schema.nspname = %s
        """,
        [schema],
    )
    return set(rows)


def test_shared_by_both_a_token_made_on_a_authenticates_a_request_on_b(empty_databases):
    services = empty_databases
    for service in ("a", "b"):
        result = services.manage(service, "sso_migrate", "--noinput", **SHARED)
        assert result.returncode == 0, result.stderr
    assert "authtoken_token" in services.tables("shared")
    assert "authtoken_token" not in services.tables("a") | services.tables("b")

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


def test_installed_in_one_service_they_migrate_there_with_real_keys_and_the_other_knows_nothing(empty_databases):
    services = empty_databases
    for service, extra in (("a", {}), ("b", ONE_SERVICE_ONLY)):
        result = services.manage(service, "sso_migrate", "--noinput", **extra)
        assert result.returncode == 0, result.stderr
        assert "sso_shared.E0" not in result.stderr

    assert services.tables("b") >= THIRD_PARTY_TABLES
    assert not THIRD_PARTY_TABLES & (services.tables("a") | services.tables("shared"))
    keys = foreign_keys(services, "system_b")
    assert ("authtoken_token", "user_id", "shared.sso_user") in keys
    assert ("guardian_userobjectpermission", "user_id", "shared.sso_user") in keys
    assert ("guardian_userobjectpermission", "permission_id", "shared.auth_permission") in keys
    assert ("guardian_groupobjectpermission", "group_id", "shared.auth_group") in keys
    assert ("guardian_groupobjectpermission", "permission_id", "shared.auth_permission") in keys
    assert ("guardian_groupobjectpermission", "content_type_id", "shared.django_content_type") in keys
    # B's migrations are recorded in B's schema only.
    recorded = services.query("SELECT DISTINCT app FROM system_b.django_migrations")
    assert {("authtoken",), ("guardian",)} <= set(recorded)
    for schema in ("shared", "system_a"):
        assert not services.query(
            f"SELECT app FROM {schema}.django_migrations WHERE app IN ('authtoken', 'guardian')"  # noqa: S608
        )

    # The services still agree: the apps are B's own, not part of the shared contract.
    for service, extra in (("a", {}), ("b", ONE_SERVICE_ONLY)):
        registered = services.manage(service, "sso_register", **extra)
        assert registered.returncode == 0, registered.stderr

    created = services.manage(
        "b", "createsuperuser", "--noinput", "--username", USERNAME, "--email", f"{USERNAME}@example.com",
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16), **ONE_SERVICE_ONLY,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    made = services.manage("b", "drf_create_token", USERNAME, **ONE_SERVICE_ONLY)
    assert made.returncode == 0, made.stderr
    key = re.fullmatch(rf"Generated token (\w+) for user {USERNAME}\n", made.stdout)[1]
    granted = services.manage(
        "b", "shell", "-v", "0", "-c",
        "from django.contrib.auth.models import Group; from guardian.shortcuts import assign_perm, get_perms; "
        "group = Group.objects.create(name='reviewers'); assign_perm('auth.change_group', group, group); "
        "print(get_perms(group, group))",
        **ONE_SERVICE_ONLY,
    )  # fmt: skip
    assert (granted.returncode, granted.stdout.strip()) == (0, "['change_group']"), granted.stderr

    with services.gunicorn("b", **ONE_SERVICE_ONLY) as b:
        answer = requests.get(f"{b}/api/me", headers={"Authorization": f"Token {key}"}, timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"service": "b", "username": USERNAME})
    a_apps = services.manage(
        "a", "shell", "-v", "0", "-c", "from django.apps import apps; print(apps.is_installed('guardian'))"
    )
    assert a_apps.stdout.strip() == "False"
