"""The layer ./stack add-service puts on a Django project, and the checks it makes before declaring one."""

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import django
import pytest

from sso_shared.added_services import merge, project, requirements

SITE_REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
DJANGO = django.get_version()


def test_a_project_using_djangos_user_model_may_join():
    assert merge.own_user_model_refusal(None) is None
    assert merge.own_user_model_refusal("auth.User") is None


def test_a_user_model_of_its_own_is_refused_with_what_to_do():
    refusal = merge.own_user_model_refusal("accounts.Member")
    assert "AUTH_USER_MODEL = 'accounts.Member'" in refusal
    assert "profile model with a OneToOneField to settings.AUTH_USER_MODEL" in refusal
    assert "./stack adopt" in refusal


def test_the_shared_apps_and_middleware_come_first_and_nothing_twice():
    shared = ["sso_shared", "django.contrib.admin", "django.contrib.auth"]
    assert merge.merged_apps(shared, ["home", "django.contrib.auth", "wagtail"]) == [*shared, "home", "wagtail"]
    assert merge.merged_middleware(["a.M", "b.M"], ["b.M", "redirects.M"]) == ["a.M", "b.M", "redirects.M"]


def test_the_projects_templates_get_the_shared_context_processors_and_app_templates():
    own = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": ["/srv/wiki/templates"],
            "APP_DIRS": False,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ]
    [engine] = merge.merged_templates(own, ["django.template.context_processors.request", "sso.service"])
    assert engine["DIRS"] == ["/srv/wiki/templates"] and engine["APP_DIRS"] is True
    assert engine["OPTIONS"]["context_processors"] == ["django.template.context_processors.request", "sso.service"]
    assert own[0]["APP_DIRS"] is False  # the project's own settings are left as they were


def a_project(tmp_path: Path, settings_text: str = "", manage_default: str = "wiki.settings") -> Path:
    folder = tmp_path / "wiki_site"
    (folder / "wiki").mkdir(parents=True)
    (folder / "manage.py").write_text(
        f'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "{manage_default}")\n'
    )
    (folder / "wiki" / "__init__.py").write_text("")
    (folder / "wiki" / "settings.py").write_text(settings_text)
    (folder / "wiki" / "urls.py").write_text("urlpatterns = []\n")
    return folder


def test_the_settings_module_is_the_one_manage_py_names_unless_given(tmp_path):
    folder = a_project(tmp_path)
    assert project.inspect(folder) == (folder.resolve(), "wiki.settings")
    assert project.inspect(folder, "wiki.urls") == (folder.resolve(), "wiki.urls")
    with pytest.raises(project.NotAProject, match="the settings module wiki.production is not in"):
        project.inspect(folder, "wiki.production")
    with pytest.raises(project.NotAProject, match="holds no manage.py: give the folder of the Django project"):
        project.inspect(folder / "wiki")


def requirements_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return path


def test_requirements_that_allow_the_sites_pins_pass(tmp_path):
    major, minor, *_ = DJANGO.split(".")
    text = f"Django>={major}.{minor},<{major}.{int(minor) + 1}\nwagtail>=7.0,<7.1  # the CMS\n"
    assert requirements.refusals(requirements_file(tmp_path, text), SITE_REQUIREMENTS) == []


def test_another_django_feature_release_is_refused_by_name(tmp_path):
    path = requirements_file(tmp_path, "Django>=6.1,<6.2\nwagtail>=8.0,<8.1\n")
    [refusal] = requirements.refusals(path, SITE_REQUIREMENTS)
    assert refusal.startswith(f"{path} asks for Django<6.2,>=6.1, and the site runs Django {DJANGO}")
    assert "one Django, one feature release with one shared schema" in refusal
    assert f"for example Django=={DJANGO}" in refusal


def test_included_files_and_the_shared_package_are_checked_too(tmp_path):
    (tmp_path / "base.txt").write_text("sso-shared==9.9.9\n")
    path = requirements_file(tmp_path, "-r base.txt\nDjango<1.0 ; python_version < '3'\n")
    [refusal] = requirements.refusals(path, SITE_REQUIREMENTS)
    assert refusal.startswith(f"{tmp_path / 'base.txt'} asks for sso-shared==9.9.9")
    assert f"the site runs sso-shared {version('sso-shared')}" in refusal


