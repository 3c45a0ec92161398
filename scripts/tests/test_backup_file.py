"""The backup file's own rules (scripts/backup_file.py), without a stack: what a restore accepts,
refuses and says. The whole round trip through ./stack is test_backup_restore.py."""

import hashlib
import importlib.util
import io
import json
import stat
import tarfile

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("backup_file", ROOT / "scripts" / "backup_file.py")
backup_file = importlib.util.module_from_spec(spec)
spec.loader.exec_module(backup_file)

KEY, OTHER_KEY = "k" * 64, "x" * 64


def info(service: str, key: str = KEY, fallbacks=(), sso_shared="0.2.0", django="5.2.19", extra_migrations=()):
    own = {"a": "intake.0001_initial", "b": "review.0001_initial"}.get(service, f"{service}.0001_initial")
    return {
        "service": service,
        "versions": {"django": django, "sso_shared": sso_shared},
        "known_migrations": ["auth.0001_initial", "sso_shared.0001_initial", own, *extra_migrations],
        "secret_key_fingerprint": fingerprint(key),
        "fallback_fingerprints": [fingerprint(fallback) for fallback in fallbacks],
    }


def fingerprint(key: str) -> str:
    return f"fingerprint-of-{key[0]}"


def gathered(tmp_path, layout="schemas", services=("a", "b"), **a_info):
    """What ./stack backup gathers before packing: from the one database (a schema per declared
    service, then the shared one), or from the three databases of the layout before (as a site that
    moves is backed up first)."""
    folder = tmp_path / "gathered"
    folder.mkdir()
    shared = {"schemas": "shared", "databases": "sso_auth"}[layout]
    (folder / "layout").write_text(f"{layout}\n")
    parts = (
        [f"system_{service}" for service in services] + [shared] if layout == "schemas" else backup_file.LEGACY_PARTS
    )
    (folder / "parts").write_text("\n".join(parts) + "\n")
    (folder / "services").write_text("\n".join(services) + "\n")
    for name in parts:
        (folder / f"{name}.dump").write_bytes(f"PGDMP {name}".encode() * 100)
    (folder / f"{shared}.migrations").write_text("auth.0001_initial\nsso_shared.0001_initial\n")
    for service in services:
        own = info(service)["known_migrations"][2]
        (folder / f"system_{service}.migrations").write_text(f"auth.0001_initial\n{own}\n")
        (folder / f"{service}.json").write_text(json.dumps(info(service, **a_info)))
    (folder / "postgresql-version").write_text("15.18\n")
    (folder / "release").write_text("commit abc123\n")
    return folder


@pytest.fixture
def backup(tmp_path):
    out = tmp_path / "site.tar"
    backup_file.pack(gathered(tmp_path), "native", out)
    return out


def unpacked(tmp_path, file, services=("a", "b"), **code_info):
    """The file extracted as a restore does, beside what the code of the SERVICES services.toml
    declares here says about itself."""
    folder = tmp_path / "restore"
    folder.mkdir()
    backup_file.extract(file, folder)
    write_code(folder, services, **code_info)
    return folder


def write_code(folder, services=("a", "b"), **code_info):
    """What ./stack writes before a check: the declared services and what their code says."""
    (folder / "services").write_text("\n".join(services) + "\n")
    for service in services:
        (folder / f"{service}.json").write_text(json.dumps(info(service, **code_info)))


def test_a_backup_is_private_whole_and_restorable_onto_the_same_code(tmp_path, backup):
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    folder = unpacked(tmp_path, backup)
    assert (folder / "system_b.dump").read_bytes() == b"PGDMP system_b" * 100
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["release"] == "commit abc123" and manifest["mode"] == "native"
    assert manifest["migrations"]["system_b"] == ["auth.0001_initial", "review.0001_initial"]
    assert backup_file.check(folder, new_secret_key=False) == []


def test_an_existing_file_is_never_overwritten(tmp_path, backup):
    before = backup.read_bytes()
    with pytest.raises(backup_file.Refusal, match="exists already"):
        backup_file.pack(tmp_path / "gathered", "native", backup)
    assert backup.read_bytes() == before


