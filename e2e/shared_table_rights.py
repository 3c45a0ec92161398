"""What a service role may do in the one database (db/provision.sql): anything in its own schema,
rows of the shared one (in the audit trail only adding rows: sso_shared.database.table_rights), nothing in
another service's schema and never the shared schema itself.

Each statement runs inside a transaction that is rolled back, so a test leaves nothing behind
even where a right it checks for were wrongly granted. {own} and {other} stand for the role's
own schema and the other service's.
"""

# statement -> what PostgreSQL answers a service role
FORBIDDEN = {
    "CREATE TABLE shared.sso_planted (id int)": "permission denied for schema shared",
    "ALTER TABLE shared.sso_user ADD COLUMN planted int": "must be owner of table sso_user",
    "DROP TABLE shared.sso_session": "must be owner of table sso_session",
    "TRUNCATE shared.sso_session": "permission denied for table sso_session",
    "CREATE INDEX sso_planted ON shared.sso_user (email)": "must be owner of table sso_user",
    "SET ROLE sso_auth": 'permission denied to set role "sso_auth"',
    # The shared schema's migration record is the migrate step's: a service only reads it.
    "DELETE FROM shared.django_migrations": "permission denied for table django_migrations",
    # A key from a service's table to a session would keep the session from being deleted.
    "CREATE TABLE {own}.planted (session varchar(40) REFERENCES shared.sso_session)": (
        "permission denied for table sso_session"
    ),
    "CREATE SCHEMA planted": "permission denied for database sso",
    "CREATE TABLE public.sso_planted (id int)": "permission denied for schema public",
    "SELECT count(*) FROM {other}.django_migrations": "permission denied for schema {other}",
    "CREATE TABLE {other}.planted (id int)": "permission denied for schema {other}",
    # The audit trail only grows (sso_shared.database.table_rights): a service cannot erase what it did.
    "UPDATE shared.sso_audit_event SET username = 'forged'": "permission denied for table sso_audit_event",
    "DELETE FROM shared.sso_audit_event": "permission denied for table sso_audit_event",
    "TRUNCATE shared.sso_audit_event": "permission denied for table sso_audit_event",
    "SET ROLE sso_maintenance": 'permission denied to set role "sso_maintenance"',
}

# Rows in every shared table, sequences included (a new group takes its id from one); anything
# in its own schema, foreign keys to the user included.
ALLOWED = [
    "SELECT count(*) FROM shared.sso_user",
    "SELECT count(*) FROM shared.django_migrations",
    "INSERT INTO shared.auth_group (name) VALUES ('rights check, rolled back')",
    "UPDATE shared.sso_session SET expire_date = expire_date",
    "DELETE FROM shared.auth_group WHERE name = 'rights check, rolled back'",
    "CREATE TABLE {own}.rights_check (owner uuid REFERENCES shared.sso_user, grp int REFERENCES shared.auth_group)",
    "INSERT INTO shared.sso_audit_event (time, kind, service, username, user_agent)"
    " VALUES (now(), 'login', 'a', 'rights check, rolled back', '')",
]

SERVICE_ROLES = ("system_a", "system_b")
SCHEMAS = {"system_a": ("system_a", "system_b"), "system_b": ("system_b", "system_a")}


def for_role(text: str, role: str) -> str:
    own, other = SCHEMAS[role]
    return text.format(own=own, other=other)
