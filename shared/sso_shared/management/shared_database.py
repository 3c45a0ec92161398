"""Stock commands that act on users or sessions find the shared database by themselves.

"default" is the service's own database (docs/service-code.md), while Django's
user commands default ``--database`` to "default". The overrides in
``commands/`` change only that default; ``--database`` still chooses.
"""

from sso_shared.routers import SERVICE_DB, SHARED_DB, database_for_label


def default_to_shared_database(parser) -> None:
    for action in parser._actions:
        if action.dest == "database":
            action.default = SHARED_DB
            action.help = f'The database to use. Default is "{SHARED_DB}", the shared auth/session database.'


def databases_holding(labels) -> list[str]:
    """The aliases that hold the given app labels or app_label.Model names (all of them for none)."""
    wanted = {database_for_label(label.split(".")[0]) for label in labels} if labels else {SHARED_DB, SERVICE_DB}
    return [alias for alias in (SHARED_DB, SERVICE_DB) if alias in wanted]
