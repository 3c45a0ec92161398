"""``--rewrite TABLE.COLUMN``: a user column of the service's own tables, from old primary keys to UUIDs.

With ``--load FIXTURE`` the column is rewritten on the way in: in the fixture's
objects, before they are loaded, so the column's foreign key to the user holds
when they are (it is a real constraint: docs/service-code.md). Without it, the
rows already in the table are rewritten:

After ``loaddata`` of the legacy project's app, a column pointing at the user
holds the old integer primary key: as ``00000000-0000-0000-0000-00000000002a``
in a ``uuid`` column (Django's UUIDField turns the integer 42 into that), or as
``42`` in a text column. Each value found in the adoption's mapping (source,
old pk → user) becomes the user's UUID; values already a user's UUID are left as
they are, so a second run finds nothing to do. One transaction on the service's
database.
"""

import uuid
from dataclasses import dataclass, field

from django.apps import apps
from django.core.management import CommandError
from django.db import connections, transaction

from sso_shared.adoption.models import AdoptedUser
from sso_shared.database.routers import SERVICE_DB, SHARED_DB

UUID_TYPES = {"uuid"}
TEXT_TYPES = {"text", "character varying", "character"}
INTEGER_TYPES = {"integer", "bigint", "smallint"}
# The largest old pk taken for one: a real UUID (version 4) is far above it.
MAX_OLD_PK = 2**63


@dataclass
class Rewrite:
    table: str
    column: str
    column_type: str
    changes: dict = field(default_factory=dict)  # old value → new value
    rows: int = 0
    unknown: list[str] = field(default_factory=list)  # old pks with no adopted user


def parse(target: str) -> tuple[str, str]:
    table, _, column = target.partition(".")
    if not table or not column:
        raise CommandError(f"--rewrite {target}: give TABLE.COLUMN, e.g. intake_request.owner_id")
    return table, column


def column_type(table: str, column: str) -> str:
    connection = connections[SERVICE_DB]
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            raise CommandError(f"--rewrite: this service's database has no table {table} (load the app's data first)")
        cursor.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s",
            [table, column],
        )
        row = cursor.fetchone()
    if row is None:
        raise CommandError(f"--rewrite: the table {table} has no column {column}")
    return row[0]


def old_pk_of(value, kind: str) -> str | None:
    if kind in UUID_TYPES:
        number = value.int if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).int
        return str(number) if number < MAX_OLD_PK else None
    text = str(value)
    return text if text.isdigit() else None


def survey(target: str, source: str) -> Rewrite:
    table, column = parse(target)
    kind = column_type(table, column)
    if kind in INTEGER_TYPES:
        raise CommandError(
            f"--rewrite: {table}.{column} is an integer column and cannot hold a UUID. Point the model's field at "
            "settings.AUTH_USER_MODEL (ForeignKey with db_constraint=False), migrate, then load the data and rewrite."
        )
    if kind not in UUID_TYPES | TEXT_TYPES:
        raise CommandError(f"--rewrite: {table}.{column} is of type {kind}; only uuid and text columns are rewritten")
    mapping = dict(AdoptedUser.objects.using(SHARED_DB).filter(source=source).values_list("old_pk", "user_id"))
    result = Rewrite(table, column, kind)
    quote = connections[SERVICE_DB].ops.quote_name
    with connections[SERVICE_DB].cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(column)}, count(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL "  # noqa: S608 (names checked above)
            f"GROUP BY {quote(column)}"
        )
        for value, count in cursor.fetchall():
            old_pk = old_pk_of(value, kind)
            if old_pk is None:
                continue
            if old_pk in mapping:
                new = mapping[old_pk] if kind in UUID_TYPES else str(mapping[old_pk])
                result.changes[value] = new
                result.rows += count
            else:
                result.unknown.append(old_pk)
    return result


def apply(result: Rewrite) -> None:
    quote = connections[SERVICE_DB].ops.quote_name
    sql = f"UPDATE {quote(result.table)} SET {quote(result.column)} = %s WHERE {quote(result.column)} = %s"  # noqa: S608
    with transaction.atomic(using=SERVICE_DB), connections[SERVICE_DB].cursor() as cursor:
        for old, new in result.changes.items():
            cursor.execute(sql, [new, old])


def render(result: Rewrite) -> str:
    where = f"{result.table}.{result.column}"
    if not result.changes:
        line = f"Rewrite {where}: nothing to rewrite (no old primary key of an adopted user left)"
    else:
        line = f"Rewrite {where}: {result.rows} rows of {len(result.changes)} users, old primary key → UUID"
    if result.unknown:
        line += (
            f"\n  left as they are: old primary keys with no adopted user: {', '.join(sorted(result.unknown, key=int))}"
        )
    return line


def field_of(table: str, column: str):
    """The model field stored in TABLE.COLUMN, among the installed models."""
    for model in apps.get_models():
        if model._meta.db_table == table:
            for model_field in model._meta.concrete_fields:
                if model_field.column == column:
                    return model_field
            raise CommandError(f"--rewrite: the model of {table} ({model._meta.label}) has no column {column}")
    raise CommandError(f"--rewrite: no installed model has the table {table}")


def survey_fixture(objects: list[dict], target: str, source: str) -> Rewrite:
    """What rewriting TARGET's column in a fixture's objects (as dumpdata writes them) would change."""
    table, column = parse(target)
    model_field = field_of(table, column)
    label = model_field.model._meta.label_lower
    mapping = dict(AdoptedUser.objects.using(SHARED_DB).filter(source=source).values_list("old_pk", "user_id"))
    result = Rewrite(table, column, "fixture")
    for item in objects:
        value = item.get("fields", {}).get(model_field.name) if item.get("model") == label else None
        old_pk = None if value is None else old_pk_of(value, "uuid" if isinstance(value, uuid.UUID) else "text")
        if old_pk is None:
            continue
        if old_pk in mapping:
            result.changes[value] = str(mapping[old_pk])
            result.rows += 1
        elif old_pk not in result.unknown:
            result.unknown.append(old_pk)
    return result


def apply_to_fixture(objects: list[dict], result: Rewrite) -> None:
    model_field = field_of(result.table, result.column)
    label = model_field.model._meta.label_lower
    for item in objects:
        fields = item.get("fields", {})
        if item.get("model") == label and fields.get(model_field.name) in result.changes:
            fields[model_field.name] = result.changes[fields[model_field.name]]
