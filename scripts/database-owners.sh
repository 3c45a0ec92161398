# Which role owns each part of the site's data, and how PostgreSQL's client programs log in as
# that owner. A part is a schema of the one database (shared, and system_NAME for each service), or
# one of the three databases of the layout before it (sso_auth, system_a, system_b: read when a
# site moves).
# Backups and restores read and write a database only as the role that owns it, never as the
# superuser: a service's role owns the functions, CHECK constraints, triggers, views and
# operators in its database, and whatever of them a superuser's session runs, runs with the
# superuser's rights (SET ROLE and `pg_restore --role` change only the current role: the code
# can RESET ROLE, and COPY ... TO PROGRAM is then a shell). docs/security.md, "Who runs what".
#
# Sourced by ./stack (scripts/stack/55-backup.sh) and by the offline installer (a copy named
# database-owners.sh sits beside install.sh in the bundle), which provide what it uses:
#   native   ./stack's PG_PORT, PG_DIR, find_pg_bin, migrate_os_user, is_root, with_bare_env and
#            the service passwords SYSTEM_A_DB_PASSWORD, SYSTEM_B_DB_PASSWORD (from .env)
#   compose  a function `compose` that runs docker compose for the deployment; the client
#            programs run inside its db container

# The one database of the site (docs/architecture.md).
SITE_DATABASE=sso

# The parts of the site's database of the services NAME... (services.toml's), in the order they
# are dumped, one a line: the services' schemas first, the shared one last, so a record a service
# writes while the backup runs names a user who is in the backup too.
site_schemas() {
  local service
  for service in "$@"; do echo "system_$service"; done
  echo shared
}

# The layout before: three databases.
LEGACY_DATABASES=(system_a system_b sso_auth)

# The role that owns PART (a schema, or a database of the layout before) and everything in it.
database_owner() {
  case "$1" in
    shared | sso_auth) echo sso_auth ;;
    # A service's schema (or its database of the layout before): its role, of the same name.
    system_[a-z] | system_[a-z]*[a-z0-9]) echo "$1" ;;
    *)
      echo "error: no owner known for database $1" >&2
      return 1
      ;;
  esac
}

# The role that logs in for the owner: the owner itself, or, for the shared database (its owner
# sso_auth cannot log in), the migration role sso_migrator, the one member of sso_auth, which
# then acts as sso_auth (SET ROLE), as it does when it migrates.
database_login() {
  case "$1" in
    shared | sso_auth) echo sso_migrator ;;
    *) database_owner "$1" ;;
  esac
}

# as_database_owner MODE DATABASE PROGRAM ARGS...: run PROGRAM (pg_dump, pg_restore or psql) of
# MODE (native or compose) logged in as the owner of DATABASE. ARGS name the database to connect
# to: DATABASE itself, or the empty copy a restore fills. The session user is the owner (or
# sso_migrator), never a superuser; no password reaches a command line.
as_database_owner() {
  local mode=$1 database=$2 program=$3 owner login
  shift 3
  owner=$(database_owner "$database") || return 1
  login=$(database_login "$database")
  # pg_dump and pg_restore then act as the owner: what a restore creates belongs to it.
  [ "$program" = psql ] || [ "$login" = "$owner" ] || set -- --role "$owner" "$@"
  local quiet="-c client_min_messages=warning"
  case "$mode:$login" in
    native:sso_migrator)
      # Peer authentication over the local socket, as the migrate step's OS user (pg_ident.conf);
      # no password, and nothing of ./stack's environment.
      local as_user=()
      is_root && as_user=(runuser -u "$(migrate_os_user)" --)
      with_bare_env PGOPTIONS="$quiet" "${as_user[@]}" \
        "$(find_pg_bin)/$program" -h "$PG_DIR/run" -p "$PG_PORT" -U "$login" "$@"
      ;;
    native:*)
      # Over loopback with the role's own password, in the client's environment only.
      local password_variable="${login^^}_DB_PASSWORD"
      PGPASSWORD=${!password_variable} PGOPTIONS=$quiet \
        "$(find_pg_bin)/$program" -h 127.0.0.1 -p "$PG_PORT" -U "$login" "$@"
      ;;
    compose:sso_migrator)
      # Peer authentication over the db container's socket, as its user sso_migrator (uid 10003).
      compose exec -T -u sso_migrator -e PGOPTIONS="$quiet" db "$program" -U "$login" "$@"
      ;;
    compose:*)
      # Over the db container's loopback with the role's password, which the container holds
      # (its secret file, or in releases before the *_FILE convention, its environment).
      compose exec -T -e PGOPTIONS="$quiet" db bash -c \
        'name=$0 file=${0}_FILE; if [ -n "${!file:-}" ]; then PGPASSWORD=$(cat "${!file}"); else PGPASSWORD=${!name:-}; fi
         export PGPASSWORD; exec "$@"' "${login^^}_DB_PASSWORD" "$program" -h 127.0.0.1 -U "$login" "$@"
      ;;
    *)
      echo "error: as_database_owner: unknown mode $mode" >&2
      return 1
      ;;
  esac
}

