"""What a service records about itself, and what comparing two records reports.

Unit level: System B's record is this process's fingerprint under other
settings. The same comparisons run for real, service against service, in
system_a/tests/test_pitfalls.py.
"""

import json

import pytest
from django.conf import settings
from django.contrib.sessions.backends import db
from django.test import override_settings

from sso_shared.agreement.compare import Record, disagreements
from sso_shared.agreement.fingerprint import current_fingerprint, key_digest

from .deviations import AuditedSessionStore

KEY_A, KEY_B, KEY_C = "a" * 60, "b" * 60, "c" * 60


def fingerprint(**settings) -> dict:
    with override_settings(**settings):
        return current_fingerprint()


def messages(b_settings: dict, a_settings: dict | None = None) -> list[str]:
    system_a = Record("system_a", fingerprint(**(a_settings or {})))
    system_b = Record("system_b", fingerprint(**b_settings))
    return [f"{finding.level}: {finding.message}" for finding in disagreements(system_b, [system_a])]


def test_the_secret_key_is_recorded_as_a_keyed_digest_only():
    recorded = fingerprint(SECRET_KEY=KEY_A, SECRET_KEY_FALLBACKS=[KEY_B])
    assert KEY_A not in json.dumps(recorded) and KEY_B not in json.dumps(recorded)
    assert recorded["SECRET_KEY"] == {
        "signs_with": key_digest(KEY_A),
        "accepts": [key_digest(KEY_A), key_digest(KEY_B)],
    }
    assert key_digest(KEY_A) != key_digest(KEY_B)


def test_the_fingerprint_names_each_setting_the_services_must_share():
    recorded = current_fingerprint()
    assert list(recorded) == [
        "SECRET_KEY",
        "SESSION_ENGINE",
        "SESSION_SERIALIZER",
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_PATH",
        "SESSION_COOKIE_DOMAIN",
        "AUTH_USER_MODEL",
        "AUTHENTICATION_BACKENDS",
        "PASSWORD_HASHERS",
        "SSO_SHARED_APP_LABELS",
        "SSO_SECOND_FACTOR",
        "Django version",
        "sso_shared version",
        "migrations of the shared tables",
    ]
    assert recorded["Django version"] == "5.2"
    assert recorded["sso_shared version"] == "0.2"
    assert "sso_shared.0001_initial" in recorded["migrations of the shared tables"]
    assert "auth.0012_alter_user_first_name_max_length" in recorded["migrations of the shared tables"]
    assert recorded["AUTH_USER_MODEL"] == "sso_shared.User (primary key UUIDField)"
    assert recorded["SESSION_ENGINE"] == ("sso_shared.sessions.store (store sso_shared.sessions.store.SessionStore)")
    assert recorded["PASSWORD_HASHERS"]["default"] == {"algorithm": "pbkdf2_sha256", "iterations": 1_000_000}


def test_identical_settings_report_nothing():
    assert messages({}) == []


def test_different_secret_keys_are_an_error_naming_secret_key():
    assert messages({"SECRET_KEY": KEY_B}, {"SECRET_KEY": KEY_A}) == [
        "error: SECRET_KEY of system_b differs from system_a: sessions from one will be rejected by the other "
        "and users will be asked to log in again. Set the same SECRET_KEY in both."
    ]


def test_a_renamed_session_store_is_caught_and_really_cannot_read_the_others_sessions():
    written_by_a = db.SessionStore().encode({"_auth_user_id": "someone"})
    assert AuditedSessionStore().decode(written_by_a) == {}  # the silent failure
    assert messages({"SESSION_ENGINE": "tests.deviations"})[0].startswith(
        "error: SESSION_ENGINE of system_b differs from system_a: they store or sign sessions differently"
    )


def test_fewer_password_hasher_iterations_are_caught():
    hashers = ["tests.deviations.CheaperPBKDF2PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert messages({"PASSWORD_HASHERS": hashers}) == [
        "error: PASSWORD_HASHERS of system_b differs from system_a: each rehashes passwords to its own default "
        "at login, which changes the session auth hash and logs the user out of the other, back and forth. "
        "Set the same PASSWORD_HASHERS in both."
    ]


