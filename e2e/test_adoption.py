"""Two existing Django projects adopted into the running stack (native or Compose): issue 12.

Builds two real legacy Django 5.2 projects (e2e/legacy/project.py: SQLite, default
``auth.User`` with integer primary keys, their own SECRET_KEYs, a group with
permissions, records owned by users, users logged in with real session cookies),
adopts the first into A and the second into B with ``./stack adopt`` and checks
what their users and their browsers see. Everything made here has names of its
own (a random tag), so other tests and earlier runs are untouched.
"""

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from .client import SiteClient
from .conftest import BASE_URL, STACK, VERIFY, manage, new_password
from .legacy.project import build

TAG = secrets.token_hex(3)
SOURCE_A, SOURCE_B = f"test-{TAG}-a", f"test-{TAG}-b"
LEGACY_COOKIE = "sessionid"
ALICE_PK = 10**8 + secrets.randbelow(10**8)  # an old pk that is also a free username
ALICE, CAROL, BOTH, CLASH = (f"{name}-{TAG}" for name in ("alice", "carol", "both", "clash"))
NAMED_AFTER_PK = str(ALICE_PK)
CLERKS, REVIEWERS = f"Clerks {TAG}", f"Reviewers {TAG}"
PASSWORDS = {name: new_password() for name in (ALICE, CAROL, NAMED_AFTER_PK, "both-a", "both-b", "clash-a", "clash-b")}
RECORDS = [f"Laptop for {ALICE}", f"Desk for {ALICE}"]


def stack(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], capture_output=True, text=True, input=stdin, timeout=180)


def adopt(service: str, project, *more: str, source: str, key_file: Path | None = None):
    key = key_file or project.secret_key_file
    return stack(
        "adopt", service, "--from", str(project.database), "--secret-key-file", str(key), "--name", source, *more
    )


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def logs_in(username: str, password: str) -> bool:
    return SiteClient(BASE_URL, verify=VERIFY).login(username, password).status_code == 302


def user_id(username: str) -> str:
    code = (
        f"from django.contrib.auth import get_user_model; print(get_user_model().objects.get(username={username!r}).pk)"
    )
    return manage("a", "shell", "-v", "0", "-c", code).strip()


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    """Both projects adopted, with what each step printed and what users could do between the steps."""
    folder = tmp_path_factory.mktemp("legacy")
    seen = {}
    legacy_a = build(
        folder / "intake",
        "intake",
        {CLERKS: ["intake.add_request", "intake.view_request", "intake.export_request"]},
        [
            {"username": ALICE, "email": f"{ALICE}@example.com", "password": PASSWORDS[ALICE], "pk": ALICE_PK,
             "groups": [CLERKS], "records": RECORDS, "logged_in": True},
            {"username": NAMED_AFTER_PK, "password": PASSWORDS[NAMED_AFTER_PK], "pk": ALICE_PK + 1, "logged_in": True},
            {"username": CAROL, "email": f"{CAROL}@example.com", "password": PASSWORDS[CAROL], "logged_in": True},
            {"username": BOTH, "email": f"{BOTH}@example.com", "password": PASSWORDS["both-a"],
             "last_login": "2020-01-01T00:00:00+00:00"},
            {"username": CLASH, "email": f"{CLASH}@one.example", "password": PASSWORDS["clash-a"]},
        ],
    )  # fmt: skip
    not_django = folder / "notes.txt"
    not_django.write_text("not a database\n")
    seen["not django"] = stack(
        "adopt", "a", "--from", str(not_django), "--secret-key-file", str(legacy_a.secret_key_file)
    )
    wrong_key = folder / "wrong_key.txt"
    wrong_key.write_text(secrets.token_urlsafe(50))
    seen["wrong key"] = adopt("a", legacy_a, source=SOURCE_A, key_file=wrong_key)
    seen["dry run"] = adopt("a", legacy_a, "--dry-run", source=SOURCE_A)
    seen["alice before"] = logs_in(ALICE, PASSWORDS[ALICE])
    seen["adopt a"] = adopt("a", legacy_a, source=SOURCE_A)

    # The project's app data moves as the docs say: dumpdata there, then --load with --rewrite here (the
    # owner column is a real foreign key to the user: it holds once the old ids are rewritten).
    fixture = json.dumps([{**row, "pk": None} for row in legacy_a.dumpdata()])
    rewrite_a = ("adopt", "a", "--name", SOURCE_A, "--rewrite", "intake_request.owner_id")
    seen["load without rewrite"] = stack("adopt", "a", "--name", SOURCE_A, "--rewrite", "intake_request.title",
                                         "--load", "-", stdin=fixture)  # fmt: skip
    seen["rewrite"] = stack(*rewrite_a, "--load", "-", stdin=fixture)
    seen["rewrite again"] = stack(*rewrite_a)

    # The second project has a user named after alice's new id, so it is built now.
    alice_id = user_id(ALICE)
    legacy_b = build(
        folder / "review",
        "review",
        {REVIEWERS: ["review.add_review", "review.publish_review"]},
        [
            {"username": BOTH, "email": f"{BOTH}@EXAMPLE.com".upper(), "password": PASSWORDS["both-b"],
             "groups": [REVIEWERS], "records": ["A review"], "logged_in": True},
            {"username": CLASH, "email": f"{CLASH}@two.example", "password": PASSWORDS["clash-b"]},
            {"username": alice_id, "password": PASSWORDS[ALICE] + "x", "logged_in": True},
        ],
    )  # fmt: skip
    seen["adopt b refused"] = adopt("b", legacy_b, source=SOURCE_B)
    seen["both after refusal"] = logs_in(BOTH, PASSWORDS["both-b"])
    seen["named after uuid after refusal"] = logs_in(alice_id, PASSWORDS[ALICE] + "x")
    map_file = folder / "map.csv"
    map_file.write_text(f"{CLASH},{CLASH}-b\n")
    # Both projects are the site's own: the operator lets the review tool's users merged into users here
    # keep their newest password, their sessions and what the review tool grants them (docs/adopting.md).
    trusted = ("--take-passwords", "--take-sessions", "--merge-user-permissions")
    seen["adopt b"] = adopt("b", legacy_b, "--map", str(map_file), *trusted, source=SOURCE_B)
    seen["adopt b again"] = adopt("b", legacy_b, "--map", str(map_file), *trusted, source=SOURCE_B)
    yield {"a": legacy_a, "b": legacy_b, "seen": seen, "alice id": alice_id}

    # Leave nothing behind for other tests: the records go, the users become tombstones.
    users = [ALICE, CAROL, NAMED_AFTER_PK, BOTH, CLASH, f"{CLASH}-b", alice_id]
    manage(
        "a",
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from intake.models import Request; "
        f"Request.objects.filter(title__in={RECORDS!r}).delete(); "
        f"get_user_model().objects.filter(username__in={users!r}).delete()",
    )


