"""./stack backup and ./stack restore never run a service's code as the database superuser.

What an attacker holding one service can do: with the service's own database role, plant
functions in its schema that the superuser would run with its rights. Here they only record who
runs them: a CHECK constraint (run for every row a restore loads) and a `varchar || varchar`
operator (picked over PostgreSQL's own by any query on varchar columns, such as django_migrations'
app and name, whose search_path reaches the schema: CVE-2018-1058). The site is backed up while it
runs and restored over itself (--force). Every call is the service's own role; the restore did
run the constraint, so the check is not empty. Against the native stack and Compose (the
offline installer's backup shares their dump: scripts/database-owners.sh).
"""

import json
import subprocess

import pytest

from .conftest import STACK, manage

SERVICES = ("a", "b")

PLANT = r"""
CREATE TABLE superuser_trap_calls (session_role text, superuser boolean, what text);
CREATE FUNCTION superuser_trap_record(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO SCHEMA.superuser_trap_calls
    SELECT session_user, rolsuper, what FROM pg_catalog.pg_roles WHERE rolname = session_user;
  RETURN true;
END $$;
CREATE TABLE superuser_trap_checked (id integer CHECK (SCHEMA.superuser_trap_record('CHECK constraint')));
INSERT INTO superuser_trap_checked VALUES (1), (2);
CREATE FUNCTION superuser_trap_concat(varchar, varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM SCHEMA.superuser_trap_record('|| operator');
  RETURN pg_catalog.textcat($1, $2);
END $$;
CREATE OPERATOR SCHEMA.|| (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = SCHEMA.superuser_trap_concat);
DELETE FROM superuser_trap_calls;
"""

REMOVE = """
DROP OPERATOR IF EXISTS SCHEMA.|| (varchar, varchar);
DROP FUNCTION IF EXISTS superuser_trap_concat(varchar, varchar);
DROP TABLE IF EXISTS superuser_trap_checked, superuser_trap_calls;
DROP FUNCTION IF EXISTS superuser_trap_record(text);
"""


def as_service_role(service: str, sql: str) -> None:
    """SQL run by the service's own code, in its own schema as its own role."""
    sql = sql.replace("SCHEMA.", f"system_{service}.")
    manage(service, "shell", "-c", f"from django.db import connection\nconnection.cursor().execute({sql!r})")


def calls(service: str) -> list[tuple[str, bool, str]]:
    """Who ran the planted functions: (session user, a superuser?, which function)."""
    code = (
        "import json\nfrom django.db import connection\nwith connection.cursor() as cursor:\n"
        "    cursor.execute('SELECT session_role, superuser, what FROM superuser_trap_calls')\n"
        "    print(json.dumps(cursor.fetchall()))"
    )
    return [tuple(row) for row in json.loads(manage(service, "shell", "-c", code).strip().splitlines()[-1])]


def stack(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([STACK, *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"./stack {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture
def planted():
    for service in SERVICES:
        as_service_role(service, REMOVE + PLANT)
    yield
    for service in SERVICES:
        as_service_role(service, REMOVE)


def by_superusers(recorded: list[tuple[str, bool, str]]) -> set[tuple[str, str]]:
    return {(session_role, what) for session_role, superuser, what in recorded if superuser}


def test_backup_and_restore_run_a_services_functions_only_as_its_own_role(planted, tmp_path):
    backup = tmp_path / "site.tar"
    stack("backup", str(backup))
    for service in SERVICES:
        role, during_backup = f"system_{service}", calls(service)
        assert not by_superusers(during_backup), f"the backup ran {role}'s code as a superuser"
        assert {session_role for session_role, _, _ in during_backup} <= {role}, during_backup

    stack("restore", str(backup), "--force")
    for service in SERVICES:
        role, during_restore = f"system_{service}", calls(service)
        assert not by_superusers(during_restore), f"the restore ran {role}'s code as a superuser"
        # The restore loaded both rows through the constraint, as the role itself.
        assert during_restore.count((role, False, "CHECK constraint")) == 2, during_restore
        assert {session_role for session_role, _, _ in during_restore} == {role}, during_restore
