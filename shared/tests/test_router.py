"""Where each app's tables are created, and that one connection reads and writes them all."""

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session as DjangosSession
from django.db import router as django_router
from django.db.migrations.state import ProjectState
from django.test import override_settings

from sso_shared.database.routers import (
    SERVICE_DB,
    SHARED_APP_LABELS,
    SHARED_MIGRATIONS_DB,
    SharedAuthRouter,
    migrations_alias,
)
from sso_shared.models import ServiceFingerprint, Session

router = SharedAuthRouter()
SHARED_MODELS = [
    get_user_model(),
    Group,
    Permission,
    ContentType,
    Session,
    DjangosSession,
    LogEntry,
    ServiceFingerprint,
]


@pytest.mark.parametrize("model", SHARED_MODELS)
def test_shared_models_are_read_and_written_on_the_one_connection(model):
    assert django_router.db_for_read(model) == SERVICE_DB
    assert django_router.db_for_write(model) == SERVICE_DB


@pytest.mark.parametrize("label", ["intake", "review", "anything_else"])
def test_service_apps_are_migrated_on_the_service_alias(label):
    assert migrations_alias(label) == SERVICE_DB
    assert router.allow_migrate(SERVICE_DB, label) is True
    assert router.allow_migrate(SHARED_MIGRATIONS_DB, label) is False


@pytest.mark.parametrize("label", ["admin", "auth", "contenttypes", "sessions", "sso_shared", "sso_adoption"])
def test_shared_apps_are_migrated_only_on_the_shared_alias(label):
    assert router.allow_migrate(SHARED_MIGRATIONS_DB, label) is True
    assert router.allow_migrate(SERVICE_DB, label) is False


def historical(model):
    """The model as a migration's operations hand it to the router."""
    return ProjectState.from_apps(apps).apps.get_model(model._meta.label)


@pytest.mark.parametrize("model", [Permission, ContentType, get_user_model()])
def test_a_migration_never_creates_or_alters_a_shared_table_through_the_service_alias(model):
    meta = model._meta
    assert router.allow_migrate(SERVICE_DB, meta.app_label, meta.model_name, model=historical(model)) is False


@pytest.mark.parametrize("model", [Permission, ContentType])
def test_rows_of_shared_models_may_be_written_through_the_service_alias(model):
    """create_permissions(using="default"), as a third-party data migration may call it (Wagtail's do)."""
    assert django_router.allow_migrate_model(SERVICE_DB, model) is True


def test_the_shared_labels_are_a_setting_defined_once_for_both_services():
    from sso_shared import settings as shared_settings

    # The login's own apps, the lockout's records (django-axes), so a lock holds on every service, and
    # each user's second factors (django-otp, django-otp-webauthn), which the login on A checks.
    second_factors = {"otp_totp", "otp_static", "django_otp_webauthn"}
    assert set(shared_settings.SSO_SHARED_APP_LABELS) == SHARED_APP_LABELS | {"axes"} | second_factors


@override_settings(SSO_SHARED_APP_LABELS=[*SHARED_APP_LABELS, "authtoken"])
def test_an_app_added_to_the_setting_is_migrated_into_the_shared_schema():
    assert migrations_alias("authtoken") == SHARED_MIGRATIONS_DB
    assert router.allow_migrate(SHARED_MIGRATIONS_DB, "authtoken") is True
    assert router.allow_migrate(SERVICE_DB, "authtoken") is False
    assert migrations_alias("intake") == SERVICE_DB


@override_settings(SSO_SHARED_APP_LABELS=["authtoken"])
def test_the_apps_of_the_login_stay_shared_whatever_the_setting_leaves_out():
    for label in SHARED_APP_LABELS:
        assert migrations_alias(label) == SHARED_MIGRATIONS_DB


def test_every_relation_is_allowed_all_tables_being_in_one_database():
    user, group = get_user_model()(), Group()
    assert django_router.allow_relation(user, group) is True
