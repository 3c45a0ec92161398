"""An added project's requirements, checked against the site's pins before anything is installed.

    python -m sso_shared.added_services.requirements PROJECT_REQUIREMENTS SITE_REQUIREMENTS

Every service runs one Django (the site's pin in requirements.txt, so one feature release and one
shared schema) and one sso_shared; the project's own requirements are installed with the site's pins as
constraints (``pip install -c``). A requirement of the project that no pinned version satisfies is
refused here, by name, with what to do; nothing else is said. Exit 1 on a refusal, 2 on a file that
cannot be read. ``packaging`` (gunicorn's own dependency) parses both files as pip does.
"""

import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

SHARED_PACKAGE = "sso-shared"


class Unreadable(Exception):
    """A requirements file (or one it includes) cannot be read."""


def requirement_lines(path: Path, seen: frozenset = frozenset()) -> list[tuple[Path, str]]:
    """The requirement lines of PATH and of the files it includes (-r), with the file each is in."""
    if path in seen:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror}") from None
    lines = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for option in ("-r ", "--requirement "):
            if line.startswith(option):
                included = path.parent / line[len(option) :].strip()
                lines += requirement_lines(included, seen | {path})
                break
        else:
            if not line.startswith("-"):  # other options (an index, hashes) say nothing of versions
                lines.append((path, line))
    return lines


def requirements_of(path: Path) -> list[tuple[Path, Requirement]]:
    found = []
    for where, line in requirement_lines(path):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # a URL or a local path: pip says what it makes of it
        if requirement.marker is None or requirement.marker.evaluate():
            found.append((where, requirement))
    return found


def site_pins(path: Path) -> dict[str, str]:
    """Package -> the version the site pins (==), with sso_shared as installed."""
    pins = {}
    for _, requirement in requirements_of(path):
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            pins[canonicalize_name(requirement.name)] = exact[0]
    pins[SHARED_PACKAGE] = version("sso-shared")
    return pins


def refusals(project: Path, site: Path) -> list[str]:
    pins = site_pins(site)
    found = []
    for where, requirement in requirements_of(project):
        name = canonicalize_name(requirement.name)
        pinned = pins.get(name)
        if pinned is None or requirement.specifier.contains(pinned, prereleases=True):
            continue
        why = {
            "django": "every service runs one Django, one feature release with one shared schema",
            SHARED_PACKAGE: "every service runs the one shared package",
        }.get(name, "the site's services run one set of pinned packages")
        found.append(
            f"{where} asks for {requirement}, and the site runs {requirement.name} {pinned} ({why}). "
            f"Change it to allow {pinned} (for example {requirement.name}=={pinned}), or upgrade the site's pin first"
        )
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit(__doc__)
    try:
        found = refusals(Path(argv[0]), Path(argv[1]))
    except Unreadable as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for refusal in found:
        print(f"error: {refusal}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
