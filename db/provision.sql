-- Roles and databases of the deployment; safe to run again (passwords are re-set).
-- Run as the PostgreSQL superuser with SYSTEM_A_DB_PASSWORD and SYSTEM_B_DB_PASSWORD in
-- psql's environment: psql -f provision.sql (never on a command line, where every
-- local user could read them in /proc/*/cmdline).
--
--   sso_auth      (no login)  owns the shared auth/session database and its tables
--   sso_migrator  (login)     the migrate step: member of sso_auth (Django's assume_role), so it
--                             alone may change the shared tables' schema. No password: it logs
--                             in over a local socket only, as the OS user of the migrate step
--                             (peer authentication; pg_hba.conf says which user).
--   sso_maintenance (login)   housekeeping (sso_housekeeping): reads and deletes the rows it
--                             prunes, nothing else. No password either: a local socket only, as
--                             the OS user of the housekeeping job (peer authentication).
--   system_a      (login)     owns database system_a; rows only in the shared tables
--   system_b      (login)     owns database system_b; rows only in the shared tables
-- Each service role reaches its own database and the shared one, and nothing else; in the
-- shared one it may read and write rows (SELECT, INSERT, UPDATE, DELETE, sequences), never
-- create, alter, drop or truncate, and in the audit trail only add rows (SELECT, INSERT).
-- Running this over an older deployment, where both service roles were members of sso_auth,
-- takes that membership away and fixes owners and grants.
\set ON_ERROR_STOP on
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

SELECT 'CREATE DATABASE sso_auth OWNER sso_auth'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sso_auth') \gexec
SELECT 'CREATE DATABASE system_a OWNER system_a'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'system_a') \gexec
SELECT 'CREATE DATABASE system_b OWNER system_b'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'system_b') \gexec

REVOKE ALL ON DATABASE sso_auth, system_a, system_b FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE sso_auth TO system_a, system_b;
GRANT CONNECT ON DATABASE sso_auth TO sso_migrator, sso_maintenance;
GRANT CONNECT, TEMPORARY ON DATABASE system_a TO system_a;
GRANT CONNECT, TEMPORARY ON DATABASE system_b TO system_b;
-- The service roles reach no other database: not the maintenance database, not the template.
REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;

-- Inside the shared database: rows for the services, schema for the migrate step.
\connect sso_auth
-- What is in this database belongs to sso_auth, whose functions and operators the migrate step
-- (the services' migrations) may write: this superuser session names pg_catalog's only, so
-- none of theirs runs here (docs/security.md, "Who runs what").
SET search_path = pg_catalog;
-- Anything a service role created there before (an older release) goes to the owner.
DO $$
DECLARE
  object record;
BEGIN
  FOR object IN
    SELECT c.oid::regclass AS name, c.relkind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) IN ('system_a', 'system_b', 'sso_migrator')
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
ALTER SCHEMA public OWNER TO sso_auth;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM system_a, system_b;
GRANT USAGE ON SCHEMA public TO system_a, system_b, sso_maintenance;
-- One transaction: a service connected meanwhile never sees the audit trail's rights in between.
BEGIN;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM system_a, system_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO system_a, system_b;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO system_a, system_b;
-- The audit trail only grows, for the services: a compromised service cannot change or erase
-- the record of what it did. The grants above (every start) would give UPDATE and DELETE back,
-- so they are taken again here; a table made after this (a first install) has them taken by the
-- migrate step, which also lets the maintenance role prune (sso_shared/table_rights.py).
SELECT 'REVOKE UPDATE, DELETE, TRUNCATE ON public.sso_audit_event FROM system_a, system_b'
 WHERE to_regclass('public.sso_audit_event') IS NOT NULL \gexec
COMMIT;
-- Tables the migrate step creates later (as sso_auth) come with the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO system_a, system_b;
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO system_a, system_b;
