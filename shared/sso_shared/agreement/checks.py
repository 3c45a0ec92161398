"""System checks: do this service's settings agree with the other services running now?

They only read the shared database, never write it, and stay silent when it
cannot be read (no database yet, not migrated, ``makemigrations`` on a laptop):
``manage.py sso_doctor`` reports that case, and starting the service refuses it.
https://docs.djangoproject.com/en/5.2/topics/checks/
"""

from django.core import checks

from sso_shared.access.groups import access_groups_granting_more, violation
from sso_shared.access.permission_rows import missing_permissions
from sso_shared.agreement.compare import disagreements
from sso_shared.agreement.records import (
    SharedDatabaseUnavailable,
    running_others,
    shared_database_errors,
    this_record,
    this_service,
)
from sso_shared.database.routers import SHARED_DB
from sso_shared.database.shared_schema_keys import keys_out_of_shared_schema

TAG = "sso"
# Its own tag, so sso_migrate can run every check but this one (a disagreeing
# setting breaks logins, not migrations).
AGREEMENT_TAG = "sso_agreement"
# Also run by sso_migrate itself, which call_command may start with checks skipped.
SHARED_SCHEMA_KEYS_TAG = "sso_shared_schema_keys"


@checks.register(AGREEMENT_TAG)
def settings_agree_with_other_services(app_configs=None, **kwargs):
    try:
        others = running_others()
    except SharedDatabaseUnavailable:
        return []
    if not others:
        # Nothing to compare with: skip building this service's fingerprint (it reads every
        # migration file), which every manage.py command would otherwise pay for.
        return []
    return [finding.as_check_message() for finding in disagreements(this_record(), others)]


# A plain check, so it runs before `migrate` (and sso_migrate): it finds from the models
# alone what would make migrate fail halfway.
@checks.register(TAG, SHARED_SCHEMA_KEYS_TAG)
def no_foreign_keys_out_of_the_shared_schema(app_configs=None, **kwargs):
    models = [model for config in app_configs for model in config.get_models()] if app_configs else None
    return [key.as_check_message() for key in keys_out_of_shared_schema(models)]


# A database check (runs with `check --database default` and in sso_doctor): as a
# plain check it would also run before `migrate`, the command that fixes it.
@checks.register(TAG, checks.Tags.database)
def permissions_exist_in_shared_database(app_configs=None, databases=None, **kwargs):
    if not databases or SHARED_DB not in databases:
        return []
    try:
        missing = missing_permissions()
    except SharedDatabaseUnavailable:
        return []
    if not missing:
        return []
    return [checks.Warning(missing_permissions_message(missing), id="sso_shared.W002")]


SHOWN_AT_MOST = 8


def missing_permissions_message(missing: list[str]) -> str:
    names = ", ".join(missing[:SHOWN_AT_MOST])
    if len(missing) > SHOWN_AT_MOST:
        names += f" and {len(missing) - SHOWN_AT_MOST} more"
    return (
        f"Permissions of {this_service()} are missing in the shared schema: {names}. "
        f"No group can grant them. Run `manage.py sso_migrate` of {this_service()}: it creates them "
        "(a plain `migrate` alone does not)."
    )


# A database check too: it reads the groups in the shared database.
@checks.register(TAG, checks.Tags.database)
def access_groups_grant_only_their_service(app_configs=None, databases=None, **kwargs):
    if not databases or SHARED_DB not in databases:
        return []
    try:
        with shared_database_errors():
            found = access_groups_granting_more()
    except SharedDatabaseUnavailable:
        return []
    return [
        checks.Error(
            violation(name, extra),
            hint=(
                "Remove them from the group as a superuser, in either service's admin. "
                "docs/security.md, 'Per-service access'."
            ),
            id="sso_shared.E005",
        )
        for name, extra in found.items()
    ]


SERVER_ERROR_HANDLER = "sso_shared.operations.unavailable.server_error"


# Without it, a database that cannot be reached is a 500 with a traceback in the log
# instead of the 503 page (docs/failures.md).
@checks.register(TAG)
def database_away_is_a_503(app_configs=None, **kwargs):
    from importlib import import_module

    from django.conf import settings

    from sso_shared.operations import unavailable

    handler = getattr(import_module(settings.ROOT_URLCONF), "handler500", None)
    if handler in (SERVER_ERROR_HANDLER, unavailable.server_error):
        return []
    return [
        checks.Warning(
            f"{settings.ROOT_URLCONF} does not set handler500 = {SERVER_ERROR_HANDLER!r}: while a database "
            "cannot be reached, requests get a 500 instead of the 503 page.",
            hint=f'Add handler500 = "{SERVER_ERROR_HANDLER}" to {settings.ROOT_URLCONF}.',
            id="sso_shared.W003",
        )
    ]
