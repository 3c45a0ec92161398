"""The backup file of ./stack backup and ./stack restore: write it, check it, read it back.

One uncompressed tar (the dumps are compressed already) holding, in this order:
  SHA256SUMS        sha256 of every other member, in sha256sum's format
  manifest.json     versions, migration state of each part, time, mode, layout, SECRET_KEY fingerprint
  one pg_dump -Fc a part of the data:
    layout "schemas" (format 2): system_NAME.dump for each service services.toml declared, then
                     shared.dump: a schema each of the one database (docs/architecture.md)
    layout "databases" (format 1, and format 2 when a site moves): sso_auth.dump, system_a.dump,
                     system_b.dump, the three databases of the layout before
  media_NAME.tar    the uploads of each service added with ./stack add-service (its MEDIA_ROOT), after the dumps
By hand: tar -xf FILE && sha256sum -c SHA256SUMS && cat manifest.json

Standard library only: ./stack runs it with the system's python3, before any venv exists.

  backup_file.py pack --dir DIR --mode MODE --out FILE   write FILE from what ./stack gathered in DIR
  backup_file.py extract FILE DIR                          check FILE and unpack it into DIR
  backup_file.py check DIR [--new-secret-key]              may DIR's backup be restored onto this code?
  backup_file.py parts DIR                                 the parts of DIR's backup, in the order restored
  backup_file.py media DIR                                 the services whose uploads DIR's backup holds
Exit status: 0 fine, 1 bad usage or a file that is there already, 2 a damaged file,
3 a file from a newer release, 4 another SECRET_KEY.
"""

import argparse
import datetime
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from pathlib import Path

FORMAT = "sso-stack-backup"
FORMAT_VERSION = 2
LAYOUTS = ("schemas", "databases")
# The shared part of each layout; every other part is a service's (system_NAME), whose code alone
# knows the migrations recorded there. The shared part records those of every service.
SHARED_PART = {"schemas": "shared", "databases": "sso_auth"}
SERVICE_PART = re.compile(r"system_([a-z][a-z0-9]{0,6})")
MEDIA_MEMBER = re.compile(r"media_([a-z][a-z0-9]{0,6})\.tar")
# The parts of the layout before (three databases), and of a backup that names no services (A and B).
LEGACY_PARTS = ("system_a", "system_b", "sso_auth")
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
CHUNK = 1 << 20


def part_service(part: str) -> str | None:
    """The service whose part PART is (system_NAME), or None for the shared part."""
    match = SERVICE_PART.fullmatch(part)
    return match.group(1) if match else None


def is_part(name: str) -> bool:
    return name in SHARED_PART.values() or part_service(name) is not None


def parts_of(manifest: dict) -> tuple[str, ...]:
    """The parts a backup holds, the shared one first (the order a restore takes)."""
    return tuple(manifest["databases"])


def media_of(manifest: dict) -> tuple[str, ...]:
    """The services whose uploads the backup holds (none before format 2 knew them)."""
    return tuple(manifest.get("media", {}))


def members_of(manifest: dict) -> tuple[str, ...]:
    dumps = (f"{name}.dump" for name in parts_of(manifest))
    return (SUMS, MANIFEST, *dumps, *(f"media_{service}.tar" for service in media_of(manifest)))


def is_dump_member(name: str) -> bool:
    return name.endswith(".dump") and is_part(name.removesuffix(".dump")) or bool(MEDIA_MEMBER.fullmatch(name))


DAMAGED, NEWER, OTHER_KEY = 2, 3, 4


class Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- writing ------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def service_info(directory: Path, service: str) -> dict:
    return json.loads((directory / f"{service}.json").read_text())


def layout_gathered(directory: Path) -> str:
    """The layout ./stack found the data in (the file `layout` it wrote); schemas when it wrote none."""
    path = directory / "layout"
    return path.read_text().strip() if path.exists() else "schemas"


def services_of_code(directory: Path) -> list[str]:
    """The services whose code ./stack asked (the file `services` it wrote: services.toml's)."""
    return (directory / "services").read_text().split()


