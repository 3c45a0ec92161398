"""Django's own commands that act on users or sessions work unchanged, with no --database.

"default" is the one connection (docs/service-code.md), and it sees the shared
schema after the service's own: stock createsuperuser, changepassword, dumpdata,
loaddata and clearsessions reach the shared users and sessions.
"""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from sso_shared.database.routers import SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB
from sso_shared.models import Session

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
User = get_user_model()


def test_createsuperuser_creates_the_shared_user(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    call_command("createsuperuser", interactive=False, username="root", email="root@example.org", stdout=StringIO())
    user = User.objects.using(SHARED_DB).get(username="root")
    assert user.is_superuser
    assert user.check_password("a-long-password-1")


def test_changepassword_changes_the_shared_users_password(monkeypatch):
    User.objects.create_user("dora", password="the-old-password-1")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "the-new-password-2")
    out = StringIO()
    call_command("changepassword", "dora", stdout=out)
    assert "Password changed successfully for user 'dora'" in out.getvalue()
    assert User.objects.using(SHARED_DB).get(username="dora").check_password("the-new-password-2")


def test_dumpdata_of_auth_holds_the_shared_users_and_groups():
    User.objects.create_user("erin", password="a-long-password-1")
    out = StringIO()
    call_command("dumpdata", "sso_shared.user", "auth.group", stdout=out)
    dumped = json.loads(out.getvalue())
    assert "erin" in {row["fields"]["username"] for row in dumped if row["model"] == "sso_shared.user"}
    assert {row["model"] for row in dumped} == {"sso_shared.user", "auth.group"}


def test_loaddata_puts_each_object_in_the_database_that_holds_it(tmp_path):
    fixture = tmp_path / "people.json"
    fixture.write_text(
        json.dumps([{"model": "auth.group", "pk": 900, "fields": {"name": "Loaded from a fixture", "permissions": []}}])
    )
    out = StringIO()
    call_command("loaddata", str(fixture), stdout=out)
    assert Group.objects.using(SHARED_DB).filter(name="Loaded from a fixture").exists()
    assert "Installed 1 object(s)" in out.getvalue()


def test_clearsessions_clears_the_shared_session_table():
    expired = Session.objects.using(SHARED_DB).create(
        session_key="x" * 32, session_data="", expire_date=timezone.now() - timezone.timedelta(days=1)
    )
    call_command("clearsessions")
    assert not Session.objects.using(SHARED_DB).filter(pk=expired.pk).exists()


def test_the_aliases_are_what_the_docs_say():
    """docs/service-code.md: "default" is the one connection, "shared" only migrates the shared schema."""
    assert (SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB) == ("default", "default", "shared")
