"""A Django project nobody here wrote, added with `./stack add-service`, runs under the one login.

The project is a Wagtail site made at test time by Wagtail's own project template (`wagtail start`,
Wagtail 7.0 LTS, which supports the site's Django): its own admin, foreign keys to users, groups,
permissions and content types, static files, and images uploaded to its media folder. It is added to
the running native stack as service "wiki", used, backed up, wiped and restored, then removed again.
The tests run in this file's order and share the one service.
"""

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from sso_shared.environment.envfile import read_env_file

from ..client import SiteClient
from ..conftest import BASE_URL, ROOT, STACK, VERIFY, manage, new_password, unique

WAGTAIL = "wagtail==7.0.10"
NAME = "wiki"
DECLARATION = ROOT / "services.toml"


def stack(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], capture_output=True, text=True, timeout=timeout)


def git_status() -> list[str]:
    return subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def superuser_connection():
    password = read_env_file(os.environ["E2E_ENV_FILE"])["POSTGRES_PASSWORD"]
    connection = psycopg2.connect(
        host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user="postgres", password=password, dbname="sso"
    )
    connection.autocommit = True
    return connection


@pytest.fixture(scope="module")
def wagtail_project():
    """A fresh Wagtail site from its own template, in a folder the service's OS user may read."""
    folder = Path(tempfile.mkdtemp(prefix="sso-wagtail-"))
    folder.chmod(0o755)
    tools = folder / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
    subprocess.run([tools / "bin" / "pip", "install", "-q", WAGTAIL], check=True, capture_output=True)
    site = folder / "site"
    site.mkdir()
    subprocess.run([tools / "bin" / "wagtail", "start", "wikisite", str(site)], check=True, capture_output=True)
    shutil.rmtree(tools)
    yield site
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def before():
    """The declaration and git's view of the checkout before anything was added."""
    return DECLARATION.read_bytes(), git_status()


@pytest.fixture(scope="module")
def wiki(wagtail_project, before):
    declaration, _ = before
    try:
        added = stack("add-service", NAME, str(wagtail_project), "--settings", "wikisite.settings.production",
                      "--title", "The wiki")  # fmt: skip
        assert added.returncode == 0, added.stderr
        yield wagtail_project
    finally:
        if DECLARATION.read_bytes() != declaration:
            stack("remove-service", NAME, "--volumes")
            DECLARATION.write_bytes(declaration)


def test_a_project_asking_for_another_django_is_refused_and_nothing_is_declared(wagtail_project, before, tmp_path):
    newer = tmp_path / "requirements-newer-django.txt"
    newer.write_text("Django>=6.1,<6.2\nwagtail>=8.0,<8.1\n")
    refused = stack("add-service", "wikinew", str(wagtail_project), "--requirements", str(newer))
    assert refused.returncode != 0
    assert f"{newer} asks for Django<6.2,>=6.1, and the site runs Django 5.2." in refused.stderr
    assert "Nothing was changed." in refused.stderr
    assert DECLARATION.read_bytes() == before[0]


def test_a_user_logged_in_on_a_opens_it_and_its_admin_and_logging_out_on_a_logs_out_of_it(wiki):
    username, password = unique("editor"), new_password()
    manage("a", "createsuperuser", "--noinput", "--username", username, "--email", f"{username}@example.com",
           env={"DJANGO_SUPERUSER_PASSWORD": password})  # fmt: skip
    browser = SiteClient(BASE_URL, verify=VERIFY)
    assert browser.login(username, password).status_code == 302
    assert browser.whoami(NAME) == {"service": NAME, "authenticated": True, "username": username}
    home = browser.get(f"/{NAME}/")
    assert home.status_code == 200 and "Welcome to your new Wagtail site!" in home.text
    admin = browser.get(f"/{NAME}/admin/")
    assert admin.status_code == 200 and admin.url.endswith(f"/{NAME}/admin/")
    assert "Dashboard" in admin.text and username in admin.text
    # The admin's own stylesheets and scripts, as its page names them: under /wiki/static/.
    assets = re.findall(r'(?:href|src)="(/[^"]*wagtailadmin/[^"]*\.(?:css|js))"', admin.text)
    assert assets and all(asset.startswith(f"/{NAME}/static/") for asset in assets), assets
    for asset in assets[:3]:
        served = browser.get(asset)
        assert served.status_code == 200 and served.headers["Content-Type"].split(";")[0] in (
            "text/css",
            "application/javascript",
        )

    assert browser.logout("a").status_code == 302
    assert browser.whoami(NAME)["authenticated"] is False
    again = browser.get(f"/{NAME}/admin/", allow_redirects=False)
    assert again.status_code == 302 and f"/{NAME}/sso/admin-login/" in again.headers["Location"]
    login = browser.get(again.headers["Location"], allow_redirects=False)
    assert login.headers["Location"] == f"/a/accounts/login/?next=/{NAME}/admin/"


