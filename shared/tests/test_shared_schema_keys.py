"""The check sso_shared.E006: foreign keys out of the shared schema, found before migrate.

In one database with a schema per service, a service's model (or a third-party
app installed in one service, such as Django REST framework's tokens) points at
the user with a real constraint: nothing to report. Only a shared model pointing
into one service's schema cannot be. Models defined here cover the shapes.
"""

# The models below exist only inside one test each and are never shown: no __str__.
# ruff: noqa: DJ008

from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from sso_shared.agreement.checks import SHARED_SCHEMA_KEYS_TAG, no_foreign_keys_out_of_the_shared_schema
from sso_shared.database.shared_schema_keys import keys_out_of_shared_schema
from sso_shared.settings import SHARED_APPS

# Without the admin: DRF's admin module registers its TokenProxy in the one global admin
# site, where it would outlive these tests.
WITH_DRF_TOKENS = [*(app for app in SHARED_APPS if app != "django.contrib.admin"), "rest_framework"]
WITH_DRF_TOKENS += ["rest_framework.authtoken"]
# In these tests "sessions" stands for any shared app and "messages" for any app of the service.
SHARED_AND_OWN = ("django.contrib.sessions", "django.contrib.messages")


@contextmanager
def drf_tokens_installed(**other_settings):
    """DRF's token models read INSTALLED_APPS when first imported (abstract unless installed):
    the setting must change before the registry loads them, the other way round from override_settings."""
    with override_settings(**other_settings):
        settings.INSTALLED_APPS = WITH_DRF_TOKENS  # on the override, gone when it ends
        apps.set_installed_apps(WITH_DRF_TOKENS)
        try:
            yield
        finally:
            apps.unset_installed_apps()


def found(*defined) -> list[str]:
    return [
        f"{key.source._meta.label}.{key.field.name} -> {key.target._meta.label}"
        for key in keys_out_of_shared_schema(defined)
    ]


def test_the_shared_apps_alone_have_none():
    assert keys_out_of_shared_schema() == []
    assert checks.run_checks(tags=[SHARED_SCHEMA_KEYS_TAG]) == []


def test_drf_tokens_installed_in_one_service_are_fine():
    """Its Token points at the shared user from the service's schema: a real foreign key, no error."""
    with drf_tokens_installed():
        assert checks.run_checks(tags=[SHARED_SCHEMA_KEYS_TAG]) == []


def test_drf_tokens_shared_are_fine_too():
    with drf_tokens_installed(SSO_SHARED_APP_LABELS=[*settings.SSO_SHARED_APP_LABELS, "authtoken"]):
        assert checks.run_checks(tags=[SHARED_SCHEMA_KEYS_TAG]) == []


def test_the_check_is_a_plain_one_so_migrate_runs_it_first():
    """migrate runs every check without the database tag (unless --skip-checks)."""
    assert no_foreign_keys_out_of_the_shared_schema in checks.registry.registry.get_checks()
    assert checks.Tags.database not in no_foreign_keys_out_of_the_shared_schema.tags


@isolate_apps(*SHARED_AND_OWN)
def test_a_service_model_pointing_at_a_shared_one_is_fine():
    class Person(models.Model):
        class Meta:
            app_label = "sessions"

    class Profile(models.Model):
        person = models.OneToOneField(Person, on_delete=models.CASCADE)
        watchers = models.ManyToManyField(Person, related_name="watched")

        class Meta:
            app_label = "messages"

    assert found(Person, Profile) == []


@isolate_apps(*SHARED_AND_OWN)
def test_a_shared_model_pointing_into_a_service_app_is_an_error_naming_both_fixes():
    class Ticket(models.Model):
        class Meta:
            app_label = "messages"

    class Stamp(models.Model):
        ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)

        class Meta:
            app_label = "sessions"

    [key] = keys_out_of_shared_schema([Ticket, Stamp])
    message = key.as_check_message()
    assert (message.id, message.level, str(message.obj)) == ("sso_shared.E006", checks.ERROR, "sessions.Stamp.ticket")
    assert message.msg == (
        "Model sessions.Stamp of app 'sessions' (django.contrib.sessions) lives in the shared schema "
        "(SSO_SHARED_APP_LABELS), and has a database-level foreign key to messages.Ticket of 'messages', an app of "
        "this service only, in this service's schema. The shared schema may point only at shared tables: every "
        "service reads it."
    )
    assert message.hint.startswith("Install 'sessions' in the one service that needs it")
    assert "or share 'messages' too" in message.hint


@isolate_apps(*SHARED_AND_OWN)
def test_many_to_many_tables_and_explicit_through_models_are_found():
    class Ticket(models.Model):
        class Meta:
            app_label = "messages"

    class Board(models.Model):
        tickets = models.ManyToManyField(Ticket, related_name="boards")

        class Meta:
            app_label = "sessions"

    class Pin(models.Model):
        board = models.ForeignKey(Board, on_delete=models.CASCADE)
        ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)

        class Meta:
            app_label = "sessions"

    assert found(Ticket, Board, Pin) == [
        "sessions.Board.tickets -> messages.Ticket",
        "sessions.Pin.ticket -> messages.Ticket",
    ]
    many_to_many = keys_out_of_shared_schema([Board])[0].as_check_message()
    assert "and the table of its many-to-many field 'tickets' has a database-level foreign key" in many_to_many.msg


@isolate_apps(*SHARED_AND_OWN)
def test_keys_without_a_constraint_and_models_without_a_table_are_skipped():
    class Ticket(models.Model):
        class Meta:
            app_label = "messages"

    class Note(models.Model):
        ticket = models.ForeignKey(Ticket, on_delete=models.DO_NOTHING, db_constraint=False)

        class Meta:
            app_label = "sessions"

    class Legacy(models.Model):
        ticket = models.ForeignKey(Ticket, on_delete=models.DO_NOTHING)

        class Meta:
            app_label = "sessions"
            managed = False

    assert found(Ticket, Note, Legacy) == []
