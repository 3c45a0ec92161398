"""Rights on shared tables that follow from what the code does with them, set by the migrate step.

Provisioning (db/provision.sql, as the superuser, on every start) makes the roles and
grants the services their rows in every shared table; a table the migrate step makes
later gets the same through default privileges. Two tables' rights need more, and
``sso_migrate`` sets them right after migrating the shared database, as their owner:

- the audit trail (``sso_audit_event``) only grows: nobody but its owner may change or
  remove an event (UPDATE, DELETE, TRUNCATE), so a compromised service cannot erase
  what it did. ``audit.forget_username`` renames a deleted user's events through a
  function of the owner's (migration ``sso_shared.0007``), which touches nothing else.
  Provisioning takes the same rights again after its grants on every start.
- the maintenance role (``sso_maintenance``: ``sso_housekeeping``, ``sso_audit --prune``)
  may read and delete rows of the tables housekeeping prunes (``housekeeping.pruned_models``)
  and read the migration record (it waits for the migrate step): nothing else.
"""

from django.db.migrations.recorder import MigrationRecorder

MAINTENANCE_ROLE = "sso_maintenance"


def audit_table() -> str:
    from sso_shared.operations.audit import event_model

    return event_model()._meta.db_table


def apply(connection) -> None:
    """Both of the above, on the shared database behind ``connection`` (as the tables' owner)."""
    audit_trail_only_grows(connection)
    maintenance_may_prune(connection)


def audit_trail_only_grows(connection) -> None:
    """Take UPDATE, DELETE and TRUNCATE on the audit table from every role but its owner (and PUBLIC)."""
    table = connection.ops.quote_name(audit_table())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END"
            "  FROM pg_class c, aclexplode(c.relacl) acl"
            " WHERE c.oid = to_regclass(%s) AND acl.grantee <> c.relowner"
            "   AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')",
            [table],
        )
        grantees = sorted(row[0] for row in cursor.fetchall())
        if grantees:
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {', '.join(grantees)}")


def maintenance_may_prune(connection) -> None:
    """SELECT and DELETE on what housekeeping prunes, SELECT on the migration record; skipped without the role."""
    from sso_shared.operations.housekeeping import pruned_models

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", [MAINTENANCE_ROLE])
        if not cursor.fetchone()[0]:
            return  # a database provisioned by an older db/provision.sql, or a bare test cluster
        role = quote(MAINTENANCE_ROLE)
        pruned = ", ".join(quote(model._meta.db_table) for model in pruned_models())
        cursor.execute(f"GRANT SELECT, DELETE ON {pruned} TO {role}")
        cursor.execute(f"GRANT SELECT ON {quote(MigrationRecorder.Migration._meta.db_table)} TO {role}")