def code_of_the_site(directory: Path) -> dict[str, dict]:
    """What each service's code said about itself, by service, in services.toml's order."""
    return {service: service_info(directory, service) for service in services_of_code(directory)}


def parts_gathered(directory: Path, layout: str) -> list[str]:
    """The parts ./stack dumped into DIRECTORY (the file `parts` it wrote), the shared one first: the
    order of the file's members and of a restore (the services' tables hold foreign keys into it)."""
    path = directory / "parts"
    parts = path.read_text().split() if path.exists() else list(LEGACY_PARTS if layout == "databases" else ())
    return sorted(parts, key=lambda part: part_service(part) is not None)


def media_gathered(directory: Path) -> list[str]:
    """The services whose uploads ./stack gathered (the file `media` it wrote), each as media_NAME.tar."""
    path = directory / "media"
    return path.read_text().split() if path.exists() else []


def build_manifest(directory: Path, mode: str) -> dict:
    info = code_of_the_site(directory)
    first = next(iter(info.values()))
    layout = layout_gathered(directory)
    parts = parts_gathered(directory, layout)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "layout": layout,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": mode,
        "release": (directory / "release").read_text().strip(),
        "services": [part_service(name) for name in parts if part_service(name)],
        "versions": {
            **first["versions"],
            "postgresql": (directory / "postgresql-version").read_text().strip(),
        },
        "versions_of_services": {service: info[service]["versions"] for service in info},
        "migrations": {name: (directory / f"{name}.migrations").read_text().split() for name in parts},
        "secret_key_fingerprint": first["secret_key_fingerprint"],
        "databases": {
            name: {
                "file": f"{name}.dump",
                "bytes": (directory / f"{name}.dump").stat().st_size,
                "sha256": sha256_of(directory / f"{name}.dump"),
            }
            for name in parts
        },
        "media": {
            service: {
                "file": f"media_{service}.tar",
                "bytes": (directory / f"media_{service}.tar").stat().st_size,
                "sha256": sha256_of(directory / f"media_{service}.tar"),
            }
            for service in media_gathered(directory)
        },
    }


def add_member(archive: tarfile.TarFile, name: str, path: Path | None = None, data: bytes | None = None):
    member = tarfile.TarInfo(name)
    member.mode = 0o600
    member.mtime = int(datetime.datetime.now().timestamp())
    if data is not None:
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    else:
        member.size = path.stat().st_size
        with path.open("rb") as file:
            archive.addfile(member, file)


def pack(directory: Path, mode: str, out: Path) -> None:
    if out.exists():
        raise Refusal(1, f"{out} exists already; name another file (nothing was written).")
    built = build_manifest(directory, mode)
    parts = parts_of(built)
    manifest = json.dumps(built, indent=1).encode() + b"\n"
    files = [*(f"{name}.dump" for name in parts), *(f"media_{service}.tar" for service in media_of(built))]
    sums = f"{hashlib.sha256(manifest).hexdigest()}  {MANIFEST}\n" + "".join(
        f"{sha256_of(directory / name)}  {name}\n" for name in files
    )
    partial = out.with_name(f".{out.name}.partial")
    # Only its owner may read it: it holds password hashes and live sessions.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(descriptor, "wb") as file,
            tarfile.open(fileobj=file, mode="w:", format=tarfile.PAX_FORMAT) as tar,
        ):
            add_member(tar, SUMS, data=sums.encode())
            add_member(tar, MANIFEST, data=manifest)
            for name in files:
                add_member(tar, name, path=directory / name)
        os.chmod(partial, 0o600)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# --- reading ------------------------------------------------------------------------


def damaged(file: Path, why: str) -> Refusal:
    return Refusal(
        DAMAGED,
        f"{file} is damaged or not a backup of ./stack backup: {why}. Nothing was changed; use another copy.",
    )