@pytest.mark.parametrize(
    "setting",
    ["SESSION_COOKIE_NAME", "SESSION_COOKIE_PATH", "SESSION_COOKIE_DOMAIN", "SESSION_SERIALIZER"],
)
def test_each_session_cookie_setting_is_compared(setting):
    found = messages({setting: "something-else"})
    assert len(found) == 1
    assert found[0].startswith(f"error: {setting} of system_b differs from system_a: ")
    assert found[0].endswith(f"Set the same {setting} in both.")


def test_the_hint_shows_both_values_and_how_to_move_on_after_a_deliberate_change():
    system_a = Record("system_a", fingerprint())
    remote_user = ["django.contrib.auth.backends.RemoteUserBackend"]
    system_b = Record("system_b", fingerprint(AUTHENTICATION_BACKENDS=remote_user))
    [finding] = disagreements(system_b, [system_a])
    assert finding.hint == (
        'system_b has ["django.contrib.auth.backends.RemoteUserBackend"]; '
        'system_a has ["sso_shared.login_protection.lockout.LockoutBackend", '
        '"django.contrib.auth.backends.ModelBackend"]. '
        "system_a is running with its setting. "
        "To change AUTHENTICATION_BACKENDS, change it in both and restart both; a stopped service's record "
        "blocks nothing."
    )


def test_an_app_shared_by_one_service_only_is_caught():
    shared_apps = [*settings.SSO_SHARED_APP_LABELS]
    assert messages({"SSO_SHARED_APP_LABELS": [*shared_apps, "authtoken"]}) == [
        "error: SSO_SHARED_APP_LABELS of system_b differs from system_a: an app shared by one keeps its tables in "
        "the other's own database, so rows written on one (API tokens, say) are missing on the other, and its "
        "foreign keys to the user cannot be created there. List the same labels in both: SSO_SHARED_APP_LABELS "
        "belongs in sso_shared/settings.py only."
    ]


def test_the_shared_app_labels_are_recorded_sorted_and_always_with_the_six_of_the_login():
    assert fingerprint(SSO_SHARED_APP_LABELS=["authtoken"])["SSO_SHARED_APP_LABELS"] == [
        "admin",
        "auth",
        "authtoken",
        "contenttypes",
        "sessions",
        "sso_adoption",
        "sso_shared",
    ]


def test_another_django_version_is_caught():
    system_a = Record("system_a", {**fingerprint(), "Django version": "5.1"})
    [finding] = disagreements(Record("system_b", fingerprint()), [system_a])
    assert finding.message == (
        "Django version of system_b differs from system_a: both write one django_migrations table, and a "
        "newer feature release of Django migrates the shared tables to a schema the older one does not know "
        "(patch releases never do, so they may differ). Install the same Django feature release in both "
        "(requirements.txt pins it)."
    )


def test_a_record_written_before_a_setting_was_compared_is_not_an_error():
    older = {key: value for key, value in fingerprint().items() if key != "Django version"}
    assert disagreements(Record("system_b", fingerprint()), [Record("system_a", older)]) == []


def keys(signs_with: str, *fallbacks: str) -> dict:
    return {"SECRET_KEY": signs_with, "SECRET_KEY_FALLBACKS": list(fallbacks)}


@pytest.mark.parametrize(
    ("b_keys", "a_keys"),
    [
        # The new key is first added as a fallback everywhere, then made the key, then the old one goes.
        (keys(KEY_A, KEY_B), keys(KEY_A)),
        (keys(KEY_B, KEY_A), keys(KEY_A, KEY_B)),
        (keys(KEY_B, KEY_A), keys(KEY_B, KEY_A)),
        (keys(KEY_B), keys(KEY_B, KEY_A)),
    ],
    ids=["new key announced", "new key in use on B first", "both on the new key", "old key dropped"],
)
def test_each_step_of_a_rotation_passes(b_keys, a_keys):
    assert messages(b_keys, a_keys) == []


def test_restarting_one_service_with_the_new_key_and_the_old_fallback_only_warns():
    assert messages(keys(KEY_B, KEY_A), keys(KEY_A)) == [
        "warning: SECRET_KEY rotation in progress: system_a does not accept the key system_b signs with, so "
        "sessions system_b writes look empty on system_a until system_a restarts with the same SECRET_KEY and "
        "SECRET_KEY_FALLBACKS."
    ]


def test_a_fallback_unrelated_to_the_others_key_does_not_help():
    assert messages(keys(KEY_B, KEY_C), keys(KEY_A))[0].startswith("error: SECRET_KEY of system_b differs")
