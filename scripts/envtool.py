"""What ./stack reads and writes in its env file (.env), with the standard library only
(./stack runs it with the system python3, before .venv exists).

    envtool.py check FILE            say which secret is missing or unusable; exit 1 if one is
    envtool.py repair FILE           back FILE up (mode 0600), then give each such secret a fresh
                                     random value, keeping every other line as it is
    envtool.py has FILE KEY          exit 0 when FILE assigns KEY
    envtool.py record FILE KEY VALUE WHY   append KEY=VALUE (with a comment saying why) unless FILE
                                     assigns KEY already
    envtool.py compose-files FILE VALUE   make COMPOSE_FILE=VALUE, where FILE does not assign it or
                                     assigns a list of ./stack's own Compose files; warn of another

A secret is unusable when the services would refuse it at start (shared/sso_shared/environment/values.py and
databases.py: the same rules, said again here because those need Django).
"""

import os
import re
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared" / "sso_shared" / "environment"))
from envfile import EnvFileError, read_env_file  # noqa: E402  (stdlib-only modules, by path)
from services import ServicesDeclarationError, declared_services  # noqa: E402

PLACEHOLDER_MARK = "change-me"
INSECURE_PREFIX = "django-insecure-"  # Django's own mark of a startproject key (security.W009)
MIN_UNIQUE_CHARACTERS = 5  # django.core.checks.security.base.SECRET_KEY_MIN_UNIQUE_CHARACTERS
KEY_MIN_LENGTH = 50
SERVICE_PASSWORD_MIN_LENGTH = 16


def wanted_secrets() -> dict[str, int]:
    """Each secret ./stack env writes, and the shortest value the services accept: the key, the
    superuser's password, and a password for each service services.toml declares (this checkout's,
    unless SSO_SERVICES_FILE names another)."""
    os.environ.setdefault("SSO_SERVICES_FILE", str(ROOT / "services.toml"))
    try:
        services = declared_services()
    except ServicesDeclarationError as error:
        sys.exit(f"error: {error}")
    passwords = {f"SYSTEM_{name.upper()}_DB_PASSWORD": SERVICE_PASSWORD_MIN_LENGTH for name in services}
    return {"SECRET_KEY": KEY_MIN_LENGTH, "POSTGRES_PASSWORD": 1, **passwords}


def fresh_secret() -> str:
    """64 letters and digits, as scripts/write-env.sh makes them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(64))


def problem(name: str, value: str | None, min_length: int) -> str:
    """Why the services would refuse this value, or ""."""
    if not value:
        return f"{name} is not set"
    if PLACEHOLDER_MARK in value:
        return f"{name} still holds the placeholder from .env.example"
    if len(value) < min_length:
        return f"{name} is too short ({len(value)} characters, at least {min_length} needed)"
    if value.startswith(INSECURE_PREFIX):
        return f"{name} starts with {INSECURE_PREFIX!r}"
    if len(set(value)) < MIN_UNIQUE_CHARACTERS:
        return f"{name} has too little variety (fewer than {MIN_UNIQUE_CHARACTERS} different characters)"
    return ""


def problems(values: dict[str, str]) -> dict[str, str]:
    """Each secret ./stack env writes, missing or unusable: NAME -> why."""
    found = {}
    for name, min_length in wanted_secrets().items():
        if name == "SECRET_KEY" and values.get("SECRET_KEY_FILE"):
            continue  # the key comes from that file; the services check it there
        if reason := problem(name, values.get(name), min_length):
            found[name] = reason
    return found


def fallback_problems(values: dict[str, str]) -> list[str]:
    """Old keys (SECRET_KEY_FALLBACKS) the services would refuse: each must be as strong as SECRET_KEY."""
    if values.get("SECRET_KEY_FALLBACKS_FILE"):
        return []
    keys = [key.strip() for key in values.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()]
    reasons = [problem("a key in SECRET_KEY_FALLBACKS", key, KEY_MIN_LENGTH) for key in keys]
    return [reason for reason in reasons if reason]


def read(path: Path) -> dict[str, str]:
    try:
        # The file alone decides here: a value exported in ./stack's environment is not the file's.
        return read_env_file(path, environ={})
    except EnvFileError as error:
        sys.exit(f"error: {error} (Docker Compose's .env syntax)")


def assigns(line: str, names) -> bool:
    match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[=:]", line)
    return bool(match) and match.group(1) in names


def write_private(path: Path, text: str) -> None:
    """TEXT into PATH through a fresh file of mode 0600, renamed into place in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)


