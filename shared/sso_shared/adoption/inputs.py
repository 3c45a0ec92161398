"""What an adoption reads: the legacy database, its SECRET_KEY and the optional username map.

Given as paths (``manage.py sso_adopt --from ... --secret-key-file ...``) or, as
``./stack adopt`` sends them, as a tar stream on standard input, so that neither
the key nor a database password ever appears on a command line, and a Compose
container needs no mounted host file. Nothing is written to disk: the members
are read into memory (a SQLite file is opened from memory too, see ``legacy``).
"""

import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.management import CommandError

# Member names of the tar stream ./stack adopt builds (scripts/stack/55-adopt.sh).
STREAM_MEMBERS = {"source.sqlite3", "source.url", "source.password", "source.label", "secret_key", "map.csv"}
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


@dataclass
class Inputs:
    label: str  # how the report names the source: a path, or a URL without its password
    secret_keys: list[str]  # the legacy SECRET_KEY, then any fallbacks
    sqlite_bytes: bytes | None = None
    url: str | None = None
    password: str | None = None
    map_text: str | None = None


def is_postgres_url(source: str) -> bool:
    return source.startswith(POSTGRES_SCHEMES)


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def secret_keys_from(text: str, where: str) -> list[str]:
    """First non-empty line: the SECRET_KEY; further lines: older keys (its SECRET_KEY_FALLBACKS)."""
    keys = [line.strip() for line in text.splitlines() if line.strip()]
    if not keys:
        raise CommandError(f"{where} is empty: it must hold the legacy project's SECRET_KEY.")
    return keys


def from_paths(source: str, secret_key_file: str, map_file: str | None) -> Inputs:
    try:
        key_text = Path(secret_key_file).read_text()
    except OSError as error:
        raise CommandError(f"cannot read the secret key file {secret_key_file}: {error.strerror}") from None
    keys = secret_keys_from(key_text, f"The secret key file {secret_key_file}")
    inputs = Inputs(label=source, secret_keys=keys, map_text=read_map(map_file) if map_file else None)
    if is_postgres_url(source):
        inputs.url, inputs.label = source, without_password(source)
    else:
        try:
            inputs.sqlite_bytes = Path(source).read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read the source {source}: {error.strerror}") from None
    return inputs


def read_map(map_file: str) -> str:
    try:
        return Path(map_file).read_text()
    except OSError as error:
        raise CommandError(f"cannot read the map file {map_file}: {error.strerror}") from None


def from_stream(stream) -> Inputs:
    members = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if not member.isfile() or name not in STREAM_MEMBERS:
                    continue
                members[name] = archive.extractfile(member).read()
    except tarfile.TarError as error:
        raise CommandError(f"standard input is not the tar stream ./stack adopt sends: {error}") from None
    if "secret_key" not in members:
        raise CommandError("no secret key given (./stack adopt ... --secret-key-file FILE)")
    text = {name: data.decode() for name, data in members.items() if name != "source.sqlite3"}
    keys = secret_keys_from(text["secret_key"], "The secret key file")
    inputs = Inputs(label=text.get("source.label", "the source"), secret_keys=keys, map_text=text.get("map.csv"))
    if "source.url" in text:
        inputs.url = text["source.url"].strip()
        inputs.password = text.get("source.password") or None
        inputs.label = without_password(inputs.url)
    elif "source.sqlite3" in members:
        inputs.sqlite_bytes = members["source.sqlite3"]
    else:
        raise CommandError("no source given (./stack adopt ... --from SQLITE_FILE|postgres://...)")
    return inputs
