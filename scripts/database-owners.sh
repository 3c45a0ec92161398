# Which role owns each database, and how PostgreSQL's client programs log in as that owner.
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

# The role that owns DATABASE and everything in it.
database_owner() {
  case "$1" in
    sso_auth | system_a | system_b) echo "$1" ;;
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
    sso_auth) echo sso_migrator ;;
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
