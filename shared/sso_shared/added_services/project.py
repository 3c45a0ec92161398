"""What ./stack add-service reads of a project before declaring it: where it is, and its settings module.

    python -m sso_shared.added_services.project PATH [--settings MODULE]

prints the project's folder (the one with manage.py) and its settings module, tab-separated: MODULE,
or the one its manage.py names (os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)). Exits 1 with one
line saying what is wrong. Standard library only.
"""

import argparse
import re
import sys
from pathlib import Path

SETTINGS_DEFAULT = re.compile(r"""setdefault\(\s*["']DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']\s*\)""")
MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class NotAProject(Exception):
    """The folder is not a Django project ./stack add-service can add: the message says why."""


def settings_module_of(manage: Path) -> str:
    found = SETTINGS_DEFAULT.search(manage.read_text(encoding="utf-8", errors="replace"))
    if not found:
        raise NotAProject(
            f'{manage} names no settings module (os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)): '
            "give it with --settings MODULE"
        )
    return found.group(1)


def inspect(path: Path, settings: str | None = None) -> tuple[Path, str]:
    folder = path.resolve()
    manage = folder / "manage.py"
    if not manage.is_file():
        raise NotAProject(f"{folder} holds no manage.py: give the folder of the Django project")
    module = settings or settings_module_of(manage)
    if not MODULE.match(module):
        raise NotAProject(f"{module!r} is not a Python module's dotted name")
    relative = Path(*module.split("."))
    if not ((folder / relative).with_suffix(".py").is_file() or (folder / relative / "__init__.py").is_file()):
        raise NotAProject(f"the settings module {module} is not in {folder}")
    return folder, module


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="project.py")
    parser.add_argument("path", type=Path)
    parser.add_argument("--settings")
    arguments = parser.parse_args(argv)
    try:
        folder, module = inspect(arguments.path, arguments.settings)
    except NotAProject as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"{folder}\t{module}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