def test_a_logged_in_user_without_admin_rights_gets_a_page_saying_so_not_a_loop(wiki, make_user):
    # Made in A's admin after the wiki was added: A's workers know it, so the user may use it (access: everyone).
    username, password = make_user("reader")
    browser = SiteClient(BASE_URL, verify=VERIFY)
    assert browser.login(username, password).status_code == 302
    assert browser.get(f"/{NAME}/").status_code == 200
    for admin in (f"/{NAME}/admin/", f"/{NAME}/django-admin/"):
        answer = browser.get(admin)
        assert answer.status_code == 403, admin
        assert len(answer.history) == 1  # one redirect, to the page that says so
        assert "No access to the admin of The wiki" in answer.text


def test_its_rows_point_at_users_groups_permissions_and_content_types_with_real_constraints(wiki):
    with superuser_connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.confrelid::regclass::text FROM pg_catalog.pg_constraint c"
            " JOIN pg_catalog.pg_class t ON t.oid = c.conrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
            " WHERE c.contype = 'f' AND n.nspname = %s AND c.confrelid::regclass::text LIKE 'shared.%%'",
            [f"system_{NAME}"],
        )
        targets = {row[0] for row in cursor.fetchall()}
    assert targets >= {"shared.sso_user", "shared.auth_group", "shared.auth_permission", "shared.django_content_type"}


def test_a_and_b_do_not_install_its_apps(wiki):
    for service in ("a", "b"):
        installed = manage(
            service, "shell", "-v", "0", "-c", "from django.apps import apps; print(apps.is_installed('wagtail'))"
        )
        assert installed.strip() == "False"
    with superuser_connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname FROM pg_catalog.pg_tables WHERE tablename = 'wagtailcore_page' ORDER BY schemaname"
        )
        assert cursor.fetchall() == [(f"system_{NAME}",)]


def test_only_the_declaration_changed_in_the_checkout(wiki, before):
    _, status = before
    assert sorted(git_status()) == sorted({*status, " M services.toml"})


UPLOAD = """
import io
from PIL import Image as Picture
from django.core.files.images import ImageFile
from wagtail.images.models import Image
drawn = io.BytesIO()
Picture.new("RGB", (3, 2), (200, 30, 30)).save(drawn, "PNG")
image = Image.objects.create(title="dot", file=ImageFile(io.BytesIO(drawn.getvalue()), name="dot.png"))
print(image.file.url)
"""


def test_its_media_file_survives_backup_wipe_and_restore(wiki, tmp_path):
    url = manage(NAME, "shell", "-v", "0", "-c", UPLOAD).strip()
    assert url.startswith(f"/{NAME}/media/original_images/dot")
    served = requests.get(BASE_URL.rstrip("/") + url, timeout=10, verify=VERIFY)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    picture = served.content

    backup = tmp_path / "site.tar"
    taken = stack("backup", str(backup))
    assert taken.returncode == 0, taken.stderr
    wiped = stack("down", "--volumes")
    assert wiped.returncode == 0, wiped.stderr
    restored = stack("restore", str(backup))
    assert restored.returncode == 0, restored.stderr

    again = requests.get(BASE_URL.rstrip("/") + url, timeout=10, verify=VERIFY)
    assert again.status_code == 200 and again.content == picture


def test_remove_service_leaves_the_other_services_running(wiki, before):
    username, password = unique("stayer"), new_password()
    manage("a", "createsuperuser", "--noinput", "--username", username, "--email", f"{username}@example.com",
           env={"DJANGO_SUPERUSER_PASSWORD": password})  # fmt: skip
    browser = SiteClient(BASE_URL, verify=VERIFY)
    assert browser.login(username, password).status_code == 302
    answers: list[int] = []

    def keep_asking(stop_at: float) -> None:
        while time.monotonic() < stop_at:
            for service in ("a", "b"):
                answers.append(requests.get(f"{BASE_URL}{service}/health", timeout=10, verify=VERIFY).status_code)
            time.sleep(0.05)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        asking = pool.submit(keep_asking, time.monotonic() + 15)
        removed = stack("remove-service", NAME)
        asking.result()
    assert removed.returncode == 0, removed.stderr
    assert answers and set(answers) == {200}
    assert browser.whoami("a")["username"] == username and browser.whoami("b")["username"] == username
    assert browser.get(f"/{NAME}/").status_code == 404
    assert DECLARATION.read_bytes() == before[0]
    assert sorted(git_status()) == sorted(before[1])
    # Its data is kept until --volumes.
    with superuser_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = %s", [f"system_{NAME}"])
        assert cursor.fetchone() == (1,)
