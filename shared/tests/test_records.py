"""Recording this service's fingerprint, comparing it at start-up, in `check` and in sso_doctor.

This test service is System A; System B is represented by the record it would have written.
"""

import pytest
from django.contrib.auth.models import Permission
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from sso_shared.agreement.checks import AGREEMENT_TAG
from sso_shared.agreement.fingerprint import current_fingerprint, own_app_labels
from sso_shared.agreement.presence import hold_presence
from sso_shared.agreement.startup import StartRefused, register_or_refuse
from sso_shared.database.routers import SHARED_DB
from sso_shared.models import ServiceFingerprint

pytestmark = pytest.mark.django_db(databases="__all__")
COOKIE_MISMATCH = (
    "SESSION_COOKIE_NAME of system_a differs from system_b: each looks for the session under its own cookie "
    "name, so users will be asked to log in again on the other. Set the same SESSION_COOKIE_NAME in both."
)


def record_b(**settings):
    with override_settings(**settings):
        fingerprint = current_fingerprint()
    return ServiceFingerprint.objects.create(service="system_b", fingerprint=fingerprint, app_labels=["review"])


@pytest.fixture
def b_runs():
    """System B is running: it holds its presence lock, as each of its gunicorn workers does."""
    holder = hold_presence("system_b")
    assert holder.holding.wait(10)
    yield
    holder.stop()
    holder.join(10)


def test_starting_records_the_fingerprint_and_app_labels():
    register_or_refuse()
    record = ServiceFingerprint.objects.get(service="system_a")
    assert record.fingerprint == current_fingerprint()
    assert record.app_labels == own_app_labels() == []


def test_starting_against_a_disagreeing_record_is_refused_and_records_nothing(b_runs):
    record_b(SESSION_COOKIE_NAME="review_sessionid")
    with pytest.raises(StartRefused) as refusal:
        register_or_refuse()
    assert str(refusal.value).startswith(
        f"system_a refuses to start: its settings break the shared login.\n{COOKIE_MISMATCH}\n  HINT: "
    )
    assert not ServiceFingerprint.objects.filter(service="system_a").exists()


def test_sso_register_prints_a_rotation_warning_and_records(b_runs, capsys):
    record_b(SECRET_KEY="o" * 60)
    with override_settings(SECRET_KEY="n" * 60, SECRET_KEY_FALLBACKS=["o" * 60]):
        call_command("sso_register")
    out, err = capsys.readouterr()
    assert out == "[system_a] settings recorded in the shared database.\n"
    assert err.startswith("SECRET_KEY rotation in progress: system_b does not accept the key system_a signs with")
    assert ServiceFingerprint.objects.filter(service="system_a").exists()


def test_sso_register_exits_with_the_message_on_a_mismatch(b_runs):
    record_b(SESSION_COOKIE_NAME="review_sessionid")
    with pytest.raises(CommandError, match=COOKIE_MISMATCH.replace("(", r"\(").replace(")", r"\)")):
        call_command("sso_register")


def test_the_system_check_reports_the_mismatch_and_writes_nothing(b_runs):
    record_b(SESSION_COOKIE_NAME="review_sessionid")
    [error] = checks.run_checks(tags=[AGREEMENT_TAG])
    assert (error.level, error.id, error.msg) == (checks.ERROR, "sso_shared.E001", COOKIE_MISMATCH)
    assert not ServiceFingerprint.objects.filter(service="system_a").exists()


def test_the_system_check_is_silent_when_the_records_agree(b_runs):
    record_b()
    assert checks.run_checks(tags=[AGREEMENT_TAG]) == []


def test_missing_permission_rows_are_a_database_check():
    Permission.objects.filter(codename="access_service_b").delete()
    assert checks.run_checks(tags=["sso"]) == []
    [warning] = checks.run_checks(tags=["sso"], databases=[SHARED_DB])
    assert (warning.level, warning.id) == (checks.WARNING, "sso_shared.W002")
    assert warning.msg.startswith(
        "Permissions of system_a are missing in the shared schema: sso_shared.access_service_b. "
    )


def test_forgetting_a_stopped_services_record(capsys):
    record_b()
    call_command("sso_forget", "system_b")
    assert capsys.readouterr().out == "Forgot the record of system_b; it records its settings again when it starts.\n"
    assert not ServiceFingerprint.objects.exists()
    with pytest.raises(CommandError, match="No record of system_b in the shared database."):
        call_command("sso_forget", "system_b")


def test_the_doctor_reads_like_a_checklist(b_runs, capsys):
    register_or_refuse()
    record_b(SESSION_COOKIE_NAME="review_sessionid")
    with pytest.raises(CommandError, match=r"1 check\(s\) failed: see FAIL above."):
        call_command("sso_doctor")
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("PASS  system_a recorded these settings (0\xa0minutes ago, at ")
    assert lines[3].startswith("PASS  system_b is running; it recorded its settings (0\xa0minutes ago, at ")
    assert "PASS  SECRET_KEY agrees with system_b" in lines
    assert f"FAIL  {COOKIE_MISMATCH}" in lines
    assert lines[-1] == "PASS  permissions of system_a's models exist in the shared schema"


def test_the_doctor_warns_when_the_other_service_never_recorded(capsys):
    call_command("sso_doctor")
    lines = capsys.readouterr().out.splitlines()
    assert "WARN  system_a has not recorded its settings yet: it does when it starts (sso_register)" in lines
    assert (
        "WARN  system_b has not recorded its settings: nothing to compare with until it starts "
        "(or its `manage.py sso_register` runs)" in lines
    )
    assert lines[-1] == "All checks passed."


def test_a_stopped_services_disagreeing_record_blocks_nothing(capsys):
    """After both were changed and B is stopped (or B's old version is gone), A starts."""
    record_b(SESSION_COOKIE_NAME="review_sessionid")
    assert checks.run_checks(tags=[AGREEMENT_TAG]) == []
    register_or_refuse()
    assert ServiceFingerprint.objects.filter(service="system_a").exists()
    call_command("sso_doctor")
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("PASS  system_b is not running; its record (") for line in lines)
    assert (
        "WARN  SESSION_COOKIE_NAME differs from what system_b ran last: it starts only with the same "
        "SESSION_COOKIE_NAME as system_a, or while system_a is stopped." in lines
    )


def test_a_django_patch_release_is_no_disagreement(b_runs):
    b = record_b()
    b.fingerprint["Django version"] = "5.2"  # what 5.2.18 and 5.2.19 both record
    b.save()
    assert current_fingerprint()["Django version"] == "5.2"
    register_or_refuse()


def test_a_running_service_that_knows_other_shared_migrations_is_refused(b_runs):
    b = record_b()
    b.fingerprint["migrations of the shared tables"] += ["sso_shared.9999_from_the_future"]
    b.save()
    with pytest.raises(StartRefused) as refusal:
        register_or_refuse()
    assert (
        "(sso_shared.E003) " not in str(refusal.value)
        and "The migrations of the shared tables differ between system_a and system_b: system_b knows "
        "sso_shared.9999_from_the_future and system_a does not. The shared tables are migrated for the newer "
        "one, under code of the older one that does not know them.\n  HINT: Run both on the same release: "
        "upgrade the older one (or stop it), then start it again."
        in str(refusal.value)
    )
