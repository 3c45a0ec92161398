"""Which of this service's permissions are missing from the shared database.

``create_permissions`` runs after ``migrate`` only for the database being
migrated: migrating just the service database (a plain ``migrate``, whose "default" is the service database)
leaves a new model without content type and permissions in the shared one, so
no group can grant it. ``sso_migrate`` migrates both.
"""

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Permission

from sso_shared.agreement.records import shared_database_errors
from sso_shared.database.routers import SHARED_DB
from sso_shared.models import ServiceAccess, access_codename


def expected_permissions() -> set[tuple[str, str, str]]:
    """(app label, model, codename) of every permission Django would create for this service's models, and
    the access permission of each declared service (sso_shared.access.service_access.provide_access_groups)."""
    access = ServiceAccess._meta
    expected = {(access.app_label, access.model_name, access_codename(service)) for service in settings.SSO_SERVICES}
    for model in apps.get_models():
        opts = model._meta
        codenames = [get_permission_codename(action, opts) for action in opts.default_permissions]
        codenames += [codename for codename, _ in opts.permissions]
        expected |= {(opts.app_label, opts.model_name, codename) for codename in codenames}
    return expected


def missing_permissions() -> list[str]:
    """'app_label.codename' of each missing permission; raises SharedDatabaseUnavailable."""
    expected = expected_permissions()
    with shared_database_errors():
        present = set(
            Permission.objects.using(SHARED_DB)
            .filter(content_type__app_label__in={label for label, _, _ in expected})
            .values_list("content_type__app_label", "content_type__model", "codename")
        )
    return sorted(f"{label}.{codename}" for label, _, codename in expected - present)