# pg_dump -Fc of DATABASE, to stdout, as its owner.
dump_database() {
  local mode=$1 database=$2
  as_database_owner "$mode" "$database" pg_dump -Fc "$database"
}

# A dump of DATABASE (stdin) into TARGET, an empty database the superuser made for it, owned by
# DATABASE's owner: everything it creates belongs to the owner; the dump's own owners and grants
# are dropped (--no-owner --no-privileges), provisioning sets the grants.
restore_database() {
  local mode=$1 database=$2 target=$3
  as_database_owner "$mode" "$database" pg_restore --no-owner --no-privileges --exit-on-error \
    --single-transaction -d "$target"
}

# The migrations applied in DATABASE (app.name, one a line), as its owner.
applied_migrations() {
  local mode=$1 database=$2
  as_database_owner "$mode" "$database" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$database" \
    -c "SELECT app || '.' || name FROM django_migrations ORDER BY id"
}

# --- the one database, a schema per part --------------------------------------------------

# pg_dump -Fc of SCHEMA of the site's database, to stdout, as its owner.
dump_schema() {
  local mode=$1 schema=$2
  as_database_owner "$mode" "$schema" pg_dump -Fc --schema "$schema" "$SITE_DATABASE"
}

# A dump of SCHEMA (stdin) into TARGET, a database provisioned for it (db/provision.sql) where the
# schema's owner may create the schema for the moment (grant_schema_creation): the dump creates it.
restore_schema() {
  local mode=$1 schema=$2 target=$3
  as_database_owner "$mode" "$schema" pg_restore --no-owner --no-privileges --exit-on-error \
    --single-transaction -d "$target"
}

# SQL run in DATABASE as the owner of PART (acting as it, where the login is another role).
as_owner_sql() {
  local mode=$1 part=$2 database=$3 sql=$4 owner login
  owner=$(database_owner "$part") || return 1
  login=$(database_login "$part")
  [ "$login" = "$owner" ] || sql="SET ROLE $owner; $sql"
  as_database_owner "$mode" "$part" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$database" -c "$sql"
}

# The migrations applied in SCHEMA (app.name, one a line), as its owner.
applied_migrations_in_schema() {
  local mode=$1 schema=$2
  as_owner_sql "$mode" "$schema" "$SITE_DATABASE" "SELECT app || '.' || name FROM $schema.django_migrations ORDER BY id"
}

# Move everything PART's owner made in schema public of DATABASE into SCHEMA, as that owner: what
# a dump of the layout before (one database a part, its tables in public) restored into the site's
# database becomes. The schema's owner runs it, so the superuser runs nothing of the service's.
move_public_into_schema() {
  local mode=$1 part=$2 database=$3 schema=$4
  as_owner_sql "$mode" "$part" "$database" "
    DO \$\$
    DECLARE
      object record;
    BEGIN
      FOR object IN
        SELECT c.relname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
           AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_catalog.pg_depend d
                                                 WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
      LOOP
        EXECUTE pg_catalog.format('ALTER %s public.%I SET SCHEMA %I',
          CASE object.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, object.relname, '$schema');
      END LOOP;
      FOR object IN
        SELECT p.oid::pg_catalog.regprocedure AS routine, p.prokind FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
      LOOP
        EXECUTE pg_catalog.format('ALTER %s %s SET SCHEMA %I',
          CASE object.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
          object.routine, '$schema');
      END LOOP;
      FOR object IN
        SELECT t.typname, t.typtype FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = 'public' AND t.typowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
           AND t.typtype IN ('e', 'd', 'r')
      LOOP
        EXECUTE pg_catalog.format('ALTER %s public.%I SET SCHEMA %I',
          CASE object.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, object.typname, '$schema');
      END LOOP;
    END \$\$"
}
