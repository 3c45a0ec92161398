"""The check sso_shared.E004: foreign keys from one database into the other, found before migrate.

Django REST framework's token app is the real case (its Token points at the user);
models defined here cover the other shapes. The same check runs for real in
system_a/tests/test_third_party_apps.py, through both services' manage.py.
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

from sso_shared.checks import CROSS_DATABASE_TAG, no_foreign_keys_across_databases
from sso_shared.cross_database_keys import cross_database_keys
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
        f"{key.source._meta.label}.{key.field.name} -> {key.target._meta.label}" for key in cross_database_keys(defined)
    ]


def test_the_shared_apps_alone_have_none():
    assert cross_database_keys() == []
    assert checks.run_checks(tags=[CROSS_DATABASE_TAG]) == []


def test_drf_tokens_in_the_service_database_are_an_error_naming_the_model_the_app_and_both_fixes():
    with drf_tokens_installed():
        [error] = checks.run_checks(tags=[CROSS_DATABASE_TAG])
    assert (error.id, error.level, str(error.obj)) == ("sso_shared.E004", checks.ERROR, "authtoken.Token.user")
    assert error.msg == (
        "Model authtoken.Token of app 'authtoken' (rest_framework.authtoken) lives in this service's own database, "
        "and has a database-level foreign key to sso_shared.User in the shared database. PostgreSQL has no "
        'foreign keys across databases: migrate fails with relation "sso_user" does not exist.'
    )
    assert error.hint.startswith(
        "Either share the app 'authtoken' (rest_framework.authtoken) in both services: add \"authtoken\" to "
        "SSO_SHARED_APP_LABELS in sso_shared/settings.py"
    )
    assert "Or, if the model is your own, declare the field with db_constraint=False" in error.hint


def test_drf_tokens_shared_are_fine():
    with drf_tokens_installed(SSO_SHARED_APP_LABELS=[*settings.SSO_SHARED_APP_LABELS, "authtoken"]):
        assert checks.run_checks(tags=[CROSS_DATABASE_TAG]) == []


def test_the_check_is_a_plain_one_so_migrate_runs_it_first():
    """migrate runs every check without the database tag (unless --skip-checks)."""
    assert no_foreign_keys_across_databases in checks.registry.registry.get_checks()
    assert checks.Tags.database not in no_foreign_keys_across_databases.tags


@isolate_apps(*SHARED_AND_OWN)
def test_a_key_without_a_database_constraint_is_fine_as_the_project_s_own_models_have():
    class Person(models.Model):
        class Meta:
            app_label = "sessions"

    class Note(models.Model):
        author = models.ForeignKey(Person, on_delete=models.DO_NOTHING, db_constraint=False)
        readers = models.ManyToManyField(Person, related_name="+", db_constraint=False)

        class Meta:
            app_label = "messages"

    assert found(Person, Note) == []


@isolate_apps(*SHARED_AND_OWN)
def test_one_to_one_and_many_to_many_tables_are_found():
    class Person(models.Model):
        class Meta:
            app_label = "sessions"

    class Profile(models.Model):
        person = models.OneToOneField(Person, on_delete=models.CASCADE)
        watchers = models.ManyToManyField(Person, related_name="watched")

        class Meta:
            app_label = "messages"

    assert found(Person, Profile) == [
        "messages.Profile.person -> sessions.Person",
        "messages.Profile.watchers -> sessions.Person",
    ]
    many_to_many = cross_database_keys([Profile])[1].as_check_message()
    assert "and the table of its many-to-many field 'watchers' has a database-level foreign key" in many_to_many.msg


@isolate_apps(*SHARED_AND_OWN)
def test_an_explicit_through_model_is_checked_by_its_own_keys():
    class Person(models.Model):
        class Meta:
            app_label = "sessions"

    class Team(models.Model):
        members = models.ManyToManyField(Person, through="Membership")

        class Meta:
            app_label = "messages"

    class Membership(models.Model):
        team = models.ForeignKey(Team, on_delete=models.CASCADE)
        person = models.ForeignKey(Person, on_delete=models.CASCADE)

        class Meta:
            app_label = "messages"

    assert found(Person, Team, Membership) == ["messages.Membership.person -> sessions.Person"]


@isolate_apps(*SHARED_AND_OWN)
def test_a_shared_model_pointing_into_a_service_app_says_to_share_that_app():
    class Ticket(models.Model):
        class Meta:
            app_label = "messages"

    class Stamp(models.Model):
        ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)

        class Meta:
            app_label = "sessions"

    [key] = cross_database_keys([Ticket, Stamp])
    assert key.app_to_share.label == "messages"
    message = key.as_check_message()
    assert (
        "lives in the shared database, and has a database-level foreign key to messages.Ticket in this " in message.msg
    )
    assert message.hint.startswith("Either share the app 'messages' (django.contrib.messages) in both services")


@isolate_apps(*SHARED_AND_OWN)
def test_models_without_a_table_of_their_own_are_skipped():
    class Person(models.Model):
        class Meta:
            app_label = "sessions"

    class Legacy(models.Model):
        person = models.ForeignKey(Person, on_delete=models.DO_NOTHING)

        class Meta:
            app_label = "messages"
            managed = False

    assert found(Person, Legacy) == []