def extract(file: Path, directory: Path) -> dict:
    """Unpack the members into DIRECTORY, checking each against SHA256SUMS; return the manifest."""
    sums: dict[str, str] = {}
    seen = []
    try:
        with tarfile.open(file, mode="r:") as tar:
            for member in tar:
                known = member.name in {SUMS, MANIFEST} or is_dump_member(member.name)
                if not known or member.name in seen or not member.isfile():
                    raise damaged(file, f"unexpected member {member.name!r}")
                if not seen and member.name != SUMS:
                    raise damaged(file, f"{SUMS} is not its first member")
                seen.append(member.name)
                source = tar.extractfile(member)
                digest = hashlib.sha256()
                with (directory / member.name).open("wb") as target:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        target.write(chunk)
                if member.name == SUMS:
                    sums = parse_sums(file, (directory / SUMS).read_text(errors="replace"))
                elif sums.get(member.name) != digest.hexdigest():
                    raise damaged(file, f"the checksum of {member.name} does not match {SUMS}")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise damaged(file, f"it cannot be read as a tar file ({error})") from None
    if MANIFEST not in seen:
        raise damaged(file, f"{MANIFEST} missing (cut short?)")
    manifest = read_manifest(file, directory / MANIFEST)
    missing = [name for name in members_of(manifest) if name not in seen]
    if missing:
        raise damaged(file, f"{', '.join(missing)} missing (cut short?)")
    if set(sums) != set(members_of(manifest)) - {SUMS}:
        raise damaged(file, f"{SUMS} does not list exactly the manifest, the dumps of its layout and its uploads")
    return manifest


def parse_sums(file: Path, text: str) -> dict[str, str]:
    sums = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        if not match:
            raise damaged(file, f"{SUMS} holds a line that is not a checksum")
        sums[match.group(2)] = match.group(1)
    return sums


def read_manifest(file: Path, path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
        if manifest["format"] != FORMAT:
            raise ValueError(f"format {manifest['format']!r}")
        # Format 1 knew one layout: the three databases.
        manifest.setdefault("layout", "databases")
        if manifest["layout"] not in LAYOUTS:
            raise ValueError(f"layout {manifest['layout']!r}")
        if SHARED_PART[manifest["layout"]] not in parts_of(manifest):
            raise ValueError("no shared part")
        for name in parts_of(manifest):
            if not is_part(name) or name in SHARED_PART.values() and name != SHARED_PART[manifest["layout"]]:
                raise ValueError(f"part {name!r}")
            if not isinstance(manifest["migrations"][name], list):
                raise ValueError(f"migrations of {name}")
        for service in media_of(manifest):
            if not MEDIA_MEMBER.fullmatch(f"media_{service}.tar"):
                raise ValueError(f"uploads of {service!r}")
        manifest["versions"]["sso_shared"], manifest["versions"]["django"], manifest["secret_key_fingerprint"]
    except (ValueError, KeyError, TypeError) as error:
        raise damaged(file, f"its manifest is not one ./stack backup writes ({error})") from None
    if manifest["format_version"] > FORMAT_VERSION:
        raise Refusal(
            NEWER,
            f"{file} was written by a newer ./stack (backup format {manifest['format_version']}; this one "
            f"reads {FORMAT_VERSION}). Restore it with the release it came from. Nothing was changed.",
        )
    return manifest


# --- may it be restored onto this code? ------------------------------------------------


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(re.match(r"\d*", part).group() or 0) for part in text.split("."))


def undeclared_services(manifest: dict, code: dict[str, dict]) -> list[str]:
    """Services whose data the backup holds and services.toml does not declare here."""
    return [service for part in parts_of(manifest) if (service := part_service(part)) and service not in code]


def newer_release(manifest: dict, code: dict[str, dict]) -> list[str]:
    """What in the backup this code does not have: newer versions, unknown migrations."""
    reasons = []
    first = next(iter(code.values()))
    for package in ("sso_shared", "django"):
        theirs, ours = manifest["versions"][package], first["versions"][package]
        if version_tuple(theirs) > version_tuple(ours):
            reasons.append(f"{package} {theirs} (this code has {ours})")
    for part in parts_of(manifest):
        services = [part_service(part)] if part_service(part) else list(code)
        known = set().union(*(code[service]["known_migrations"] for service in services))
        unknown = [name for name in manifest["migrations"][part] if name not in known]
        if unknown:
            reasons.append(f"migrations of {part} this code does not know: {', '.join(unknown)}")
    return reasons


