-- Roles, the one database and its schemas; safe to run again (passwords are re-set).
-- Run as the PostgreSQL superuser with SYSTEM_A_DB_PASSWORD and SYSTEM_B_DB_PASSWORD in
-- psql's environment: psql -f provision.sql (never on a command line, where every
-- local user could read them in /proc/*/cmdline).
--
-- One database, sso, with a schema per part (docs/architecture.md):
--   shared        owned by sso_auth: users, groups, permissions, content types, sessions,
--                 the admin log and the shared apps' tables
--   system_a      owned by system_a: System A's own tables
--   system_b      owned by system_b: System B's own tables
-- Roles:
--   sso_auth      (no login)  owns the shared schema and its tables
--   sso_migrator  (login)     the migrate step: member of sso_auth (Django's assume_role), so it
--                             alone may change the shared tables' schema. No password: it logs
--                             in over a local socket only, as the OS user of the migrate step
--                             (peer authentication; pg_hba.conf says which user).
--   sso_maintenance (login)   housekeeping (sso_housekeeping): reads and deletes the rows it
--                             prunes, nothing else. No password either: a local socket only, as
--                             the OS user of the housekeeping job (peer authentication).
--   system_a      (login)     owns schema system_a; rows only in the shared schema
--   system_b      (login)     owns schema system_b; rows only in the shared schema
-- Each service role reaches this database and nothing else. In its own schema it may do
-- anything; in the shared one it may read and write rows (SELECT, INSERT, UPDATE, DELETE,
-- sequences), point foreign keys at users, groups, permissions and content types
-- (REFERENCES), only add rows to the audit trail (SELECT, INSERT), and never create, alter,
-- drop or truncate; the other service's schema it cannot even look into. The superuser
-- creates roles, the database, schemas and grants, and never reads or runs anything a
-- service role owns. Running this over an older deployment, where both service roles were
-- members of sso_auth, takes that membership away and fixes owners and grants.
\set ON_ERROR_STOP on
-- The database to provision: the site's, sso, unless psql is given -v site_database=NAME (a
-- restore provisions the copy it fills, sso_restoring, beside it).
\if :{?site_database}
\else
  \set site_database sso
\endif
\getenv a_password SYSTEM_A_DB_PASSWORD
\getenv b_password SYSTEM_B_DB_PASSWORD
-- A missing or empty password stops here, before any role changes.
\if :{?a_password}
\else
  \set a_password ''
\endif
\if :{?b_password}
\else
  \set b_password ''
\endif
SELECT coalesce(:'a_password', '') = '' AS a_missing, coalesce(:'b_password', '') = '' AS b_missing \gset
\if :a_missing
  DO $$ BEGIN RAISE EXCEPTION 'SYSTEM_A_DB_PASSWORD is not set in psql''s environment'; END $$;
\endif
\if :b_missing
  DO $$ BEGIN RAISE EXCEPTION 'SYSTEM_B_DB_PASSWORD is not set in psql''s environment'; END $$;
\endif

SELECT 'CREATE ROLE sso_auth NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sso_auth') \gexec
SELECT 'CREATE ROLE system_a LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'system_a') \gexec
SELECT 'CREATE ROLE system_b LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'system_b') \gexec
SELECT 'CREATE ROLE sso_migrator LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sso_migrator') \gexec
SELECT 'CREATE ROLE sso_maintenance LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sso_maintenance') \gexec
ALTER ROLE system_a WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'a_password';
ALTER ROLE system_b WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'b_password';
ALTER ROLE sso_migrator WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD NULL;
ALTER ROLE sso_maintenance WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD NULL;
ALTER ROLE sso_auth WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
-- Only the migrate step may SET ROLE sso_auth (Django's assume_role), so shared tables have
-- one owner and no running service holds the right to change them. Older deployments made
-- the service roles members: that ends here. (Only where they are: REVOKE of a membership
-- that does not exist warns, which would alarm on every fresh start.)
SELECT format('REVOKE sso_auth FROM %I', member.rolname)
  FROM pg_auth_members m
  JOIN pg_roles member ON member.oid = m.member
 WHERE m.roleid = 'sso_auth'::regrole AND member.rolname IN ('system_a', 'system_b') \gexec
GRANT sso_auth TO sso_migrator;

SELECT format('CREATE DATABASE %I', :'site_database')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'site_database') \gexec
REVOKE ALL ON DATABASE :"site_database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"site_database" TO system_a, system_b;
GRANT CONNECT ON DATABASE :"site_database" TO sso_migrator, sso_maintenance;
-- The service roles reach no other database: not the maintenance database, not the template.
REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;

\connect :site_database
-- The services' roles own functions and operators in this database: this superuser session
-- names pg_catalog's only, so none of theirs runs here (docs/security.md, "Who runs what").
SET search_path = pg_catalog;
-- Nobody but the superuser creates anything in public (the move from the three-database
-- layout grants it for a moment: scripts/move-to-schemas.sh).
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', schema, owner)
  FROM (VALUES ('shared', 'sso_auth'), ('system_a', 'system_a'), ('system_b', 'system_b')) AS wanted (schema, owner)
 WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = schema) \gexec
ALTER SCHEMA shared OWNER TO sso_auth;
ALTER SCHEMA system_a OWNER TO system_a;
ALTER SCHEMA system_b OWNER TO system_b;
REVOKE ALL ON SCHEMA shared, system_a, system_b FROM PUBLIC;
-- A service's schema is its own: the other service gets nothing there (not even USAGE).
REVOKE ALL ON SCHEMA system_a FROM system_b;
REVOKE ALL ON SCHEMA system_b FROM system_a;

-- The shared schema: rows for the services, its tables' schema for the migrate step.
-- The migration record, created here so that it belongs to sso_auth from the start: the
-- services only read it (sso_wait_for_migrations); Django never looks at its columns' types.
SET ROLE sso_auth;
CREATE TABLE IF NOT EXISTS shared.django_migrations (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  app varchar(255) NOT NULL,
  name varchar(255) NOT NULL,
  applied timestamp with time zone NOT NULL
);
RESET ROLE;
-- Anything a service role or the migration role itself made there (older releases) goes to the owner.
DO $$
DECLARE
  object record;
BEGIN
  FOR object IN
    SELECT c.oid::regclass AS name, c.relkind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'shared' AND pg_get_userbyid(c.relowner) IN ('system_a', 'system_b', 'sso_migrator')
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       -- a sequence owned by a column follows its table
       AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO sso_auth',
                   CASE object.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                       WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                   object.name);
  END LOOP;
END $$;
GRANT USAGE ON SCHEMA shared TO system_a, system_b, sso_maintenance;
REVOKE CREATE ON SCHEMA shared FROM system_a, system_b;
-- One transaction: a service connected meanwhile never sees the audit trail's rights in between.
BEGIN;
REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM system_a, system_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO system_a, system_b;
REVOKE INSERT, UPDATE, DELETE ON shared.django_migrations FROM system_a, system_b;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA shared TO system_a, system_b;
-- The audit trail only grows, for the services: a compromised service cannot change or erase
-- the record of what it did. The grants above (every start) would give UPDATE and DELETE back,
-- so they are taken again here; a table made after this (a first install) has them taken by the
-- migrate step, which also lets the maintenance role prune (sso_shared/database/table_rights.py).
SELECT 'REVOKE UPDATE, DELETE, TRUNCATE ON shared.sso_audit_event FROM system_a, system_b'
 WHERE to_regclass('shared.sso_audit_event') IS NOT NULL \gexec
COMMIT;
-- Tables the migrate step creates later (as sso_auth) come with the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA shared
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO system_a, system_b;
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA shared
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO system_a, system_b;
-- Foreign keys from a service's own tables (its models, third-party apps installed in it) to the
-- tables apps point at: users, groups, permissions, content types. Nothing else, so no service can
-- hold a key that keeps another shared row (a session, an audit event) from being deleted. The
-- migrate step grants the same once it has made them on a new site (sso_shared.database.schemas); here
-- they are granted again after a restore, whose dumps keep no grants.
SELECT format('GRANT REFERENCES ON shared.%I TO PUBLIC', tablename)
  FROM pg_tables
 WHERE schemaname = 'shared' AND tablename IN ('sso_user', 'auth_group', 'auth_permission', 'django_content_type')
\gexec
