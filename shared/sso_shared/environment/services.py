"""The services that share this login, as services.toml declares them, and where each lives.

The declaration is found at ``SSO_SERVICES_FILE`` when that is set (./stack and the images set it),
else as ``services.toml`` in the working folder or the nearest folder above it (a service's
``manage.py`` runs in its project folder, beside the declaration's folder). Standard library only:
./stack runs this file by path to list the services before any virtual environment exists
(``python3 services.py names``).
"""

import functools
import os
import re
import sys
import tomllib
from pathlib import Path

FILE_NAME = "services.toml"
# /NAME/ is the URL prefix, NAME-<deployment> an OS user of at most 32 characters (scripts/deployment-name.sh).
NAME = re.compile(r"^[a-z][a-z0-9]{0,6}$")
FIELDS = {"title", "project", "settings", "requirements"}
# Optional, with their defaults: ``layer`` (a project added with ./stack add-service: its own settings and
# URLs, with the shared ones put on top by sso_shared.added_services) and ``access`` (who may use it when it
# is first migrated: "everyone", or "group:NAME", the members of that group; sso_shared.access.service_access).
OPTIONAL_FIELDS = {"layer": False, "access": "everyone"}
# The settings module a service added with ./stack add-service runs with (its own is in "settings").
LAYER_SETTINGS = "sso_shared.added_services.settings"
# What ./stack calls the deployment's other parts (./stack logs|restart NAME).
RESERVED = {"db", "nginx", "migrate", "maintenance", "supervisor"}
# The service that serves the one login page (sso_shared.settings.LOGIN_URL): always declared.
LOGIN_SERVICE = "a"


ACCESS = re.compile(r"^(everyone|group:\S.{0,148})$")


def runs_with(fields: dict) -> str:
    """The settings module the service runs with: the layer's for an added project, else its own."""
    return LAYER_SETTINGS if fields["layer"] else fields["settings"]


class ServicesDeclarationError(Exception):
    """services.toml is missing or says something that cannot be a service: the message says what."""


def declaration_path() -> Path:
    named = os.environ.get("SSO_SERVICES_FILE")
    if named:
        return Path(named)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    raise ServicesDeclarationError(
        f"no {FILE_NAME} in {here} or any folder above it: set SSO_SERVICES_FILE to the deployment's {FILE_NAME}"
    )


def read_declaration(path: Path) -> dict[str, dict]:
    """{name: {title, url, prefix, project, settings, requirements, layer, access, runs_with}}, in the order
    declared."""
    try:
        declared = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ServicesDeclarationError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ServicesDeclarationError(f"{path} is not valid TOML: {error}") from None
    services = declared.get("services")
    if not isinstance(services, dict) or not services:
        raise ServicesDeclarationError(f"{path} declares no service: add a [services.NAME] table")
    found = {}
    for name, fields in services.items():
        where = f"{path}, [services.{name}]"
        if not NAME.match(name):
            raise ServicesDeclarationError(
                f"{where}: a service's name is 1 to 7 lowercase letters and digits, starting with a letter"
            )
        if name in RESERVED:
            raise ServicesDeclarationError(
                f"{where}: {name} names a part of the deployment itself ({', '.join(sorted(RESERVED))})"
            )
        if not isinstance(fields, dict):
            raise ServicesDeclarationError(f"{where} is not a table of {', '.join(sorted(FIELDS))}")
        missing, unknown = FIELDS - fields.keys(), fields.keys() - FIELDS - OPTIONAL_FIELDS.keys()
        if missing or unknown:
            problems = [f"{', '.join(sorted(missing))} missing"] if missing else []
            problems += [f"{', '.join(sorted(unknown))} unknown"] if unknown else []
            named = ", ".join([*sorted(FIELDS), *(f"{field} (optional)" for field in sorted(OPTIONAL_FIELDS))])
            raise ServicesDeclarationError(f"{where}: {'; '.join(problems)} (fields: {named})")
        for field in sorted(FIELDS):
            if not isinstance(fields[field], str) or not fields[field].strip():
                raise ServicesDeclarationError(f"{where}: {field} must be a non-empty string")
        fields = {**OPTIONAL_FIELDS, **fields}
        if not isinstance(fields["layer"], bool):
            raise ServicesDeclarationError(f"{where}: layer must be true or false")
        if not isinstance(fields["access"], str) or not ACCESS.match(fields["access"]):
            raise ServicesDeclarationError(f'{where}: access must be "everyone" or "group:NAME" (a group\'s name)')
        found[name] = {**fields, "url": f"/{name}/", "prefix": f"/{name}", "runs_with": runs_with(fields)}
    if LOGIN_SERVICE not in found:
        raise ServicesDeclarationError(
            f"{path} does not declare the service {LOGIN_SERVICE}, which serves the one login page "
            f"(/{LOGIN_SERVICE}/accounts/login/): keep its [services.{LOGIN_SERVICE}] table"
        )
    projects = [details["project"] for details in found.values()]
    if len(set(projects)) != len(projects):
        raise ServicesDeclarationError(f"{path}: two services name the same project folder")
    return found


@functools.cache
def declared_services() -> dict[str, dict]:
    """The declaration, read once per process (the settings read it first, as SSO_SERVICES)."""
    return read_declaration(declaration_path())


def service_label(name: str) -> str:
    """How messages, the shared records, its database role and its schema name a service."""
    return f"system_{name}"


def main(arguments: list[str]) -> int:
    """./stack's reader: ``names`` prints the services' names, one per line; ``table`` prints each
    service's name, project folder, the settings module it runs with, "layer" or "own" (an added
    project's, or its own settings and URLs) and its requirements file, separated by tabs."""
    if arguments not in (["names"], ["table"]):
        print("usage: services.py names|table", file=sys.stderr)
        return 2
    try:
        declared = declared_services()
    except ServicesDeclarationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, details in declared.items():
        layer = "layer" if details["layer"] else "own"
        columns = (name, details["project"], details["runs_with"], layer, details["requirements"])
        print(name if arguments == ["names"] else "\t".join(columns))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