def last_member_data(data: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()[-1].offset_data


@pytest.mark.parametrize(
    "spoil, why",
    [
        (lambda data: data[: len(data) // 2], "cannot be read|missing"),
        (lambda data: data[: last_member_data(data) + 100], "cannot be read|missing"),
        (lambda data: data.replace(b"PGDMP shared", b"PGDMP sharEd", 1), "checksum of shared.dump"),
    ],
    ids=["cut in half", "last member cut", "one byte changed"],
)
def test_a_damaged_file_is_refused(tmp_path, backup, spoil, why):
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(spoil(backup.read_bytes()))
    (tmp_path / "restore").mkdir()
    with pytest.raises(backup_file.Refusal, match=why) as refusal:
        backup_file.extract(damaged, tmp_path / "restore")
    assert refusal.value.status == backup_file.DAMAGED
    assert "Nothing was changed" in str(refusal.value)


def test_a_member_the_format_does_not_know_is_refused(tmp_path, backup):
    with tarfile.open(backup, "a") as tar:
        extra = tarfile.TarInfo("../../etc/cron.d/evil")
        extra.size = 3
        tar.addfile(extra, io.BytesIO(b"bad"))
    (tmp_path / "restore").mkdir()
    with pytest.raises(backup_file.Refusal, match="unexpected member"):
        backup_file.extract(backup, tmp_path / "restore")


@pytest.mark.parametrize(
    "code, names",
    [
        ({"sso_shared": "0.1.9"}, "sso_shared 0.2.0 (this code has 0.1.9)"),
        ({"django": "5.2.18"}, "django 5.2.19 (this code has 5.2.18)"),
    ],
)
def test_a_backup_of_a_newer_release_is_refused(tmp_path, backup, code, names):
    folder = unpacked(tmp_path, backup, **code)
    with pytest.raises(backup_file.Refusal, match="newer release") as refusal:
        backup_file.check(folder, new_secret_key=False)
    assert names in str(refusal.value) and refusal.value.status == backup_file.NEWER


def test_migrations_this_code_does_not_know_are_refused_by_name(tmp_path):
    out = tmp_path / "site.tar"
    folder = gathered(tmp_path)
    (folder / "system_a.migrations").write_text("auth.0001_initial\nintake.0002_from_a_newer_release\n")
    backup_file.pack(folder, "native", out)
    with pytest.raises(backup_file.Refusal, match="system_a this code does not know: intake.0002_from_a_newer_release"):
        backup_file.check(unpacked(tmp_path, out), new_secret_key=False)


def test_a_backup_of_an_older_release_is_restored_and_migrated(tmp_path, backup):
    folder = unpacked(tmp_path, backup, sso_shared="0.3.0", extra_migrations=["sso_shared.0002_new"])
    (note,) = backup_file.check(folder, new_secret_key=False)
    assert "older release" in note and "migrated" in note


def test_another_secret_key_is_refused_unless_accepted_or_a_fallback(tmp_path, backup):
    folder = unpacked(tmp_path, backup, key=OTHER_KEY)
    with pytest.raises(backup_file.Refusal, match="SECRET_KEY is not the one the backup was taken with") as refusal:
        backup_file.check(folder, new_secret_key=False)
    assert refusal.value.status == backup_file.OTHER_KEY
    (note,) = backup_file.check(folder, new_secret_key=True)
    assert "everyone will have to log in again" in note

    rotated = tmp_path / "rotated"
    rotated.mkdir()
    for path in folder.iterdir():
        (rotated / path.name).write_bytes(path.read_bytes())
    write_code(rotated, key=OTHER_KEY, fallbacks=[KEY])
    (note,) = backup_file.check(rotated, new_secret_key=False)
    assert "SECRET_KEY_FALLBACKS" in note


def test_a_backup_names_its_layout_and_holds_a_dump_per_schema(tmp_path, backup):
    folder = unpacked(tmp_path, backup)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["format_version"], manifest["layout"]) == (2, "schemas")
    assert sorted(path.name for path in folder.glob("*.dump")) == ["shared.dump", "system_a.dump", "system_b.dump"]


def format_one_backup(tmp_path):
    """A backup as the release before one database wrote it: format 1, the three databases, no layout."""
    folder = gathered(tmp_path, layout="databases")
    members = {f"{name}.dump": (folder / f"{name}.dump").read_bytes() for name in ("sso_auth", "system_a", "system_b")}
    manifest = backup_file.build_manifest(folder, "compose")
    del manifest["layout"]
    manifest["format_version"] = 1
    manifest["migrations"] = {name: ["auth.0001_initial"] for name in ("sso_auth", "system_a", "system_b")}
    data = json.dumps(manifest).encode()
    listed = {"manifest.json": data, **members}
    sums = "".join(f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in listed.items())
    out = tmp_path / "format-1.tar"
    with tarfile.open(out, "w:") as tar:
        for name, content in {"SHA256SUMS": sums.encode(), "manifest.json": data, **members}.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return out


def test_a_backup_of_the_three_database_layout_is_read_as_such(tmp_path):
    folder = tmp_path / "restore"
    folder.mkdir()
    manifest = backup_file.extract(format_one_backup(tmp_path), folder)
    assert manifest["layout"] == "databases"
    write_code(folder)
    assert backup_file.check(folder, new_secret_key=False) == []


def test_a_backup_holds_a_schema_for_each_declared_service(tmp_path):
    out = tmp_path / "site.tar"
    backup_file.pack(gathered(tmp_path, services=("a", "b", "wiki")), "native", out)
    with tarfile.open(out) as archive:
        assert archive.getnames() == [
            "SHA256SUMS", "manifest.json", "shared.dump", "system_a.dump", "system_b.dump", "system_wiki.dump",
        ]  # fmt: skip
    folder = unpacked(tmp_path, out, services=("a", "b", "wiki"))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["services"] == ["a", "b", "wiki"]
    assert manifest["migrations"]["system_wiki"] == ["auth.0001_initial", "wiki.0001_initial"]
    assert backup_file.check(folder, new_secret_key=False) == []
    assert backup_file.parts_of(manifest) == ("shared", "system_a", "system_b", "system_wiki")  # restored first


def test_a_backup_of_a_service_no_longer_declared_is_refused_by_name(tmp_path):
    out = tmp_path / "site.tar"
    backup_file.pack(gathered(tmp_path, services=("a", "b", "wiki")), "native", out)
    folder = unpacked(tmp_path, out, services=("a", "b"))
    with pytest.raises(backup_file.Refusal, match="holds the data of wiki, which services.toml does not declare"):
        backup_file.check(folder, new_secret_key=False)


def test_a_service_declared_after_the_backup_starts_empty(tmp_path, backup):
    folder = unpacked(tmp_path, backup, services=("a", "b", "wiki"))
    (note,) = backup_file.check(folder, new_secret_key=False)
    assert "holds no data of wiki" in note and "starts empty" in note


def test_an_added_services_uploads_travel_after_the_dumps_and_are_checked(tmp_path):
    folder = gathered(tmp_path, services=("a", "b", "wiki"))
    uploads = io.BytesIO()
    with tarfile.open(fileobj=uploads, mode="w:") as archive:
        picture = tarfile.TarInfo("./original_images/dot.png")
        picture.size = 4
        archive.addfile(picture, io.BytesIO(b"\x89PNG"))
    (folder / "media_wiki.tar").write_bytes(uploads.getvalue())
    (folder / "media").write_text("wiki\n")
    out = tmp_path / "site.tar"
    backup_file.pack(folder, "native", out)
    with tarfile.open(out) as archive:
        assert archive.getnames()[-1] == "media_wiki.tar"
    restored = unpacked(tmp_path, out, services=("a", "b", "wiki"))
    manifest = json.loads((restored / "manifest.json").read_text())
    assert backup_file.media_of(manifest) == ("wiki",)
    assert (restored / "media_wiki.tar").read_bytes() == uploads.getvalue()

    # Uploads changed after the checksums were written: refused like a damaged dump.
    spoiled = tmp_path / "spoiled.tar"
    with tarfile.open(out) as source, tarfile.open(spoiled, "w:") as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name == "media_wiki.tar":
                data = data.replace(b"\x89PNG", b"\x89PNX")
            target.addfile(member, io.BytesIO(data))
    (tmp_path / "again").mkdir()
    with pytest.raises(backup_file.Refusal, match="the checksum of media_wiki.tar does not match"):
        backup_file.extract(spoiled, tmp_path / "again")