def test_the_check_runs_as_add_service_runs_it(tmp_path):
    path = requirements_file(tmp_path, "Django>=6.1,<6.2\n")
    checked = subprocess.run(  # noqa: S603 (arguments written by the test)
        [sys.executable, "-m", "sso_shared.added_services.requirements", str(path), str(SITE_REQUIREMENTS)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 1
    assert checked.stderr.startswith(f"error: {path} asks for Django<6.2,>=6.1")


def layer_settings(tmp_path: Path, settings_text: str, *expressions: str) -> subprocess.CompletedProcess:
    """Load the layer for a project declared as service wiki, in a Python of its own, and print EXPRESSIONS."""
    folder = a_project(tmp_path, settings_text)
    declaration = tmp_path / "services.toml"
    declaration.write_text(
        (SITE_REQUIREMENTS.parent / "services.toml").read_text()
        + f'\n[services.wiki]\ntitle = "The wiki"\nproject = "{folder}"\nsettings = "wiki.settings"\n'
        'requirements = "requirements.txt"\nlayer = true\n'
    )
    script = "import json, django\nfrom django.conf import settings\ndjango.setup()\n"
    script += f"print(json.dumps([{', '.join(expressions)}]))\n"
    env = {
        **os.environ,
        "SSO_SERVICES_FILE": str(declaration),
        "SSO_SERVICE": "wiki",
        "DJANGO_SETTINGS_MODULE": "sso_shared.added_services.settings",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    return subprocess.run(  # noqa: S603 (a script written by the test)
        [sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True
    )


WIKI_SETTINGS = """
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.humanize"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware", "wiki.middleware.Redirects"]
ROOT_URLCONF = "wiki.urls"
SESSION_COOKIE_NAME = "wiki_session"
SECRET_KEY = "the project's own key, never used"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
"""


def test_the_layer_puts_the_shared_settings_on_the_projects_own(tmp_path):
    loaded = layer_settings(
        tmp_path,
        WIKI_SETTINGS,
        "settings.SESSION_COOKIE_NAME",
        "settings.AUTH_USER_MODEL",
        "settings.SECRET_KEY == 'the project\\'s own key, never used'",
        "settings.DEFAULT_AUTO_FIELD",
        "settings.ROOT_URLCONF",
        "settings.SSO_PROJECT_URLCONF",
        "settings.FORCE_SCRIPT_NAME",
        "settings.STATIC_URL",
        "settings.MEDIA_URL",
        "[settings.INSTALLED_APPS[0], settings.INSTALLED_APPS[-1]]",
        "settings.MIDDLEWARE[-1]",
        "settings.WAGTAILADMIN_LOGIN_URL",
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == [
        "sso_sessionid",  # the one session cookie
        "sso_shared.User",
        False,  # the site's key
        "django.db.models.AutoField",  # what the project's migrations were made with
        "sso_shared.added_services.urls",
        "wiki.urls",
        "/wiki",
        "/wiki/static/",
        "/wiki/media/",
        ["sso_shared", "django.contrib.humanize"],  # the shared apps first, then the project's own
        "wiki.middleware.Redirects",
        "sso_admin_login",
    ]


def test_the_layer_refuses_a_user_model_of_its_own_at_once(tmp_path):
    loaded = layer_settings(tmp_path, WIKI_SETTINGS + 'AUTH_USER_MODEL = "accounts.Member"\n', "1")
    assert loaded.returncode != 0
    assert "ImproperlyConfigured: service wiki: the project sets AUTH_USER_MODEL = 'accounts.Member'" in loaded.stderr


@pytest.mark.django_db(databases="__all__")
def test_a_service_declared_later_is_given_by_its_access_rule_once(settings):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from sso_shared.access.service_access import access_group_name, may_use, provide_access_groups

    users = get_user_model().objects
    carol, dave = users.create_user("carol-w", password="x" * 20), users.create_user("dave-w", password="x" * 20)
    dave.groups.add(Group.objects.create(name="Editors"))
    wiki = {"title": "The wiki", "access": "everyone"}
    docs = {"title": "The docs", "access": "group:Editors"}
    settings.SSO_SERVICES = {**settings.SSO_SERVICES, "wiki": wiki, "docs": docs}

    provide_access_groups()
    carol, dave = users.get(pk=carol.pk), users.get(pk=dave.pk)
    assert may_use(carol, "wiki") and may_use(dave, "wiki")  # everyone there is
    assert may_use(dave, "docs") and not may_use(carol, "docs")  # the members of Editors
    assert not Group.objects.get(name=access_group_name("docs")).user_set.exists()

    # Made once: an administrator's choice afterwards stays.
    Group.objects.get(name=access_group_name("wiki")).user_set.remove(carol)
    provide_access_groups()
    assert not may_use(users.get(pk=carol.pk), "wiki")
