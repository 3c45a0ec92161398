"""May the shared tables be migrated now? Only when no running service would be broken by it.

A service running older code does not know a migration of the shared tables
that a newer release brings; applying it under that service's feet is the one
thing a migration can break. A record of a stopped service never blocks:
whatever it knew, it learns the new schema when it starts with new code.
"""

import time

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from sso_shared.agreement.fingerprint import SHARED_MIGRATIONS
from sso_shared.agreement.records import Record, running_others
from sso_shared.database.routers import SHARED_DB, SHARED_MIGRATIONS_DB, migrations_alias
from sso_shared.models import ServiceFingerprint


def unapplied_migrations(alias: str) -> list[str]:
    """Migrations of this code meant for ``alias`` and not applied there yet ("app.name")."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [
        f"{migration.app_label}.{migration.name}"
        for migration, backwards in plan
        if not backwards and migrations_alias(migration.app_label) == alias
    ]


def pending_shared_migrations() -> list[str]:
    """Migrations of the shared apps that migrating the shared schema would apply now."""
    return unapplied_migrations(SHARED_MIGRATIONS_DB)


def records_table_exists() -> bool:
    """False on a first install: no service has ever recorded anything, so none can be running."""
    return ServiceFingerprint._meta.db_table in connections[SHARED_DB].introspection.table_names()


def unknown_to(record: Record, migrations: list[str]) -> list[str]:
    known = set(record.fingerprint.get(SHARED_MIGRATIONS, []))
    return [name for name in migrations if name not in known]


def blocking_services(pending: list[str]) -> dict[str, list[str]]:
    """{running service: the pending migrations it does not know}."""
    if not pending or not records_table_exists():
        return {}
    return {record.service: missing for record in running_others() if (missing := unknown_to(record, pending))}


def blocked_message(me: str, blockers: dict[str, list[str]]) -> str:
    lines = [
        f"{me} will not migrate the shared tables: "
        + "; ".join(
            f"{service} is running and does not know {', '.join(missing)}" for service, missing in blockers.items()
        )
        + ".",
        f"Stop {' and '.join(blockers)}, or upgrade it to the release of {me} first, then run sso_migrate again "
        "(docs/operations.md, 'Upgrading').",
    ]
    return "\n".join(lines)


def wait_until_unblocked(pending: list[str], seconds: float, report) -> dict[str, list[str]]:
    """Wait up to ``seconds`` for the services that block ``pending`` to stop; return those still blocking."""
    blockers = blocking_services(pending)
    deadline = time.monotonic() + seconds
    if blockers and seconds > 0:
        report(f"Waiting up to {seconds:.0f} s for {', '.join(blockers)} to stop (running older code).")
    while blockers and time.monotonic() < deadline:
        time.sleep(1)
        blockers = blocking_services(pending)
    return blockers
