"""The audit trail's rights on the running deployment (native, Compose or Swarm): a service only adds
events; housekeeping, as the maintenance role, prunes them; deleting a user still renames theirs.

The statements run in a service's own process environment (``./stack manage``: natively as the
service's OS user with its database login, in Compose and Swarm inside its container), as code of
a compromised service would run them.
"""

import subprocess
import uuid

import pytest

from .conftest import STACK, create_user_in_admin, manage, new_password, unique

# Tries each statement on the shared database, as the service's role, and prints what PostgreSQL
# said; all in one transaction that is rolled back, so nothing stays even if a right were granted.
TRY_STATEMENTS = """
from django.db import connections, transaction
from sso_shared.database.routers import SHARED_DB
with transaction.atomic(using=SHARED_DB):
    for statement in {statements!r}:
        try:
            with transaction.atomic(using=SHARED_DB), connections[SHARED_DB].cursor() as cursor:
                cursor.execute(statement)
        except Exception as error:
            print(str(error).strip().splitlines()[0])
        else:
            print("ALLOWED")
    transaction.set_rollback(True, using=SHARED_DB)
"""

# An event as a service may write one (INSERT only), dated long before any retention.
ADD_OLD_EVENT = """
from datetime import timedelta
from django.utils import timezone
from sso_shared.models import AuditEvent
from sso_shared.database.routers import SHARED_DB
AuditEvent.objects.using(SHARED_DB).create(
    kind="login", service="a", username={username!r}, time=timezone.now() - timedelta(days=4000)
)
"""


def stack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("service", ["a", "b"])
def test_a_service_cannot_change_or_erase_the_audit_trail(service):
    statements = [
        "UPDATE sso_audit_event SET username = 'forged'",
        "DELETE FROM sso_audit_event",
        "TRUNCATE sso_audit_event",
        "INSERT INTO sso_audit_event (time, kind, service, username, user_agent)"
        " VALUES (now(), 'login', 'a', 'rights check, rolled back', '')",
    ]
    answers = manage(service, "shell", "-v", "0", "-c", TRY_STATEMENTS.format(statements=statements)).splitlines()
    assert answers == ["permission denied for table sso_audit_event"] * 3 + ["ALLOWED"], answers


def test_housekeeping_prunes_old_events_which_a_service_may_not(site):
    username = unique("pruned")
    manage("a", "shell", "-v", "0", "-c", ADD_OLD_EVENT.format(username=username))
    refused = stack("manage", "a", "sso_audit", "--prune")
    assert refused.returncode != 0
    assert "may not delete audit events: a service only adds them" in refused.stderr
    assert "./stack housekeeping" in refused.stderr
    assert username in manage("a", "sso_audit", "--user", username)

    ran = stack("housekeeping")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    line = ran.stdout.strip().splitlines()[-1]
    assert line.startswith("housekeeping removed "), ran.stdout
    assert int(line.split("old_audit_events=")[1].split()[0]) >= 1, line
    assert manage("a", "sso_audit", "--user", username).strip() == ""


@pytest.mark.parametrize("service", ["a", "b"])
def test_deleting_a_user_in_either_admin_names_their_events_by_the_tombstone(admin_site, site, service):
    username, password = unique("leaving"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    assert site.login(username, password).status_code == 302
    assert [line.split()[1] for line in manage("a", "sso_audit", "--user", username).splitlines()] == ["login"]

    path = f"/{service}/admin/sso_shared/user/{user_id}/delete/"
    assert admin_site.get(path).status_code == 200
    deleted = admin_site.post_form(path, {"post": "yes"}, allow_redirects=False)
    assert deleted.status_code == 302, deleted.text[:2000]

    tombstone = f"deleted-{uuid.UUID(user_id).hex[:8]}"
    assert manage("a", "sso_audit", "--user", username).strip() == ""
    kinds = [line.split()[1] for line in manage("a", "sso_audit", "--user", tombstone).splitlines()]
    assert kinds[0] == "login" and "session_revoked" in kinds, kinds
