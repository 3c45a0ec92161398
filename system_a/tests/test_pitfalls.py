"""Each way two services silently break a shared login, set up for real and caught by name.

System A is running and has recorded its settings; System B then starts with one
setting of its own. B's `manage.py check` fails, `sso_register` (run by the
stack before gunicorn) refuses, and nothing of B's is recorded.
"""

import json
import re

import pytest

from sso_shared.settings import SHARED_APPS

from .two_services import new_key


@pytest.fixture(scope="module", autouse=True)
def a_is_running(deployed):
    with deployed.running("a"):
        yield


LOGIN_AGAIN = "users will be asked to log in again"
PITFALLS = {
    "different secret keys": (
        {"env": {"SECRET_KEY": new_key()}},
        "SECRET_KEY of system_b differs from system_a: sessions from one will be rejected by the other and "
        "users will be asked to log in again. Set the same SECRET_KEY in both.",
    ),
    "different cookie names": (
        {"settings": {"SESSION_COOKIE_NAME": "review_sessionid"}},
        "SESSION_COOKIE_NAME of system_b differs from system_a: each looks for the session under its own cookie "
        f"name, so {LOGIN_AGAIN} on the other. Set the same SESSION_COOKIE_NAME in both.",
    ),
    "different cookie paths": (
        {"settings": {"SESSION_COOKIE_PATH": "/b/"}},
        "SESSION_COOKIE_PATH of system_b differs from system_a: the browser sends the session cookie only below "
        f"its path, so {LOGIN_AGAIN} on the other. Set the same SESSION_COOKIE_PATH in both.",
    ),
    "different authentication backends": (
        {"settings": {"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.AllowAllUsersModelBackend"]}},
        "AUTHENTICATION_BACKENDS of system_b differs from system_a: a session stores the backend that logged the "
        "user in, and a backend the other does not list makes the user anonymous there. "
        "Set the same AUTHENTICATION_BACKENDS in both.",
    ),
    "a user model with another primary key type": (
        {"settings": {"AUTH_USER_MODEL": "auth.User"}},
        "AUTH_USER_MODEL of system_b differs from system_a: a session stores the user's primary key as text and "
        "each service reads it back with its own user model, so users are anonymous on the other or every "
        "request there fails with HTTP 500. Set the same AUTH_USER_MODEL in both.",
    ),
    "a cached session engine": (
        {"settings": {"SESSION_ENGINE": "django.contrib.sessions.backends.cached_db"}},
        "SESSION_ENGINE of system_b differs from system_a: they store or sign sessions differently (the store "
        f"class is part of the signature), so sessions from one look empty to the other and {LOGIN_AGAIN}, or a "
        "logout on one goes unseen by the other. Set the same SESSION_ENGINE in both.",
    ),
    "another password hasher": (
        {"settings": {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher"]}},
        "PASSWORD_HASHERS of system_b differs from system_a: each rehashes passwords to its own default at "
        "login, which changes the session auth hash and logs the user out of the other, back and forth. "
        "Set the same PASSWORD_HASHERS in both.",
    ),
    "an app shared by one service only": (
        {
            "settings": {
                "SSO_SHARED_APP_LABELS": ["admin", "auth", "authtoken", "contenttypes", "sessions", "sso_shared"]
            }
        },
        "SSO_SHARED_APP_LABELS of system_b differs from system_a: an app shared by one keeps its tables in the "
        "other's own database, so rows written on one (API tokens, say) are missing on the other, and its foreign "
        "keys to the user cannot be created there. List the same labels in both: SSO_SHARED_APP_LABELS belongs in "
        "sso_shared/settings.py only.",
    ),
}


def b_with(deployed, command, setup):
    return deployed.manage("b", command, settings=setup.get("settings"), **setup.get("env", {}))


def record_of(deployed, service):
    rows = deployed.query("SELECT fingerprint FROM sso_service_fingerprint WHERE service = %s", [service])
    return rows[0][0] if rows else None


@pytest.mark.parametrize(("setup", "message"), PITFALLS.values(), ids=PITFALLS.keys())
def test_check_of_the_second_service_names_the_setting(deployed, setup, message):
    result = b_with(deployed, "check", setup)
    assert result.returncode == 1
    assert f"?: (sso_shared.E001) {message}" in result.stderr


@pytest.mark.parametrize(("setup", "message"), PITFALLS.values(), ids=PITFALLS.keys())
def test_the_second_service_refuses_to_start_and_records_nothing(deployed, setup, message):
    before = record_of(deployed, "system_b")
    result = b_with(deployed, "sso_register", setup)
    assert result.returncode == 1
    assert f"CommandError: system_b refuses to start: its settings break the shared login.\n{message}" in result.stderr
    assert record_of(deployed, "system_b") == before


def test_the_hint_shows_both_user_models_with_their_primary_key_types(deployed):
    result = b_with(deployed, "check", PITFALLS["a user model with another primary key type"][0])
    assert (
        'HINT: system_b has "auth.User (primary key AutoField)"; '
        'system_a has "sso_shared.User (primary key UUIDField)".' in result.stderr
    )


def test_with_the_same_settings_nothing_is_reported(deployed):
    check = deployed.manage("b", "check")
    assert (check.returncode, check.stderr) == (0, "")
    # The one silenced: django-otp-webauthn's wish for fixed origins (sso_shared.second_factor.passkeys derives them).
    assert check.stdout == "System check identified no issues (1 silenced).\n"
    register = deployed.manage("b", "sso_register")
    assert (register.returncode, register.stderr) == (0, "")
    assert register.stdout == "[system_b] settings recorded in the shared database.\n"


def test_the_secret_key_is_recorded_only_as_a_digest(deployed):
    stored = json.dumps(record_of(deployed, "system_a"))
    assert deployed.env("a")["SECRET_KEY"] not in stored
    assert len(record_of(deployed, "system_a")["SECRET_KEY"]["signs_with"]) == 64


def test_gunicorn_of_the_second_service_refuses_to_start_with_another_secret_key(deployed):
    result = deployed.gunicorn_refusing("b", SECRET_KEY=new_key())
    assert result.returncode == 1
    assert (
        "[ERROR] Reason: system_b refuses to start: its settings break the shared login.\n"
        + PITFALLS["different secret keys"][1]
    ) in result.stderr


def test_an_app_label_used_by_both_services_is_an_error(deployed):
    """System B installing an app labelled 'intake' would share A's content types and permissions."""
    apps = [*SHARED_APPS, "review", "intake"]
    result = deployed.manage("b", "check", settings={"INSTALLED_APPS": apps})
    assert result.returncode == 1
    assert (
        "?: (sso_shared.E002) App label 'intake' is used by both system_b and system_a: their content types and "
        "permissions share one table in the shared database, so a permission on one grants the other and "
        "remove_stale_contenttypes of one deletes the other's. Give the app a unique label (AppConfig.label) in "
        "one of them." in result.stderr
    )


def test_check_stays_silent_without_a_reachable_database(deployed):
    """makemigrations and friends run the checks too, on machines with no database."""
    result = deployed.manage("b", "check", SECRET_KEY=new_key(), DB_PORT="1")
    assert (result.returncode, result.stderr) == (0, "")


def test_doctor_lists_each_check_and_the_other_services_record(deployed):
    result = deployed.manage("b", "sso_doctor")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sso_doctor: system_b (Django 5.2")
    assert lines[1] == (
        f"PASS  shared schema answers (shared in database {deployed.database} on "
        f"127.0.0.1:{deployed.env('b')['DB_PORT']})"
    )
    assert re.match(r"PASS  system_a is running; it recorded its settings \(\d+\xa0minutes? ago, at ", lines[3])
    assert "PASS  SECRET_KEY agrees with system_a" in lines
    assert "PASS  AUTH_USER_MODEL agrees with system_a" in lines
    assert "PASS  Django version agrees with system_a" in lines
    assert "PASS  app labels of system_b (review) are its own" in lines
    assert lines[-1] == "All checks passed."


def test_doctor_fails_and_names_the_setting(deployed):
    result = b_with(deployed, "sso_doctor", PITFALLS["different cookie names"][0])
    assert result.returncode == 1
    assert f"FAIL  {PITFALLS['different cookie names'][1]}" in result.stdout.splitlines()
    assert "CommandError: 1 check(s) failed: see FAIL above." in result.stderr


def test_doctor_reports_an_unreachable_shared_database(deployed):
    result = deployed.manage("b", "sso_doctor", DB_PORT="1")
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].startswith(
        'FAIL  cannot reach the shared database: connection to server at "127.0.0.1", port 1 failed'
    )