def cmd_check(path: Path) -> int:
    """The values the services would get: the environment's where set (it wins, as in Compose)."""
    values = read(path) if path.exists() else {}
    names = [*wanted_secrets(), "SECRET_KEY_FILE", "SECRET_KEY_FALLBACKS", "SECRET_KEY_FALLBACKS_FILE"]
    from_environment = {name for name in names if name in os.environ}
    values.update({name: os.environ[name] for name in from_environment})
    found = problems(values)
    for name, reason in found.items():
        where = "your environment" if name in from_environment else str(path)
        print(f"error: {reason} (in {where}).", file=sys.stderr)
    old_keys = fallback_problems(values)
    for reason in old_keys:
        where = "your environment" if "SECRET_KEY_FALLBACKS" in from_environment else str(path)
        print(f"error: {reason} (in {where}). Remove that key from SECRET_KEY_FALLBACKS there.", file=sys.stderr)
    if found.keys() - from_environment:
        print(
            "Run ./stack env --force: it writes fresh random values for exactly those into "
            f"{path} and keeps the old file as a backup (mode 0600).",
            file=sys.stderr,
        )
    if found.keys() & from_environment:
        names = ", ".join(sorted(found.keys() & from_environment))
        print(f"Unset or fix {names} in your environment.", file=sys.stderr)
    return 1 if found or old_keys else 0


def cmd_repair(path: Path) -> int:
    found = problems(read(path))
    if not found:
        print(f"every secret in {path} is usable; nothing replaced.", file=sys.stderr)
        return 0
    text = path.read_text(encoding="utf-8")
    backup = path.with_name(f"{path.name}.backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    kept = [line for line in text.splitlines() if not assigns(line, found)]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kept.append(f"# Fresh random values written by ./stack env --force on {stamp} (the old file: {backup.name}).")
    kept += [f"{name}={fresh_secret()}" for name in found]
    write_private(path, "\n".join(kept) + "\n")
    for name, reason in found.items():
        print(f"{reason}: wrote a fresh random {name}.", file=sys.stderr)
    print(f"the old file is kept as {backup} (mode 0600).", file=sys.stderr)
    return 0


def cmd_has(path: Path, key: str) -> int:
    return 0 if key in read(path) else 1


def cmd_record(path: Path, key: str, value: str, why: str) -> int:
    if key in read(path):
        return 0
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    if not re.fullmatch(r"[\w./:@+-]*", value):
        value = "'" + value.replace("'", "\\'") + "'"
    text += f"# Recorded by ./stack: {why}\n{key}={value}\n"
    mode = path.stat().st_mode & 0o777
    write_private(path, text)
    path.chmod(mode)
    print(f"recorded {key}={value} in {path} ({why}).", file=sys.stderr)
    return 0


# The Compose files ./stack names in COMPOSE_FILE (this release's, and the previous one's).
STACK_COMPOSE_FILES = {"compose.yaml", "compose.services.yaml", "compose.https.yaml"}


def cmd_compose_files(path: Path, value: str) -> int:
    """Plain `docker compose` reads COMPOSE_FILE from .env: keep it naming the files ./stack runs
    (compose.services.yaml came with the declared services; HTTPS adds compose.https.yaml)."""
    current = read(path).get("COMPOSE_FILE")
    if current is None:
        return cmd_record(path, "COMPOSE_FILE", value, "the Compose files of this site, for plain docker compose")
    if current == value:
        return 0
    if not set(current.split(":")) <= STACK_COMPOSE_FILES:
        print(
            f"warning: {path} says COMPOSE_FILE={current}: plain docker compose runs what ./stack runs only "
            f"with COMPOSE_FILE={value} (left as it is).",
            file=sys.stderr,
        )
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(f"COMPOSE_FILE={value}\n" if assigns(line, {"COMPOSE_FILE"}) else line for line in lines)
    mode = path.stat().st_mode & 0o777
    write_private(path, text)
    path.chmod(mode)
    print(f"recorded COMPOSE_FILE={value} in {path} (was {current}).", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "check": (cmd_check, 1),
        "repair": (cmd_repair, 1),
        "has": (cmd_has, 2),
        "record": (cmd_record, 4),
        "compose-files": (cmd_compose_files, 2),
    }
    if len(argv) < 2 or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        sys.exit(__doc__)
    function, _ = commands[argv[0]]
    return function(Path(argv[1]), *argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
