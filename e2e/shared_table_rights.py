"""What a service role may do in the shared database: rows, never schema (db/provision.sql), and
in the audit trail only add rows (sso_shared.table_rights).

Each statement runs inside a transaction that is rolled back, so a test leaves nothing behind
even where a right it checks for were wrongly granted.
"""

# statement -> what PostgreSQL answers a service role
FORBIDDEN = {
    "CREATE TABLE sso_planted (id int)": "permission denied for schema public",
    "ALTER TABLE sso_user ADD COLUMN planted int": "must be owner of table sso_user",
    "DROP TABLE sso_session": "must be owner of table sso_session",
    "TRUNCATE sso_session": "permission denied for table sso_session",
    "CREATE INDEX sso_planted ON sso_user (email)": "must be owner of table sso_user",
    "SET ROLE sso_auth": 'permission denied to set role "sso_auth"',
    # The audit trail only grows (sso_shared.table_rights): a service cannot erase what it did.
    "UPDATE sso_audit_event SET username = 'forged'": "permission denied for table sso_audit_event",
    "DELETE FROM sso_audit_event": "permission denied for table sso_audit_event",
    "TRUNCATE sso_audit_event": "permission denied for table sso_audit_event",
    "SET ROLE sso_maintenance": 'permission denied to set role "sso_maintenance"',
}

# Rows in every shared table, sequences included (a new group takes its id from one).
ALLOWED = [
    "SELECT count(*) FROM sso_user",
    "INSERT INTO auth_group (name) VALUES ('rights check, rolled back')",
    "UPDATE sso_session SET expire_date = expire_date",
    "DELETE FROM auth_group WHERE name = 'rights check, rolled back'",
    "INSERT INTO sso_audit_event (time, kind, service, username, user_agent)"
    " VALUES (now(), 'login', 'a', 'rights check, rolled back', '')",
]

SERVICE_ROLES = ("system_a", "system_b")