def test_a_source_that_is_not_a_django_database_is_refused_clearly(adopted):
    result = adopted["seen"]["not django"]
    assert result.returncode != 0
    assert "is not a SQLite database" in result.stderr


def test_a_wrong_secret_key_stops_the_run_before_anything_is_written(adopted):
    result = adopted["seen"]["wrong key"]
    assert result.returncode != 0
    assert "3 of 3 unexpired sessions of the source do not verify with the SECRET_KEY" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert adopted["seen"]["alice before"] is False


def test_the_dry_run_prints_the_full_report_and_changes_nothing(adopted):
    result = adopted["seen"]["dry run"]
    assert result.returncode == 0, output(result)
    report = result.stdout
    assert (
        "Users: 5 in the source: 5 new, 0 one user with an existing user, 0 skipped, 0 adopted before, 0 clashes"
        in report
    )
    assert f"{CLERKS} (new): permissions to add: 2" in report
    assert f"intake.export_request: group {CLERKS}" in report
    assert "3 to carry over" in report
    assert report.rstrip().endswith("Dry run: nothing was changed.")
    # What the dry run showed did not happen: alice could not log in before the real run.
    assert adopted["seen"]["alice before"] is False


def test_every_adopted_user_logs_in_with_the_old_password(adopted):
    assert adopted["seen"]["adopt a"].returncode == 0, output(adopted["seen"]["adopt a"])
    assert adopted["seen"]["adopt b"].returncode == 0, output(adopted["seen"]["adopt b"])
    assert logs_in(ALICE, PASSWORDS[ALICE])
    assert logs_in(CAROL, PASSWORDS[CAROL])
    assert logs_in(NAMED_AFTER_PK, PASSWORDS[NAMED_AFTER_PK])
    assert logs_in(CLASH, PASSWORDS["clash-a"])
    assert logs_in(f"{CLASH}-b", PASSWORDS["clash-b"])
    assert logs_in(adopted["alice id"], PASSWORDS[ALICE] + "x")


def test_users_get_the_service_they_came_from(adopted):
    site = SiteClient(BASE_URL, verify=VERIFY)
    site.login(ALICE, PASSWORDS[ALICE])
    assert site.get("/a/").status_code == 200
    assert site.get("/b/").status_code == 403


def test_the_same_username_and_email_is_one_user_with_the_newest_password(adopted):
    report = adopted["seen"]["adopt b"].stdout
    assert f"one user: {BOTH} = {BOTH} (same email {BOTH.upper()}@example.com)" in report, report
    assert "    + password: the source's (last login there " in report, report
    assert ", here 2020-01-01 00:00 UTC)" in report, report
    assert not logs_in(BOTH, PASSWORDS["both-a"])
    site = SiteClient(BASE_URL, verify=VERIFY)
    assert site.login(BOTH, PASSWORDS["both-b"]).status_code == 302
    # One person from both projects: both services.
    assert site.get("/a/").status_code == 200
    assert site.get("/b/").status_code == 200