def older_release(manifest: dict, code: dict[str, dict]) -> bool:
    first = next(iter(code.values()))
    return any(
        version_tuple(manifest["versions"][package]) < version_tuple(first["versions"][package])
        for package in ("sso_shared", "django")
    )


def check(directory: Path, new_secret_key: bool) -> list[str]:
    """Refuse (Refusal) or return notes for the operator."""
    manifest = json.loads((directory / MANIFEST).read_text())
    code = code_of_the_site(directory)
    if undeclared := undeclared_services(manifest, code):
        raise Refusal(
            1,
            f"this backup holds the data of {', '.join(undeclared)}, which services.toml does not declare here "
            f"(it declares {', '.join(code)}). Declare {'them' if len(undeclared) > 1 else 'it'} again "
            "(./stack add-service), or restore the backup with the release it came from. Nothing was changed.",
        )
    if reasons := newer_release(manifest, code):
        raise Refusal(
            NEWER,
            "this backup comes from a newer release than this code: "
            + "; ".join(reasons)
            + ". Restore it with that release (or a newer one). Nothing was changed.",
        )
    notes = []
    held = {part_service(part) for part in parts_of(manifest)}
    for service in code:
        if service not in held:
            notes.append(
                f"the backup holds no data of {service} (declared here, after the backup was taken): "
                "its schema starts empty and is migrated after the restore."
            )
    if older_release(manifest, code):
        notes.append(
            f"the backup comes from an older release (sso_shared {manifest['versions']['sso_shared']}, "
            f"Django {manifest['versions']['django']}): the databases are migrated after the restore."
        )
    theirs, first = manifest["secret_key_fingerprint"], next(iter(code.values()))
    if theirs != first["secret_key_fingerprint"]:
        if theirs in first["fallback_fingerprints"]:
            notes.append("the backup's SECRET_KEY is one of SECRET_KEY_FALLBACKS: its sessions still verify.")
        elif new_secret_key:
            notes.append(
                "this site's SECRET_KEY is not the one of the backup (--new-secret-key): "
                "everyone will have to log in again."
            )
        else:
            raise Refusal(
                OTHER_KEY,
                "this site's SECRET_KEY is not the one the backup was taken with, so the login sessions in "
                "it would not verify: everyone would be logged out. Put the old key into the env file "
                "(SECRET_KEY, or add it to SECRET_KEY_FALLBACKS), or restore anyway with --new-secret-key. "
                "Nothing was changed.",
            )
    return notes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pack_parser = commands.add_parser("pack")
    pack_parser.add_argument("--dir", type=Path, required=True)
    pack_parser.add_argument("--mode", required=True)
    pack_parser.add_argument("--out", type=Path, required=True)
    extract_parser = commands.add_parser("extract")
    extract_parser.add_argument("file", type=Path)
    extract_parser.add_argument("dir", type=Path)
    check_parser = commands.add_parser("check")
    check_parser.add_argument("dir", type=Path)
    check_parser.add_argument("--new-secret-key", action="store_true")
    parts_parser = commands.add_parser("parts")
    parts_parser.add_argument("dir", type=Path)
    media_parser = commands.add_parser("media")
    media_parser.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            pack(args.dir, args.mode, args.out)
        elif args.command == "extract":
            manifest = extract(args.file, args.dir)
            print(
                f"{args.file}: taken {manifest['created']} ({manifest['mode']}), sso_shared "
                f"{manifest['versions']['sso_shared']}, Django {manifest['versions']['django']}; checksums good.",
                file=sys.stderr,
            )
        elif args.command == "parts":
            print("\n".join(parts_of(json.loads((args.dir / MANIFEST).read_text()))))
        elif args.command == "media":
            print("\n".join(media_of(json.loads((args.dir / MANIFEST).read_text()))))
        else:
            for note in check(args.dir, args.new_secret_key):
                print(f"note: {note}", file=sys.stderr)
    except Refusal as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return refusal.status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
