# Written by hand. The services may only add audit events (sso_shared.database.table_rights): no
# UPDATE on the audit table. Deleting a user still renames their events to the tombstone's
# name (sso_shared.accounts.tombstones), through this function of the table's owner, which does that
# and nothing else.
#
# SECURITY DEFINER: it runs with its owner's rights (the migrate step makes it as sso_auth),
# for any role that may connect to the shared database. It renames the events of one user
# only, only to the name that user has now, and only when that user is a tombstone (inactive,
# unusable password, named deleted-...): no caller can write another name into the trail,
# nor touch an event of a user still alive. Its search_path is the schema it was made in,
# then pg_temp last, so a caller's temporary table cannot stand in for the user table.
# https://www.postgresql.org/docs/15/sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY

from django.db import migrations

FUNCTION = "sso_audit_forget_username"
TOMBSTONE_PREFIX = "deleted-"  # sso_shared.accounts.tombstones.TOMBSTONE_PREFIX
UNUSABLE_PASSWORD_PREFIX = "!"  # django.contrib.auth.hashers.UNUSABLE_PASSWORD_PREFIX

CREATE = """
CREATE OR REPLACE FUNCTION {schema}.{function}(deleted_user uuid) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $function$
  WITH tombstone AS (
    SELECT id, username FROM {schema}.{users}
     WHERE id = deleted_user AND NOT is_active
       AND starts_with(username, '{tombstone_prefix}') AND starts_with(password, '{unusable_prefix}')
  ), renamed AS (
    UPDATE {schema}.{events} AS event SET username = tombstone.username FROM tombstone
     WHERE event.user_id = tombstone.id AND event.username <> tombstone.username
    RETURNING 1
  )
  SELECT count(*)::integer FROM renamed
$function$
"""


def names(apps, schema_editor) -> dict:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    return {
        "schema": quote(schema),
        "function": quote(FUNCTION),
        "users": quote(apps.get_model("sso_shared", "User")._meta.db_table),
        "events": quote(apps.get_model("sso_shared", "AuditEvent")._meta.db_table),
    }


def create_function(apps, schema_editor):
    schema_editor.execute(
        CREATE.format(
            **names(apps, schema_editor),
            tombstone_prefix=TOMBSTONE_PREFIX,
            unusable_prefix=UNUSABLE_PASSWORD_PREFIX,
        )
    )


def drop_function(apps, schema_editor):
    found = names(apps, schema_editor)
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {found['schema']}.{found['function']}(uuid)")


class Migration(migrations.Migration):
    dependencies = [
        ("sso_shared", "0007_second_factor_and_recovery"),
    ]

    operations = [migrations.RunPython(create_function, drop_function)]