def test_a_clash_is_refused_with_its_name_and_nothing_changed(adopted):
    refused = adopted["seen"]["adopt b refused"]
    assert refused.returncode != 0
    assert (
        f"user '{CLASH}': the username exists here with email {CLASH}@one.example, the source has email "
        f"{CLASH}@two.example" in refused.stderr
    )
    assert "Adoption refused: 1 clash, nothing was changed." in refused.stderr
    assert adopted["seen"]["both after refusal"] is False
    assert adopted["seen"]["named after uuid after refusal"] is False
    assert f"{CLASH} (as {CLASH}-b)" in adopted["seen"]["adopt b"].stdout


def test_records_whose_owner_column_is_not_rewritten_are_refused_and_nothing_is_loaded(adopted):
    refused = adopted["seen"]["load without rewrite"]
    assert refused.returncode != 0
    assert "The rows do not all point at a user, so nothing was loaded" in refused.stderr
    assert 'violates foreign key constraint "intake_request_owner_id' in refused.stderr
    assert "Traceback" not in refused.stderr


def test_records_show_the_right_owner_after_rewrite(adopted):
    rewrite = adopted["seen"]["rewrite"]
    assert rewrite.returncode == 0, output(rewrite)
    assert "Rewrite intake_request.owner_id: 2 rows of 1 users, old primary key → UUID" in rewrite.stdout
    assert "nothing to rewrite" in adopted["seen"]["rewrite again"].stdout
    site = SiteClient(BASE_URL, verify=VERIFY)
    site.login(ALICE, PASSWORDS[ALICE])
    home = site.get("/a/").text
    assert all(title in home for title in RECORDS)
    other = SiteClient(BASE_URL, verify=VERIFY)
    other.login(CAROL, PASSWORDS[CAROL])
    assert not any(title in other.get("/a/").text for title in RECORDS)


def whoami(page, service: str) -> dict:
    page.goto(f"{BASE_URL}{service}/whoami")
    return json.loads(page.locator("body").inner_text())


def with_legacy_cookie(browser_context, value: str):
    browser_context.add_cookies([{"name": LEGACY_COOKIE, "value": value, "url": BASE_URL}])
    return browser_context.new_page()


def test_the_browser_logged_in_to_the_legacy_project_is_logged_in_on_a_and_b(adopted, browser_context):
    legacy_value = adopted["b"].cookies[BOTH]
    page = with_legacy_cookie(browser_context, legacy_value)
    page.goto(f"{BASE_URL}b/")
    assert page.get_by_test_id("username").inner_text() == BOTH
    page.goto(f"{BASE_URL}a/")
    assert page.get_by_test_id("username").inner_text() == BOTH
    cookies = {cookie["name"]: cookie["value"] for cookie in browser_context.cookies()}
    assert LEGACY_COOKIE not in cookies
    assert cookies["sso_sessionid"] not in (legacy_value, "")
    assert set(cookies) <= {"sso_sessionid", "sso_csrftoken"}


def test_a_user_named_after_another_users_old_pk_or_uuid_gets_nobodys_session(adopted, browser):
    for legacy, owner in (
        (adopted["a"], ALICE),
        (adopted["a"], NAMED_AFTER_PK),
        (adopted["b"], adopted["alice id"]),
    ):
        context = browser.new_context()
        try:
            page = with_legacy_cookie(context, legacy.cookies[owner])
            assert whoami(page, "a") == {"service": "a", "authenticated": True, "username": owner}
        finally:
            context.close()
    # The user named after alice's old pk logs in as himself, not as alice.
    site = SiteClient(BASE_URL, verify=VERIFY)
    site.login(NAMED_AFTER_PK, PASSWORDS[NAMED_AFTER_PK])
    assert site.whoami("a")["username"] == NAMED_AFTER_PK
    assert not any(title in site.get("/a/").text for title in RECORDS)


def test_a_second_run_changes_nothing_and_a_carried_session_is_used_once(adopted, browser):
    again = adopted["seen"]["adopt b again"]
    assert again.returncode == 0, output(again)
    assert "0 new, 0 one user with an existing user, 0 skipped, 3 adopted before" in again.stdout
    assert "0 to carry over, 2 carried before" in again.stdout
    assert "Nothing to do: this source was adopted before; nothing changed." in again.stdout

    carol_cookie = adopted["a"].cookies[CAROL]
    first = browser.new_context()
    try:
        assert whoami(with_legacy_cookie(first, carol_cookie), "a")["username"] == CAROL
    finally:
        first.close()
    rerun = adopt("a", adopted["a"], source=SOURCE_A)
    assert "Nothing to do" in rerun.stdout, output(rerun)
    copied = browser.new_context()
    try:
        assert whoami(with_legacy_cookie(copied, carol_cookie), "a")["authenticated"] is False
    finally:
        copied.close()
