"""Which database each model lives in, and what may migrate where."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session as DjangosSession
from django.test import override_settings

from sso_shared.models import ServiceFingerprint, Session
from sso_shared.routers import SERVICE_DB, SHARED_APP_LABELS, SHARED_DB, SharedAuthRouter, database_for_label

router = SharedAuthRouter()


@pytest.mark.parametrize(
    "model", [get_user_model(), Group, Permission, ContentType, Session, DjangosSession, LogEntry, ServiceFingerprint]
)
def test_shared_models_read_and_write_the_shared_database(model):
    assert router.db_for_read(model) == SHARED_DB
    assert router.db_for_write(model) == SHARED_DB


@pytest.mark.parametrize("label", ["intake", "review", "anything_else"])
def test_service_apps_live_in_the_service_database(label):
    assert database_for_label(label) == SERVICE_DB


@pytest.mark.parametrize("label", ["admin", "auth", "contenttypes", "sessions", "sso_shared", "sso_adoption"])
def test_shared_apps_migrate_only_on_the_shared_database(label):
    assert router.allow_migrate(SHARED_DB, label) is True
    assert router.allow_migrate(SERVICE_DB, label) is False


def test_service_apps_migrate_only_on_the_service_database():
    assert router.allow_migrate(SERVICE_DB, "intake") is True
    assert router.allow_migrate(SHARED_DB, "intake") is False


def test_the_shared_labels_are_a_setting_defined_once_for_both_services():
    from sso_shared import settings as shared_settings

    # The login's own apps, the lockout's records (django-axes), so a lock holds on every service, and
    # each user's second factors (django-otp, django-otp-webauthn), which the login on A checks.
    second_factors = {"otp_totp", "otp_static", "django_otp_webauthn"}
    assert set(shared_settings.SSO_SHARED_APP_LABELS) == SHARED_APP_LABELS | {"axes"} | second_factors


@override_settings(SSO_SHARED_APP_LABELS=[*SHARED_APP_LABELS, "authtoken"])
def test_an_app_added_to_the_setting_lives_and_migrates_in_the_shared_database():
    assert database_for_label("authtoken") == SHARED_DB
    assert router.allow_migrate(SHARED_DB, "authtoken") is True
    assert router.allow_migrate(SERVICE_DB, "authtoken") is False
    assert database_for_label("intake") == SERVICE_DB


@override_settings(SSO_SHARED_APP_LABELS=["authtoken"])
def test_the_apps_of_the_login_stay_shared_whatever_the_setting_leaves_out():
    for label in SHARED_APP_LABELS:
        assert database_for_label(label) == SHARED_DB


class _Stub:
    def __init__(self, db):
        self._state = type("State", (), {"db": db})()


def test_relations_between_a_service_row_and_the_shared_user_are_allowed():
    assert router.allow_relation(_Stub(SERVICE_DB), _Stub(SHARED_DB)) is True


def test_relations_to_an_unknown_database_are_refused():
    assert router.allow_relation(_Stub(SERVICE_DB), _Stub("legacy")) is False
