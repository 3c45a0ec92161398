-- Roles and databases of the deployment; safe to run again (passwords are re-set).
-- Run as the PostgreSQL superuser with SYSTEM_A_DB_PASSWORD and SYSTEM_B_DB_PASSWORD in
-- psql's environment: psql -f provision.sql (never on a command line, where every
-- local user could read them in /proc/*/cmdline).
--
--   sso_auth  (no login)  owns the shared auth/session database and its tables
--   system_a  (login)     owns database system_a; member of sso_auth
--   system_b  (login)     owns database system_b; member of sso_auth
-- Each service role reaches its own database and the shared one, and nothing else.
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
ALTER ROLE system_a WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'a_password';
ALTER ROLE system_b WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'b_password';
-- Membership lets each service SET ROLE sso_auth (Django's assume_role), so
-- shared tables have one owner whichever service created them.
GRANT sso_auth TO system_a, system_b;

SELECT 'CREATE DATABASE sso_auth OWNER sso_auth'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sso_auth') \gexec
SELECT 'CREATE DATABASE system_a OWNER system_a'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'system_a') \gexec
SELECT 'CREATE DATABASE system_b OWNER system_b'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'system_b') \gexec

REVOKE ALL ON DATABASE sso_auth, system_a, system_b FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE sso_auth TO system_a, system_b;
GRANT CONNECT, TEMPORARY ON DATABASE system_a TO system_a;
GRANT CONNECT, TEMPORARY ON DATABASE system_b TO system_b;
-- The service roles reach no other database: not the maintenance database, not the template.
REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;
