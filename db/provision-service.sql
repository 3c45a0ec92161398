-- One declared service's role and schema (services.toml), after db/provision.sql; safe to run
-- again (the password is re-set). Run as the PostgreSQL superuser, once per service, with
-- -v service=NAME and the role's password in psql's environment as SERVICE_DB_PASSWORD:
-- SERVICE_DB_PASSWORD=... psql -v service=NAME -f provision-service.sql (never on a command
-- line, where every local user could read it in /proc/*/cmdline).
--
--   system_NAME   (login)     owns schema system_NAME; rows only in the shared schema
-- The role reaches the site's database and nothing else. In its own schema it may do anything;
-- in the shared one it may read and write rows (SELECT, INSERT, UPDATE, DELETE, sequences),
-- point foreign keys at users, groups, permissions and content types (REFERENCES, granted by
-- db/provision.sql), only add rows to the audit trail (SELECT, INSERT), and never create, alter,
-- drop or truncate; another service's schema it cannot even look into.
\set ON_ERROR_STOP on
\if :{?site_database}
\else
  \set site_database sso
\endif
\if :{?service}
\else
  DO $$ BEGIN RAISE EXCEPTION 'provision-service.sql needs -v service=NAME (a service services.toml declares)'; END $$;
\endif
-- (A refusal's message goes through a setting: psql does not look into a DO block's body.)
SELECT :'service' ~ '^[a-z][a-z0-9]{0,6}$' AS service_named \gset
\if :service_named
\else
  SELECT set_config('sso.refusal', format('provision-service.sql: %s cannot name a service', :'service'), false) IS NULL AS unused \gset
  DO $$ BEGIN RAISE EXCEPTION '%', current_setting('sso.refusal'); END $$;
\endif
\set role system_:service
\getenv password SERVICE_DB_PASSWORD
-- A missing or empty password stops here, before any role changes.
\if :{?password}
\else
  \set password ''
\endif
SELECT coalesce(:'password', '') = '' AS password_missing \gset
\if :password_missing
  SELECT set_config('sso.refusal', format('SYSTEM_%s_DB_PASSWORD, the password of the role %s, is not set (psql''s SERVICE_DB_PASSWORD)',
                    upper(:'service'), :'role'), false) IS NULL AS unused \gset
  DO $$ BEGIN RAISE EXCEPTION '%', current_setting('sso.refusal'); END $$;
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
GRANT CONNECT, TEMPORARY ON DATABASE :"site_database" TO :"role";

\connect :site_database
SET search_path = pg_catalog;
SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', :'role', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = :'role') \gexec
ALTER SCHEMA :"role" OWNER TO :"role";
-- A service's schema is its own: no other role gets anything there (not even USAGE).
REVOKE ALL ON SCHEMA :"role" FROM PUBLIC;
SELECT format('REVOKE ALL ON SCHEMA %I FROM %I', n.nspname, pg_get_userbyid(acl.grantee))
  FROM pg_namespace n, aclexplode(n.nspacl) acl
 WHERE n.nspname = :'role' AND acl.grantee NOT IN (0, n.nspowner) \gexec

-- The shared schema: rows, never its tables' schema.
GRANT USAGE ON SCHEMA shared TO :"role";
REVOKE CREATE ON SCHEMA shared FROM :"role";
-- One transaction: a service connected meanwhile never sees the audit trail's rights in between.
BEGIN;
REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO :"role";
REVOKE INSERT, UPDATE, DELETE ON shared.django_migrations FROM :"role";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA shared TO :"role";
-- The audit trail only grows, for the services: a compromised service cannot change or erase
-- the record of what it did. The grants above (every start) would give UPDATE and DELETE back,
-- so they are taken again here; a table made after this (a first install) has them taken by the
-- migrate step, which also lets the maintenance role prune (sso_shared/database/table_rights.py).
SELECT format('REVOKE UPDATE, DELETE, TRUNCATE ON shared.sso_audit_event FROM %I', :'role')
 WHERE to_regclass('shared.sso_audit_event') IS NOT NULL \gexec
COMMIT;
-- Tables the migrate step creates later (as sso_auth) come with the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA shared
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE sso_auth IN SCHEMA shared
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"role";
