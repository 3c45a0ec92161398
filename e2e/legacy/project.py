"""Two real legacy Django 5.2 projects, as the people adopting our product have them.

Each is written to a folder of its own: ``settings.py`` with its own SECRET_KEY
(read from ``secret_key.txt``), SQLite, Django's default ``auth.User`` with
integer primary keys, the ``db`` session engine, and one app with a model owned
by a user (``intake.Request`` or ``review.Review``, the same fields as the app of
the service the project becomes, plus a permission our service does not have).
``populate.py`` runs inside the project (``python populate.py spec.json``): it
creates groups, users and records and logs users in with Django's test client,
which writes real sessions and hands back the real cookie values.
"""

import json
import secrets
import subprocess
import sys
from pathlib import Path

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = (BASE_DIR / "secret_key.txt").read_text().strip()
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "{app}",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
"""

MODELS = {
    "intake": """\
from django.conf import settings
from django.db import models


class Request(models.Model):
    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("export_request", "Can export requests")]
""",
    "review": """\
from django.conf import settings
from django.db import models


class Review(models.Model):
    subject = models.CharField(max_length=200)
    verdict = models.CharField(max_length=20, default="approved")
    note = models.TextField(blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("publish_review", "Can publish reviews")]
""",
}
RECORD_FIELDS = {"intake": ("title", "owner"), "review": ("subject", "reviewer")}

POPULATE = """\
import json
import os
import sys
from datetime import datetime, timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django

django.setup()
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client

spec = json.load(open(sys.argv[1]))
app = spec["app"]
Record = apps.get_app_config(app).get_models().__next__()
title_field, owner_field = spec["record_fields"]
# Rows a crafted source may hold: a permission of an app it does not have (app_label, model, codename).
for app_label, model, codename in spec.get("crafted_permissions", []):
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": codename})
for name, permissions in spec["groups"].items():
    group = Group.objects.create(name=name)
    for permission in permissions:
        app_label, codename = permission.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
cookies = {}
for person in spec["users"]:
    user = User.objects.create_user(
        person["username"], person.get("email", ""), person["password"], pk=person.get("pk"),
        is_superuser=person.get("superuser", False), is_staff=person.get("superuser", False),
    )
    user.groups.set(Group.objects.filter(name__in=person.get("groups", [])))
    for title in person.get("records", []):
        Record.objects.create(**{title_field: title, owner_field: user})
    if person.get("logged_in"):
        client = Client()
        assert client.login(username=person["username"], password=person["password"])
        cookies[person["username"]] = client.cookies[settings.SESSION_COOKIE_NAME].value
    if person.get("last_login"):
        User.objects.filter(pk=user.pk).update(last_login=datetime.fromisoformat(person["last_login"]))
print(json.dumps({"cookies": cookies, "pks": {u.username: u.pk for u in User.objects.all()}}))
"""


class LegacyProject:
    def __init__(self, folder: Path, app: str):
        self.folder = folder
        self.app = app
        self.database = folder / "db.sqlite3"
        self.secret_key_file = folder / "secret_key.txt"
        self.cookies: dict[str, str] = {}
        self.pks: dict[str, int] = {}

    def run(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, *args], cwd=self.folder, capture_output=True, text=True, input=stdin, timeout=120
        )
        assert result.returncode == 0, f"legacy project: {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    def dumpdata(self) -> list[dict]:
        return json.loads(self.run("manage.py", "dumpdata", self.app))


def build(folder: Path, app: str, groups: dict, users: list[dict], crafted_permissions=()) -> LegacyProject:
    """Write the project, migrate its SQLite database, add groups, users, records and logged-in sessions."""
    package = folder / app
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS[app])
    (folder / "settings.py").write_text(SETTINGS.format(app=app))
    (folder / "urls.py").write_text("urlpatterns = []\n")
    (folder / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
        "from django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n"
    )
    (folder / "populate.py").write_text(POPULATE)
    project = LegacyProject(folder, app)
    project.secret_key_file.write_text(secrets.token_urlsafe(50) + "\n")
    project.secret_key_file.chmod(0o600)
    project.run("manage.py", "migrate", "--run-syncdb", "-v", "0")
    spec = folder / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "app": app,
                "record_fields": RECORD_FIELDS[app],
                "groups": groups,
                "users": users,
                "crafted_permissions": list(crafted_permissions),
            }
        )
    )
    made = json.loads(project.run("populate.py", str(spec)).strip().splitlines()[-1])
    project.cookies, project.pks = made["cookies"], made["pks"]
    return project
