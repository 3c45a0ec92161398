"""Write services.toml for ./stack add-service and remove-service: one [services.NAME] table more or less,
every other line as it was (comments included). The result is read back with the services' own reader
before it replaces the file, in one rename; a declaration that would not read is refused, unchanged.

    services_declaration.py add FILE OUT NAME --title T --project P --settings S --requirements R [--access A]
    services_declaration.py remove FILE OUT NAME

Standard library only: ./stack runs it with the system python3. FILE may be OUT.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared" / "sso_shared" / "environment"))
from services import ServicesDeclarationError, read_declaration  # noqa: E402  (stdlib-only, by path)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's for these characters."""
    return json.dumps(value, ensure_ascii=False)


def added(text: str, name: str, fields: dict[str, str]) -> str:
    table = [f"[services.{name}]"]
    table += [f"{key} = {toml_string(value)}" for key, value in fields.items()]
    table += ["layer = true"]
    return text.rstrip("\n") + "\n\n" + "\n".join(table) + "\n"


def removed(text: str, name: str) -> str:
    """TEXT without the table [services.NAME], up to the next table, and the blank lines before it."""
    lines = text.splitlines(keepends=True)
    header = f"[services.{name}]"
    start = next((index for index, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        raise ServicesDeclarationError(f"it has no table {header}")
    end = next((index for index in range(start + 1, len(lines)) if lines[index].lstrip().startswith("[")), len(lines))
    while start > 0 and not lines[start - 1].strip():
        start -= 1
    kept = lines[:start] + (["\n"] if end < len(lines) else []) + lines[end:]
    return "".join(kept)


def write_checked(out: Path, text: str) -> None:
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    try:
        read_declaration(partial)
    except ServicesDeclarationError as error:
        partial.unlink()
        raise ServicesDeclarationError(str(error).replace(str(partial), str(out))) from None
    if out.exists():
        partial.chmod(out.stat().st_mode & 0o777)
    partial.replace(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services_declaration.py")
    parser.add_argument("action", choices=["add", "remove"])
    parser.add_argument("file", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("name")
    for field in ("title", "project", "settings", "requirements", "access"):
        parser.add_argument(f"--{field}")
    arguments = parser.parse_args(argv)
    try:
        text = arguments.file.read_text(encoding="utf-8")
        if arguments.action == "add":
            fields = {key: getattr(arguments, key) for key in ("title", "project", "settings", "requirements")}
            if arguments.access:
                fields["access"] = arguments.access
            text = added(text, arguments.name, fields)
        else:
            text = removed(text, arguments.name)
        write_checked(arguments.out, text)
    except OSError as error:
        print(f"error: cannot write {arguments.out}: {error.strerror}", file=sys.stderr)
        return 1
    except ServicesDeclarationError as error:
        print(f"error: {arguments.file}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
