"""remove_stale_contenttypes in a content-type table another service (System B, app 'review') shares."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management.commands import remove_stale_contenttypes as django_command
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import ServiceFingerprint

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def b_review():
    """B's model, as B's migrate left it in the shared database, with a group granting it."""
    content_type = ContentType.objects.create(app_label="review", model="review")
    permission = Permission.objects.create(content_type=content_type, codename="view_review", name="Can view review")
    Group.objects.create(name="Reviewers").permissions.add(permission)
    return content_type


@pytest.fixture
def b_recorded():
    ServiceFingerprint.objects.create(service="system_b", fingerprint={}, app_labels=["review"])


def review_permissions():
    return list(Permission.objects.filter(content_type__app_label="review").values_list("codename", flat=True))


def test_djangos_own_command_deletes_the_other_services_permissions(b_review, b_recorded):
    """The pitfall itself: B's model is unknown here, so Django calls it stale."""
    call_command(django_command.Command(), include_stale_apps=True, interactive=False, database=SHARED_DB)
    assert review_permissions() == []
    assert not Group.objects.get(name="Reviewers").permissions.exists()


def test_the_guarded_command_keeps_them_and_says_why(b_review, b_recorded, capsys):
    call_command("remove_stale_contenttypes", include_stale_apps=True, interactive=False)
    assert review_permissions() == ["view_review"]
    assert Group.objects.get(name="Reviewers").permissions.count() == 1
    assert (
        "Keeping the content types of app 'review': they belong to system_b. "
        "Run remove_stale_contenttypes from system_b to clean them.\n"
    ) in capsys.readouterr().out


def test_the_guarded_command_still_removes_what_is_really_stale(b_review, b_recorded):
    ContentType.objects.create(app_label="sso_shared", model="retired")
    ContentType.objects.create(app_label="uninstalled", model="gone")
    call_command("remove_stale_contenttypes", include_stale_apps=True, interactive=False)
    remaining = set(ContentType.objects.values_list("app_label", "model"))
    assert ("sso_shared", "retired") not in remaining
    assert ("uninstalled", "gone") not in remaining
    assert ("review", "review") in remaining


def test_without_include_stale_apps_only_this_services_apps_are_considered(b_review):
    ContentType.objects.create(app_label="uninstalled", model="gone")
    call_command("remove_stale_contenttypes", interactive=False)
    assert {("review", "review"), ("uninstalled", "gone")} <= set(ContentType.objects.values_list("app_label", "model"))


def test_include_stale_apps_is_refused_while_the_other_service_has_not_recorded_its_apps(b_review):
    with pytest.raises(CommandError, match="Refusing --include-stale-apps: system_b has not recorded its app labels"):
        call_command("remove_stale_contenttypes", include_stale_apps=True, interactive=False)
    assert review_permissions() == ["view_review"]


def test_answering_no_keeps_everything(b_recorded, monkeypatch, capsys):
    ContentType.objects.create(app_label="sso_shared", model="retired")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    call_command("remove_stale_contenttypes", include_stale_apps=True)
    assert ContentType.objects.filter(app_label="sso_shared", model="retired").exists()
    assert "    - Content type for sso_shared.retired" in capsys.readouterr().out
