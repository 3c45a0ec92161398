"""The Compose deployment as an operator and an auditor see it."""

import base64
import concurrent.futures
import io
import json
import os
import re
import secrets as random
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests

from ..shared_table_rights import ALLOWED, FORBIDDEN, SERVICE_ROLES, for_role
from .conftest import ENV_FILE, ROOT, compose, container_id, inspect, run

APP_SERVICES = ("system_a", "system_b")


def test_every_long_running_service_is_healthy():
    rows = [json.loads(line) for line in compose("ps", "--format", "json").stdout.splitlines() if line.strip()]
    health = {row["Service"]: row["Health"] for row in rows}
    assert health == {
        "db": "healthy",
        "system_a": "healthy",
        "system_b": "healthy",
        "maintenance": "healthy",
        "nginx": "healthy",
    }


def test_only_nginx_publishes_a_port():
    rows = [json.loads(line) for line in compose("ps", "--format", "json").stdout.splitlines() if line.strip()]
    published = {row["Service"] for row in rows for port in row.get("Publishers") or [] if port.get("PublishedPort")}
    assert published == {"nginx"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_containers_run_as_a_non_root_user_who_can_write_only_to_tmp(service):
    """Not read-only (Compose hands secrets to no read-only container), yet nothing to write to."""
    details = inspect(container_id(service))
    assert details["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "/tmp" in details["HostConfig"]["Tmpfs"]
    assert compose("exec", "-T", service, "id", "-u").stdout.strip() == "10001"
    denied = compose("exec", "-T", service, "touch", "/app/written", check=False)
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    # Every folder and file of the root filesystem (-xdev: not /proc, /dev, nor into /tmp) the user may
    # write, but /tmp, the tmpfs's mount point. With no fallback keys their secret is /dev/null.
    found = compose(
        "exec",
        "-T",
        service,
        "find",
        "/",
        "-xdev",
        "(",
        "-type",
        "d",
        "-o",
        "-type",
        "f",
        ")",
        "-writable",
        check=False,
    ).stdout.split()
    assert "/tmp" in found
    for path in set(found) - {"/tmp"}:
        kind = compose("exec", "-T", service, "stat", "-L", "-c", "%F", path).stdout.strip()
        assert kind == "character special file", f"{path} ({kind}) is writable by the user app"
    assert compose("exec", "-T", service, "touch", "/tmp/written").returncode == 0


SERVICES = ("db", *APP_SERVICES, "maintenance", "nginx")
# The limits as the kernel applies them, in cgroup v1 or v2.
CGROUP_LIMITS = (
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
    " cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"
)


def status_fields(status: str) -> dict[str, str]:
    return {key: value.strip() for key, _, value in (line.partition(":") for line in status.splitlines())}


@pytest.mark.parametrize("service", (*SERVICES, "migrate"))
def test_every_container_is_unprivileged_and_limited(service):
    details = inspect(compose("ps", "-aq", service).stdout.strip())
    host = details["HostConfig"]
    assert details["Config"]["User"] not in ("", "0", "root", "root:root")
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Init"] is True
    assert host["Memory"] > 0 and host["PidsLimit"] > 0


@pytest.mark.parametrize("service", SERVICES)
def test_every_process_of_every_service_runs_unprivileged_within_its_limits(service):
    """What the kernel says of the running processes, not only what Docker was asked for."""
    ident = container_id(service)
    host = inspect(ident)["HostConfig"]
    # docker top: every process of the container, seen from the host (init, master and workers).
    processes = run("docker", "top", ident, "-eo", "pid,uid,args").stdout.splitlines()[1:]
    assert processes and all(line.split()[1] != "0" for line in processes), processes
    init = status_fields(compose("exec", "-T", service, "cat", "/proc/1/status").stdout)
    assert init["Uid"].split()[0] != "0"
    assert int(init["CapEff"], 16) == 0 and int(init["CapBnd"], 16) == 0
    assert init["NoNewPrivs"] == "1"
    memory, pids = compose("exec", "-T", service, "sh", "-c", CGROUP_LIMITS).stdout.split()
    assert (int(memory), int(pids)) == (host["Memory"], host["PidsLimit"])


def test_the_limits_come_from_the_env_file(tmp_path):
    """SYSTEM_A_MEMORY, NGINX_PIDS and the like in .env are what Compose gives Docker."""
    env_file = tmp_path / "env"
    env_file.write_text(Path(ENV_FILE).read_text() + "SYSTEM_A_MEMORY=300m\nNGINX_PIDS=77\n")
    config = json.loads(compose("config", "--format", "json", env_file=str(env_file)).stdout)["services"]
    assert config["system_a"]["mem_limit"] in ("300m", 300 * 1024 * 1024, str(300 * 1024 * 1024))
    assert config["nginx"]["pids_limit"] == 77
    defaults = json.loads(compose("config", "--format", "json").stdout)["services"]
    assert defaults["system_a"]["mem_limit"] != config["system_a"]["mem_limit"]


def secret_files(service: str) -> dict[str, str]:
    """What each file in the container's /run/secrets holds."""
    names = compose("exec", "-T", service, "ls", "/run/secrets").stdout.split()
    return {name: compose("exec", "-T", service, "cat", f"/run/secrets/{name}").stdout.strip() for name in names}


OWN_PASSWORD = {"system_a": "SYSTEM_A_DB_PASSWORD", "system_b": "SYSTEM_B_DB_PASSWORD"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_container_holds_only_its_own_secrets_and_as_files(service, secrets, base_url):
    """docker inspect and every process environment show no secret; /run/secrets holds its own only."""
    own = OWN_PASSWORD[service]
    others = {name for name in secrets if name not in (own, "SECRET_KEY")}
    details = json.dumps(inspect(container_id(service)))
    for name, value in secrets.items():
        assert value not in details, f"{name} in docker inspect of {service}"
    environments = compose("exec", "-T", service, "sh", "-c", "cat /proc/[0-9]*/environ").stdout
    assert "DB_PASSWORD_FILE=/run/secrets/" in environments  # the environments are really there
    for name, value in secrets.items():
        assert value not in environments, f"{name} in a process environment of {service}"
    files = secret_files(service)
    assert files[own.lower()] == secrets[own]
    assert files["secret_key"] == secrets["SECRET_KEY"]
    held = "\n".join(files.values())
    for name in others:
        assert secrets[name] not in held, f"{service} holds {name}"
    answer = requests.get(f"{base_url}{service[-1]}/whoami", timeout=10)
    assert answer.json() == {"service": service[-1], "authenticated": False, "username": None}


def test_only_the_migrate_job_and_the_database_hold_both_service_passwords(secrets):
    for service in ("migrate", "db"):
        details = json.dumps(inspect(compose("ps", "-aq", service).stdout.strip()))
        for name, value in secrets.items():
            assert value not in details, f"{name} in docker inspect of {service}"
    held = "\n".join(secret_files("db").values())
    assert all(secrets[name] in held for name in ("POSTGRES_PASSWORD", *OWN_PASSWORD.values()))
    assert secrets["SECRET_KEY"] not in held
    config = json.loads(compose("config", "--format", "json").stdout)["services"]
    sources = {service: {entry["source"] for entry in config[service].get("secrets", [])} for service in config}
    assert {"system_a_db_password", "system_b_db_password"} <= sources["migrate"]
    assert "system_b_db_password" not in sources["system_a"] and "system_a_db_password" not in sources["system_b"]
    assert not sources.get("nginx")


def test_keys_and_env_files_stay_out_of_the_build_context(tmp_path):
    """A key, certificate or .env dropped anywhere, even in a folder the images copy whole (nginx/),
    never reaches a build: the real .dockerignore over a copy of the tracked files plus planted ones,
    built the way the deployment builds (Compose, BuildKit) into an image that copies everything."""
    context = tmp_path / "context"
    for name in run("git", "ls-files").stdout.splitlines():
        if (ROOT / name).is_file():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, context / name)
    planted = [
        "nginx/planted.key",
        "nginx/cert.pem",
        "nginx/site.crt",
        "docker/build-ca/site-ca.crt",
        "shared/sso_shared/.env",
        "system_a/.env.local",
        ".env",
        "docker/extra-ca.pem",
    ]
    for name in planted:
        (context / name).write_text("planted\n")
    (context / "probe.Dockerfile").write_text("FROM scratch\nCOPY . /context/\n")
    image = f"sso-context-probe:{random.token_hex(4)}"
    probe = tmp_path / "probe.yaml"
    build = {"context": str(context), "dockerfile": "probe.Dockerfile"}
    probe.write_text(json.dumps({"name": "sso-context-probe", "services": {"probe": {"image": image, "build": build}}}))
    run("docker", "compose", "-f", str(probe), "build", "-q", env={"DOCKER_BUILDKIT": "1", "COMPOSE_BAKE": "false"})
    try:
        container = run("docker", "create", image, "none").stdout.strip()
        try:
            exported = subprocess.run(["docker", "export", container], capture_output=True, check=True).stdout
        finally:
            run("docker", "rm", container)
    finally:
        run("docker", "image", "rm", image)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        given = {name.removeprefix("context/") for name in archive.getnames() if name.startswith("context/")}
    # What the images do need still gets in (so the listing is a real one).
    needed = {
        "nginx/sso.conf.template",
        "nginx/make-test-cert.sh",
        "docker/build-ca/use-extra-ca.sh",
        "db/provision.sql",
        "db/provision-service.sql",
    }
    assert needed <= given
    assert not given & set(planted), sorted(given & set(planted))


def test_no_secret_in_any_image_history_or_metadata(images, secrets):
    for image in images:
        history = run("docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
        metadata = json.dumps(inspect(image, kind="image"))
        for name, value in secrets.items():
            assert value not in history, f"{name} in the history of {image}"
            assert value not in metadata, f"{name} in the metadata of {image}"


def found_in_layers(image: str, needles: list[bytes]) -> set[bytes]:
    """The needles that occur anywhere in the image: every byte of every layer, as `docker save` exports it."""
    overlap = max(len(needle) for needle in needles)
    found, tail = set(), b""
    saver = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    while chunk := saver.stdout.read(1 << 20):
        window = tail + chunk
        found.update(needle for needle in needles if needle in window)
        tail = window[-overlap:]
    assert saver.wait() == 0
    return found


def test_no_secret_in_any_image_layer(images, secrets):
    needles = [value.encode() for value in secrets.values()]
    for image in images:
        assert not found_in_layers(image, needles), f"a secret is in a layer of {image}"


PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def certificates(pem: str) -> list[list[bytes]]:
    """Each certificate in a PEM text as what any copy of it leaves in a file: its DER bytes and its
    full 64-character base64 lines (not the first, whose header many certificates share)."""
    found = []
    for body in PEM_CERTIFICATE.findall(pem):
        lines = body.split()
        found.append([base64.b64decode("".join(lines))] + [line.encode() for line in lines[1:] if len(line) == 64])
    return found


def test_no_extra_ca_the_build_was_given_is_in_any_image(images):
    """Extra CAs (a TLS-intercepting proxy's) are trusted by apt and pip while building, never kept.

    ./stack test gives the build this host's extra CAs plus a throwaway one it made.
    """
    config = json.loads(compose("config", "--format", "json").stdout)
    for name, service in config["services"].items():
        if "build" in service:
            assert {"source": "extra_ca"} in service["build"].get("secrets", []), f"{name} builds without extra_ca"
    given = Path(config["secrets"]["extra_ca"]["file"])
    extra_cas = certificates(given.read_text())
    assert extra_cas, f"the build was given no extra CA to check for ({given}; ./stack test adds a throwaway one)"
    for image in images:
        # The scan reads the image's trust store as it is stored: it finds Debian's first CA there.
        trust_store = run("docker", "run", "--rm", "--entrypoint", "cat", image, "/etc/ssl/certs/ca-certificates.crt")
        debian_ca = certificates(trust_store.stdout)[0]
        found = found_in_layers(image, debian_ca + [needle for ca in extra_cas for needle in ca])
        assert set(debian_ca[1:]) <= found, f"the scan of {image} does not see its own trust store"
        for number, extra_ca in enumerate(extra_cas, 1):
            assert not found & set(extra_ca), f"extra CA #{number} of {given} is in a layer of {image}"


def test_no_secret_in_the_logs(secrets):
    logs = compose("logs", "--no-color").stdout
    assert "Listening at" in logs  # the logs are really there
    for name, value in secrets.items():
        assert value not in logs, f"{name} appears in the logs"


def test_starting_again_changes_nothing():
    before = {service: container_id(service) for service in ("db", *APP_SERVICES, "nginx")}
    result = run(str(ROOT / "stack"), "up", "--compose")
    assert result.stdout.strip().endswith("/")
    after = {service: container_id(service) for service in ("db", *APP_SERVICES, "nginx")}
    assert after == before


def test_a_changed_secret_reaches_the_containers_on_the_next_up():
    """Compose alone does not see a secret's new value; ./stack up recreates the containers for it.
    (The environment wins over .env in ./stack, so the deployment's .env stays as it is.)"""
    services = ("db", *APP_SERVICES, "nginx")
    before = {service: container_id(service) for service in services}
    fallback = random.token_urlsafe(50)
    try:
        run(str(ROOT / "stack"), "up", "--compose", env={"SECRET_KEY_FALLBACKS": fallback})
        assert all(container_id(service) != before[service] for service in services)
        for service in APP_SERVICES:
            held = compose("exec", "-T", service, "cat", "/run/secrets/secret_key_fallbacks").stdout
            assert held.strip() == fallback
    finally:
        run(str(ROOT / "stack"), "up", "--compose", env={"SECRET_KEY_FALLBACKS": None})
    for service in APP_SERVICES:
        held = compose("exec", "-T", service, "cat", "/run/secrets/secret_key_fallbacks").stdout
        assert held == ""


def test_migrations_and_services_started_together_on_an_empty_database(throwaway_project):
    """Three migrate runs and both services race on a fresh database; all succeed, history stays single."""
    project = throwaway_project("sso-race")
    port = int(os.environ.get("E2E_RACE_PORT", "18180"))
    env = {"STACK_PORT": str(port), "STACK_HTTPS_PORT": str(port + 3)}
    try:
        compose("up", "-d", "--wait", "db", project=project, env=env)
        with concurrent.futures.ThreadPoolExecutor() as pool:
            runs = [
                pool.submit(compose, "run", "--rm", "--no-deps", "migrate", project=project, env=env, check=False)
                for _ in range(3)
            ]
            services = pool.submit(
                compose, "up", "-d", "--no-deps", "system_a", "system_b", project=project, env=env, check=False
            )
            results = [future.result() for future in runs]
        assert [result.returncode for result in results] == [0, 0, 0], [r.stderr[-2000:] for r in results]
        assert services.result().returncode == 0
        compose("up", "-d", "--wait", project=project, env=env)
        duplicates = compose(
            "exec",
            "-T",
            "db",
            "psql",
            "-U",
            "postgres",
            "-d",
            "sso",
            "-tAc",
            "SELECT count(*) - count(DISTINCT (app, name)) FROM shared.django_migrations",
            project=project,
            env=env,
        )
        assert duplicates.stdout.strip() == "0"
    finally:
        compose("down", "--volumes", "--remove-orphans", project=project, env=env, check=False)


def test_the_deployment_serves_https_with_the_sites_certificate(tmp_path, throwaway_project):
    """STACK_TLS_CERT/STACK_TLS_KEY in .env: HTTPS with HSTS and Secure cookies, HTTP redirects."""
    certs = tmp_path / "tls"
    run(str(ROOT / "nginx" / "make-test-cert.sh"), str(certs))
    # What docs/docker.md ("HTTPS with Docker Compose") asks of an operator: nginx runs as uid 10002, key 0600.
    os.chown(certs / "key.pem", 10002, -1)
    http_port = int(os.environ.get("E2E_RACE_PORT", "18180")) + 1
    https_port = http_port + 1
    project = throwaway_project("sso-tls")
    env = {
        "STACK_TLS_CERT": str(certs / "cert.pem"),
        "STACK_TLS_KEY": str(certs / "key.pem"),
        "STACK_PORT": str(http_port),
        "STACK_HTTPS_PORT": str(https_port),
    }
    try:
        compose(
            *("-f", "compose.yaml", "-f", "compose.services.yaml", "-f", "compose.https.yaml"),
            *("up", "-d", "--wait"),
            project=project,
            env=env,
        )
        redirect = requests.get(f"http://127.0.0.1:{http_port}/b/whoami", allow_redirects=False, timeout=10)
        assert redirect.status_code == 301
        assert redirect.headers["Location"] == f"https://127.0.0.1:{https_port}/b/whoami"
        login_url = f"https://127.0.0.1:{https_port}/a/accounts/login/"
        page = requests.get(login_url, verify=str(certs / "cert.pem"), timeout=10)
        assert page.status_code == 200
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in page.headers["Set-Cookie"]
    finally:
        compose("down", "--volumes", "--remove-orphans", project=project, env=env, check=False)


def without(secrets: dict, name: str, tmp_path) -> tuple[str, dict]:
    """An env file lacking one secret, and an environment that does not bring it back; with the
    Compose files ./stack env names in every env file it writes."""
    env_file = tmp_path / "env"
    compose_files = [line for line in Path(ENV_FILE).read_text().splitlines() if line.startswith("COMPOSE_FILE=")]
    assert compose_files, f"{ENV_FILE} names no COMPOSE_FILE"
    lines = [*compose_files, *(f"{key}={value}" for key, value in secrets.items() if key != name)]
    env_file.write_text("".join(f"{line}\n" for line in lines))
    return str(env_file), {key: None for key in (*secrets, "SECRET_KEY_FILE")}


def test_a_missing_database_password_stops_compose_before_anything_starts(tmp_path, secrets):
    env_file, env = without(secrets, "SYSTEM_B_DB_PASSWORD", tmp_path)
    result = compose("up", "-d", project="sso-nopass", env_file=env_file, env=env, check=False)
    assert result.returncode != 0
    assert "SYSTEM_B_DB_PASSWORD is not set. Run ./stack env" in result.stderr
    assert run("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=sso-nopass").stdout == ""


@pytest.mark.parametrize("missing", ["absent", "empty"])
def test_a_missing_secret_key_stops_the_deployment_with_what_to_do(tmp_path, secrets, missing, throwaway_project):
    """Absent from .env, Compose itself refuses to start anything; empty (SECRET_KEY=), `migrate` and
    the services start and say what to do, and nginx never starts: the site is never half up."""
    env_file, env = without(secrets, "SECRET_KEY", tmp_path)
    if missing == "empty":
        Path(env_file).write_text(Path(env_file).read_text() + "SECRET_KEY=\n")
    project = throwaway_project("sso-nokey")
    env["STACK_PORT"] = str(int(os.environ.get("E2E_RACE_PORT", "18180")) + 5)
    env["STACK_HTTPS_PORT"] = str(int(env["STACK_PORT"]) + 1)
    try:
        up = compose("up", "-d", "--wait", project=project, env_file=env_file, env=env, check=False)
        assert up.returncode != 0
        listing = compose(
            "ps", "-a", "--format", "{{.Service}} {{.State}}", project=project, env_file=env_file, env=env
        )
        states = dict(line.split() for line in listing.stdout.splitlines())
        if missing == "absent":
            assert 'environment variable "SECRET_KEY" required by secret' in up.stderr
            assert states["migrate"] == "created"
        else:
            for service in ("migrate", "system_a", "system_b"):
                logs = compose("logs", "--no-log-prefix", service, project=project, env_file=env_file, env=env)
                assert "SECRET_KEY is not set. Run `./stack env --force`" in logs.stdout, service
            assert states["migrate"] == "exited"
        if missing == "absent":
            assert {states[service] for service in ("system_a", "system_b")} == {"created"}  # never started
        assert states["nginx"] == "created"  # never started
    finally:
        compose("down", "--volumes", project=project, env_file=env_file, env=env, check=False)


def test_secret_key_from_a_file_reaches_both_services_as_a_docker_secret(tmp_path, secrets, throwaway_project):
    env_file, env = without(secrets, "SECRET_KEY", tmp_path)
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets["SECRET_KEY"] + "\n")
    project = throwaway_project("sso-keyfile")
    env["SECRET_KEY_FILE"] = str(key_file)
    env["STACK_PORT"] = str(int(os.environ.get("E2E_RACE_PORT", "18180")) + 7)
    env["STACK_HTTPS_PORT"] = str(int(env["STACK_PORT"]) + 1)
    try:
        compose("up", "-d", "--wait", project=project, env_file=env_file, env=env)
        for service in APP_SERVICES:
            service_id = compose("ps", "-q", service, project=project, env_file=env_file, env=env).stdout.strip()
            assert secrets["SECRET_KEY"] not in json.dumps(inspect(service_id))
            mounted = run("docker", "exec", service_id, "cat", "/run/secrets/secret_key").stdout
            assert mounted.strip() == secrets["SECRET_KEY"]
        answer = requests.get(f"http://127.0.0.1:{env['STACK_PORT']}/b/whoami", timeout=10)
        assert answer.json() == {"service": "b", "authenticated": False, "username": None}
    finally:
        compose("down", "--volumes", project=project, env_file=env_file, env=env, check=False)


ROLE_REACHES = {"system_a": {"sso"}, "system_b": {"sso"}}


@pytest.mark.parametrize("role", sorted(ROLE_REACHES))
def test_each_service_role_reaches_only_the_deployments_database(role, secrets):
    """Over the network, as a compromised service would try, with its own password."""
    password = {"PGPASSWORD": secrets[f"SYSTEM_{role[-1].upper()}_DB_PASSWORD"]}
    for database in ("sso", "postgres", "template1"):
        attempt = compose("exec", "-T", "-e", "PGPASSWORD", "db", "psql", "-h", "127.0.0.1", "-U", role,
                          "-d", database, "-tAc", "SELECT 1", env=password, check=False)  # fmt: skip
        if database in ROLE_REACHES[role]:
            assert attempt.stdout.strip() == "1", attempt.stderr
        else:
            assert attempt.returncode != 0
            assert f'no pg_hba.conf entry for host "127.0.0.1", user "{role}", database "{database}"' in attempt.stderr


def psql_in_db_container(role: str, password: str, sql: str) -> subprocess.CompletedProcess:
    """As a compromised service would, over the network, with its own password."""
    command = ["psql", "-X", "-h", "127.0.0.1", "-U", role, "-d", "sso", "-v", "ON_ERROR_STOP=1", "-tAc", sql]
    return compose("exec", "-T", "-e", "PGPASSWORD", "db", *command, env={"PGPASSWORD": password}, check=False)


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_a_service_role_has_rows_but_no_schema_rights_in_the_shared_schema_and_none_in_the_others(role, secrets):
    password = secrets[f"SYSTEM_{role[-1].upper()}_DB_PASSWORD"]
    for statement, answer in FORBIDDEN.items():
        attempt = psql_in_db_container(role, password, f"BEGIN; {for_role(statement, role)}; ROLLBACK")
        assert attempt.returncode != 0 and for_role(answer, role) in attempt.stderr, (statement, attempt.stderr)
    allowed_statements = "; ".join(for_role(statement, role) for statement in ALLOWED)
    allowed = psql_in_db_container(role, password, f"BEGIN; {allowed_statements}; ROLLBACK")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("service", APP_SERVICES)
def test_no_app_container_can_log_in_as_the_migration_role(service):
    """The migration role logs in only over the socket in the volume the migrate job alone mounts."""
    attempt = compose("exec", "-T", service, "python3", "-c", (
        "import psycopg2\n"
        "for host in ('db', '/run/postgresql-migrate'):\n"
        "    try: psycopg2.connect(host=host, user='sso_migrator', dbname='sso', connect_timeout=5)\n"
        "    except psycopg2.OperationalError as refused: print(str(refused).strip().splitlines()[0])\n"
        "    else: print('CONNECTED')\n"
    ), check=False)  # fmt: skip
    lines = attempt.stdout.strip().splitlines()
    assert len(lines) == 2, attempt.stderr
    assert "no pg_hba.conf entry for host" in lines[0] and 'user "sso_migrator"' in lines[0]
    assert "No such file or directory" in lines[1]


# Connects over the db's second socket as each role and prints what PostgreSQL answered.
CONNECT_OVER_THE_SOCKET = (
    "import psycopg2\n"
    "for role in ('sso_maintenance', 'sso_migrator'):\n"
    "    try: print(psycopg2.connect(host='/run/postgresql-migrate', user=role, dbname='sso').info.user)\n"
    "    except psycopg2.OperationalError as refused: print(str(refused).strip().splitlines()[0])\n"
)


def test_only_the_maintenance_container_logs_in_as_the_maintenance_role():
    """sso_maintenance may delete audit events: only housekeeping's container gets in as it, and not as the
    migration role, though it shares that socket."""
    lines = compose("exec", "-T", "maintenance", "python3", "-c", CONNECT_OVER_THE_SOCKET).stdout.splitlines()
    assert lines[0] == "sso_maintenance"
    assert 'Peer authentication failed for user "sso_migrator"' in lines[1]
    for service in APP_SERVICES:
        attempt = compose("exec", "-T", service, "python3", "-c", CONNECT_OVER_THE_SOCKET, check=False)
        assert attempt.stdout.count("No such file or directory") == 2, attempt.stdout + attempt.stderr
