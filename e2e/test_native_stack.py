"""The native stack as ./stack runs it: a second `up` starts no second copy; each part runs
with only the rights and secrets it needs (seen in /proc, as a local attacker would)."""

import functools
import ipaddress
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import requests

from sso_shared.environment.envfile import read_env_file

from .conftest import BASE_URL, ROOT, STACK, VERIFY
from .shared_table_rights import ALLOWED, FORBIDDEN, SERVICE_ROLES, for_role

STATE = Path(os.environ.get("STACK_STATE", ""))
DEPLOYMENT = os.environ.get("SSO_DEPLOYMENT", "")
SERVICES = ("a", "b")
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "SYSTEM_A_DB_PASSWORD", "SYSTEM_B_DB_PASSWORD")
AS_ROOT = os.geteuid() == 0
TCP_LISTEN = "0A"  # the st column of /proc/net/tcp for a listening socket


def pidfiles(state: Path) -> dict[str, str]:
    paths = [*state.glob("run/*/gunicorn.pid"), state / "nginx" / "nginx.pid"]
    return {str(path.relative_to(state)): path.read_text().strip() for path in paths}


def test_starting_again_starts_no_second_copy():
    before = pidfiles(STATE)
    assert set(before) == {"run/a/gunicorn.pid", "run/b/gunicorn.pid", "nginx/nginx.pid"}
    result = subprocess.run([STACK, "up", "--native"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "already running; not starting a second copy." in result.stderr
    assert pidfiles(STATE) == before
    for pid in before.values():
        os.kill(int(pid), 0)  # still alive


# --- what /proc shows about each process -------------------------------------------


def env_file_secrets() -> dict[str, str]:
    path = os.environ.get("E2E_ENV_FILE") or os.environ.get("STACK_ENV_FILE")
    assert path, "E2E_ENV_FILE (or STACK_ENV_FILE) must name the env file the stack runs with"
    values = read_env_file(path)
    return {name: values[name] for name in SECRETS}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError):
                continue  # ended meanwhile
            if ppid == pid:
                found.append(int(entry.name))
    return found


def gunicorn_processes(service: str) -> list[int]:
    """The master and its workers."""
    master = int((STATE / "run" / service / "gunicorn.pid").read_text())
    workers = children(master)
    assert workers, f"System {service.upper()}'s gunicorn (pid {master}) has no workers"
    return [master, *workers]


def nginx_processes() -> list[int]:
    master = int((STATE / "nginx" / "nginx.pid").read_text())
    return [master, *children(master)]


def uids(pid: int) -> set[int]:
    """Real, effective, saved and filesystem uid."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(uid) for uid in line.split()[1:]}
    raise AssertionError(f"no Uid line for pid {pid}")


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(entry.split("=", 1) for entry in raw.split("\0") if "=" in entry)


def os_user(role: str) -> str:
    """The deployment's OS user of ROLE (scripts/stack/25-deployment.sh: NAME-ROLE; sso keeps its old names)."""
    if DEPLOYMENT == "sso":
        legacy = {"pg": "ssostack", "web": "ssoweb", "migrate": "ssomigrate", "maintenance": "ssomaintenance"}
        return legacy.get(role, f"ssoapp_{role}")
    return f"{DEPLOYMENT}-{role.replace('maintenance', 'maint')}"


def test_services_run_as_unprivileged_users_of_their_own():
    owners = {}
    for service in SERVICES:
        (owner,) = {frozenset(uids(pid)) for pid in gunicorn_processes(service)}  # master and workers alike
        (uid,) = owner
        owners[service] = uid
        if AS_ROOT:
            assert uid != 0
            assert pwd.getpwuid(uid).pw_name == os_user(service)
        else:
            assert uid == os.getuid()
    if AS_ROOT:
        assert owners["a"] != owners["b"]
        # nginx's master binds the port as root; its workers, which face the network, do not run as root.
        master, *workers = nginx_processes()
        assert workers
        for pid in workers:
            assert 0 not in uids(pid)
            assert uids(pid).isdisjoint(owners.values())


def test_each_service_holds_its_own_secrets_and_no_other():
    secrets = env_file_secrets()
    for service, other in (("a", "b"), ("b", "a")):
        for pid in gunicorn_processes(service):
            env = environ(pid)
            assert env["DB_USER"] == f"system_{service}"
            assert env["DB_PASSWORD"] == secrets[f"SYSTEM_{service.upper()}_DB_PASSWORD"]
            assert env["SECRET_KEY"] == secrets["SECRET_KEY"]
            values = "\0".join(env.values())
            assert secrets["POSTGRES_PASSWORD"] not in values, f"System {service.upper()} (pid {pid})"
            assert secrets[f"SYSTEM_{other.upper()}_DB_PASSWORD"] not in values, f"System {service.upper()} (pid {pid})"


def test_postgresql_holds_none_of_the_env_file_secrets():
    postmaster = int((STATE / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    values = "\0".join(environ(postmaster).values())
    for name, value in env_file_secrets().items():
        assert value not in values, name


# --- sockets --------------------------------------------------------------------------


def connect_as(user: str, socket_path: Path) -> str:
    """Connect to a unix socket as USER: 'connected', or the error's name."""
    script = (
        "import errno, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept OSError as error:\n    print(errno.errorcode[error.errno])\n"
        "else:\n    print('connected')\n"
    )
    python = os.path.realpath(sys.executable)  # the system's Python: any user may run it
    result = subprocess.run(
        ["runuser", "-u", user, "--", python, "-c", script, str(socket_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout.strip() or result.stderr.strip()


def test_another_local_user_cannot_open_a_gunicorn_socket():
    for service in SERVICES:
        socket_path = STATE / "run" / service / "gunicorn.sock"
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        if AS_ROOT:
            assert connect_as("nobody", socket_path) == "EACCES"
            assert connect_as(os_user("b" if service == "a" else "a"), socket_path) == "EACCES"
            assert connect_as(os_user(service), socket_path) == "connected"
        else:
            # Not root, the test cannot become another user: the folder lets nobody else in.
            folder = socket_path.parent.stat()
            assert folder.st_uid == os.getuid()
            assert folder.st_mode & 0o077 == 0
    # ...while nginx reaches both.
    for service in SERVICES:
        assert requests.get(f"{BASE_URL}{service}/health", verify=VERIFY, timeout=10).status_code == 200


def listening_tcp_sockets() -> dict[int, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """inode -> (address, port) of every listening TCP socket of this network namespace."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != TCP_LISTEN:
                continue
            address, port = fields[1].split(":")
            # Each 32-bit word of the address is printed in the host's (little-endian) byte order.
            raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
            found[int(fields[9])] = (ipaddress.ip_address(raw), int(port, 16))
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def test_gunicorn_listens_on_no_tcp_port():
    listening = listening_tcp_sockets()
    for service in SERVICES:
        for pid in gunicorn_processes(service):
            assert not [listening[inode] for inode in socket_inodes(pid) if inode in listening], pid


def test_nginx_listens_on_the_bind_address_only():
    listening = listening_tcp_sockets()
    master = nginx_processes()[0]
    addresses = {listening[inode] for inode in socket_inodes(master) if inode in listening}
    site_port = int(BASE_URL.rsplit(":", 1)[1].split("/")[0])
    assert site_port in {port for _, port in addresses}
    assert {str(address) for address, _ in addresses} == {os.environ.get("STACK_BIND", "127.0.0.1")}


def test_status_says_where_postgresql_listens():
    result = subprocess.run([STACK, "status"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # postmaster.pid: pid, data folder, start time, port, socket folder, listen address, ...
    lines = (STATE / "pg" / "data" / "postmaster.pid").read_text().splitlines()
    port, socket_dir, address = lines[3], lines[4], lines[5]
    assert f"PostgreSQL listens on {address} port {port}, socket directory {socket_dir}" in result.stderr
    assert stat.S_ISSOCK((Path(socket_dir) / f".s.PGSQL.{port}").stat().st_mode)


# --- what each database role may reach ---------------------------------------------

ROLE_REACHES = {"system_a": {"sso"}, "system_b": {"sso"}}


@pytest.mark.parametrize("role", sorted(ROLE_REACHES))
@pytest.mark.parametrize("database", ["sso", "postgres", "template1"])
def test_each_service_role_reaches_only_the_deployments_database(role, database):
    password = env_file_secrets()[f"SYSTEM_{role[-1].upper()}_DB_PASSWORD"]
    connect = functools.partial(
        psycopg2.connect, host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user=role, password=password
    )
    if database in ROLE_REACHES[role]:
        connect(dbname=database).close()
        return
    with pytest.raises(psycopg2.OperationalError) as refused:
        connect(dbname=database)
    assert f'no pg_hba.conf entry for host "127.0.0.1", user "{role}", database "{database}"' in str(refused.value)


def test_provisioning_puts_no_password_on_a_command_line(tmp_path):
    """Every local user can read /proc/*/cmdline: psql gets the passwords in its environment."""
    log = tmp_path / "psql-argv"
    shim = tmp_path / "bin" / "psql"
    shim.parent.mkdir()
    real_psql = shutil.which("psql")
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>{log}\nexec {real_psql} "$@"\n')
    shim.chmod(0o755)
    steps = ROOT / "scripts" / "stack"
    script = (
        f"ROOT={ROOT}; source {steps}/10-common.sh; load_env_file; "
        f'for part in {steps}/[2-9]*.sh; do source "$part"; done; provision_databases'
    )
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    assert "-f " + str(ROOT / "db" / "provision.sql") in calls
    # Each declared service's role and schema, with its own password, also not on a command line.
    for service in ("a", "b"):
        assert f"-v service={service} -f {ROOT / 'db' / 'provision-service.sql'}" in calls
    for value in env_file_secrets().values():
        assert value not in calls


# --- what each service role may do in the schemas ------------------------------------


def connect_as_service_role(role: str, database: str = "sso"):
    password = env_file_secrets()[f"SYSTEM_{role[-1].upper()}_DB_PASSWORD"]
    return psycopg2.connect(
        host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user=role, password=password, dbname=database
    )


@pytest.mark.parametrize("role", SERVICE_ROLES)
@pytest.mark.parametrize("statement", sorted(FORBIDDEN))
def test_a_service_role_cannot_change_the_shared_schema_nor_reach_the_other_services(role, statement):
    connection = connect_as_service_role(role)
    try:
        with connection.cursor() as cursor, pytest.raises(psycopg2.Error) as refused:
            cursor.execute(for_role(statement, role))
        assert for_role(FORBIDDEN[statement], role) in str(refused.value)
    finally:
        connection.rollback()
        connection.close()


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_a_service_role_reads_and_writes_rows_of_the_shared_tables(role):
    connection = connect_as_service_role(role)
    try:
        with connection.cursor() as cursor:
            for statement in ALLOWED:
                cursor.execute(for_role(statement, role))
    finally:
        connection.rollback()
        connection.close()


def superuser_connection(database: str = "sso"):
    password = read_env_file(os.environ.get("E2E_ENV_FILE") or os.environ["STACK_ENV_FILE"])["POSTGRES_PASSWORD"]
    connection = psycopg2.connect(
        host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user="postgres", password=password, dbname=database
    )
    connection.autocommit = True
    return connection


def run_stack_function(function: str) -> subprocess.CompletedProcess:
    steps = ROOT / "scripts" / "stack"
    script = (
        f"ROOT={ROOT}; source {steps}/10-common.sh; load_env_file; "
        f'for part in {steps}/[2-9]*.sh; do source "$part"; done; {function}'
    )
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)


def test_provisioning_an_older_deployment_takes_the_schema_rights_away():
    """Before, both service roles were members of sso_auth (the owner); running the provisioning of
    this release over such a database (as `./stack up` and the db image do on every start) fixes it."""
    with superuser_connection() as connection, connection.cursor() as cursor:
        cursor.execute("GRANT sso_auth TO system_a, system_b")
        cursor.execute("CREATE TABLE shared.sso_made_by_an_older_release (id serial PRIMARY KEY)")
        cursor.execute("ALTER TABLE shared.sso_made_by_an_older_release OWNER TO system_b")
        cursor.execute("GRANT ALL ON shared.sso_session TO system_a")
        cursor.execute("GRANT USAGE ON SCHEMA system_b TO system_a")
    try:
        result = run_stack_function("provision_databases")
        assert result.returncode == 0, result.stderr
        with superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_has_role('system_a', 'sso_auth', 'MEMBER'), pg_has_role('system_b', 'sso_auth', 'MEMBER'),"
                " pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'sso_made_by_an_older_release'"
            )
            assert cursor.fetchone() == (False, False, "sso_auth")
            cursor.execute(
                "SELECT has_table_privilege('system_a', 'shared.sso_session', 'TRUNCATE'),"
                " has_schema_privilege('system_a', 'system_b', 'USAGE')"
            )
            assert cursor.fetchone() == (False, False)
        test_a_service_role_reads_and_writes_rows_of_the_shared_tables("system_b")
    finally:
        with superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS shared.sso_made_by_an_older_release")


def provision_service(service: str, password: str | None) -> subprocess.CompletedProcess:
    """db/provision-service.sql as ./stack runs it: the superuser, the password in psql's environment."""
    env = {key: value for key, value in os.environ.items() if key != "SERVICE_DB_PASSWORD"}
    env["PGPASSWORD"] = read_env_file(os.environ.get("E2E_ENV_FILE") or os.environ["STACK_ENV_FILE"])[
        "POSTGRES_PASSWORD"
    ]
    if password is not None:
        env["SERVICE_DB_PASSWORD"] = password
    command = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", os.environ["STACK_PG_PORT"], "-U", "postgres"]
    command += ["-d", "postgres", "-v", f"service={service}", "-f", str(ROOT / "db" / "provision-service.sql")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_a_service_without_its_password_is_not_provisioned_and_keeps_its_old_one():
    refused = provision_service("a", None)
    assert refused.returncode != 0
    assert "SYSTEM_A_DB_PASSWORD, the password of the role system_a, is not set" in refused.stderr
    assert "cannot name a service" in provision_service("a;drop", "x" * 20).stderr
    connect_as_service_role("system_a").close()  # its password is the one it had


def test_a_third_declared_service_gets_a_role_and_schema_with_the_same_rights_as_the_others():
    """What db/provision-service.sql gives any declared service: tried with a service zz, acting as
    its role (the superuser's SET ROLE; no login: pg_hba.conf lets in the declared services only)."""
    try:
        provided = provision_service("zz", "a-password-of-the-third-service")
        assert provided.returncode == 0, provided.stderr
        connection = superuser_connection()
        connection.autocommit = False
        with connection.cursor() as cursor:
            own = {"own": "system_zz", "other": "system_a"}
            # (SET ROLE is checked against the session's user, here the superuser: asked below instead.)
            for statement, refusal in FORBIDDEN.items():
                if statement.startswith("SET ROLE"):
                    continue
                cursor.execute("SET ROLE system_zz")
                with pytest.raises(psycopg2.Error) as refused:
                    cursor.execute(statement.format(**own))
                assert refusal.format(**own) in str(refused.value), statement
                connection.rollback()
            cursor.execute(
                "SELECT pg_has_role('system_zz', 'sso_auth', 'MEMBER'),"
                " pg_has_role('system_zz', 'sso_maintenance', 'MEMBER')"
            )
            assert cursor.fetchone() == (False, False)
            cursor.execute("SET ROLE system_zz")
            for statement in ALLOWED:
                cursor.execute(statement.format(**own))
            connection.rollback()
            # ... and the others cannot look into its schema.
            cursor.execute("SET ROLE system_a")
            with pytest.raises(psycopg2.Error, match="permission denied for schema system_zz"):
                cursor.execute("CREATE TABLE system_zz.planted (id int)")
            connection.rollback()
        connection.close()
    finally:
        # (One connection after the other: psycopg2's `with` holds each one's transaction open.)
        with superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS system_zz CASCADE")
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'system_zz'")
            if cursor.fetchone():
                cursor.execute("DROP OWNED BY system_zz")
        connection.close()
        with superuser_connection("postgres") as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'system_zz'")
            if cursor.fetchone():
                cursor.execute("DROP OWNED BY system_zz")
                cursor.execute("DROP ROLE system_zz")
        connection.close()


@pytest.mark.skipif(not AS_ROOT, reason="without root every part runs as the one invoking user")
@pytest.mark.parametrize("role", ["a", "b", "web"])
def test_only_the_migrate_step_logs_in_as_the_migration_role(role):
    socket_dir = STATE / "pg" / "run"
    assert socket_dir.is_dir(), socket_dir

    def psql_as(user: str) -> subprocess.CompletedProcess:
        command = ["psql", "-X", "-h", str(socket_dir), "-p", os.environ["STACK_PG_PORT"]]
        command += ["-U", "sso_migrator", "-d", "sso", "-tAc", "SELECT current_user"]
        return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, timeout=30)

    refused = psql_as(os_user(role))
    assert refused.returncode != 0
    assert 'Peer authentication failed for user "sso_migrator"' in refused.stderr
    assert psql_as(os_user("migrate")).stdout.strip() == "sso_migrator"
    with pytest.raises(psycopg2.OperationalError) as over_tcp:
        psycopg2.connect(host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user="sso_migrator", dbname="sso")
    assert 'no pg_hba.conf entry for host "127.0.0.1", user "sso_migrator"' in str(over_tcp.value)


@pytest.mark.skipif(not AS_ROOT, reason="without root every part runs as the one invoking user")
@pytest.mark.parametrize("role", ["a", "b", "web", "migrate"])
def test_only_housekeeping_logs_in_as_the_maintenance_role(role):
    """sso_maintenance, the one role besides the owner that may delete audit events, lets in one OS user."""
    socket_dir = STATE / "pg" / "run"

    def psql_as(user: str, role: str = "sso_maintenance") -> subprocess.CompletedProcess:
        command = ["psql", "-X", "-h", str(socket_dir), "-p", os.environ["STACK_PG_PORT"]]
        command += ["-U", role, "-d", "sso", "-tAc", "SELECT current_user"]
        return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, timeout=30)

    refused = psql_as(os_user(role))
    assert refused.returncode != 0
    assert 'Peer authentication failed for user "sso_maintenance"' in refused.stderr
    assert psql_as(os_user("maintenance")).stdout.strip() == "sso_maintenance"
    # Nor is housekeeping's user let in as the migration role.
    assert (
        'Peer authentication failed for user "sso_migrator"' in psql_as(os_user("maintenance"), "sso_migrator").stderr
    )
    with pytest.raises(psycopg2.OperationalError) as over_tcp:
        psycopg2.connect(host="127.0.0.1", port=os.environ["STACK_PG_PORT"], user="sso_maintenance", dbname="sso")
    assert 'no pg_hba.conf entry for host "127.0.0.1", user "sso_maintenance"' in str(over_tcp.value)
