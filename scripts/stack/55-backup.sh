# ./stack backup and ./stack restore: the three databases in one file (docs/backup.md).
# The file itself (checksums, manifest, refusals) is scripts/backup_file.py's business;
# here are the steps, for the native stack and for Docker Compose alike.

BACKUP_FILE_TOOL="$ROOT/scripts/backup_file.py"
# Who owns each database, and the dump, restore and query run as that owner (never as the
# superuser): shared with the offline installer's backup before an upgrade.
# shellcheck source=../database-owners.sh
source "$ROOT/scripts/database-owners.sh"
# The service databases first, the shared one last: a record a service writes while the
# backup runs then names a user who is in the backup too.
BACKUP_DATABASES=(system_a system_b sso_auth)

# Outside $STATE (./stack down --volumes deletes that) and ignored by git and Docker builds.
backup_folder() { echo "${STACK_BACKUP_DIR:-$ROOT/backups}"; }

# --- the database, whichever mode runs it ----------------------------------------------
# BACKUP_MODE (native or compose) chooses. The superuser postgres only makes, renames and drops
# databases and grants (db_psql on the maintenance database, db_provision); what is inside a
# database is read and written as its owner (scripts/database-owners.sh).

db_psql() {
  local db=$1
  shift
  case "$BACKUP_MODE" in
    native) psql_superuser -v ON_ERROR_STOP=1 -d "$db" "$@" ;;
    compose) compose exec -T -e PGOPTIONS="-c client_min_messages=warning" db psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" "$@" ;;
  esac
}

# Roles, databases and grants (db/provision.sql), applied again by the mode's own function.
db_provision() {
  case "$BACKUP_MODE" in
    native) provision_databases ;;
    compose) compose exec -T db sso-db provision ;;
  esac
}

# Natively the shared database's owner logs in as the migrate step's OS user (peer authentication,
# scripts/database-owners.sh): there once the stack has been up, not on a fresh machine a restore starts on.
prepare_owner_logins() {
  [ "$BACKUP_MODE" != native ] || ensure_os_user "$MIGRATE_OS_USER"
}

db_running() {
  case "$BACKUP_MODE" in
    native) database_started_here ;;
    compose) [ -n "$(compose ps -q --status running db 2>/dev/null)" ] ;;
  esac
}

start_db_only() {
  case "$BACKUP_MODE" in
    native) start_database ;;
    compose) compose up -d --wait --wait-timeout 120 --no-build --pull never db >&2 ;;
  esac
}

stop_db_only() {
  case "$BACKUP_MODE" in
    native) stop_database ;;
    compose) compose stop db >&2 ;;
  esac
}

# What the code of each service says about itself (sso_backup_info), into DIR/a.json and
# DIR/b.json: versions, the migrations it knows, the SECRET_KEY fingerprint. Compose asks the
# running containers, or else the image, in one throwaway container of the migrate job (which
# holds the key), touching no database.
service_backup_infos() {
  local dir=$1 service
  case "$BACKUP_MODE" in
    native)
      for service in a b; do
        with_service_env "$service" "$PY" manage.py sso_backup_info >"$dir/$service.json" || return 1
      done
      ;;
    compose)
      if [ "$(compose ps -q --status running system_a system_b 2>/dev/null | wc -l)" -eq 2 ]; then
        for service in a b; do
          compose exec -T "system_$service" sso manage "$service" sso_backup_info >"$dir/$service.json" || return 1
        done
        return 0
      fi
      # (Compose reports the container it creates on stderr: shown only when the command fails.)
      compose run --rm --no-deps -T --entrypoint bash migrate \
        -c 'sso manage a sso_backup_info && echo "--- b ---" && sso manage b sso_backup_info' \
        >"$dir/infos" 2>"$dir/infos.log" || {
        cat "$dir/infos.log" >&2
        return 1
      }
      sed '/^--- b ---$/,$d' "$dir/infos" >"$dir/a.json"
      sed '1,/^--- b ---$/d' "$dir/infos" >"$dir/b.json"
      ;;
  esac
}

site_running() {
  case "$BACKUP_MODE" in
    native)
      local running=1
      gunicorn_started_here a && running=0
      login_workers_started_here && running=0
      gunicorn_started_here b && running=0
      nginx_started_here && running=0
      return "$running"
      ;;
    compose) [ -n "$(compose ps -q --status running system_a system_b nginx 2>/dev/null)" ] ;;
  esac
}

stop_site() {
  case "$BACKUP_MODE" in
    native) native_down ;;
    compose) compose stop nginx system_a system_b >&2 ;;
  esac
}

start_site() {
  case "$BACKUP_MODE" in
    native) native_up ;;
    compose) compose_up ;;
  esac
}

# The mode: --native/--compose, else the one running, else DEFAULT (restore: the backup's),
# else what this folder holds (a native cluster, or containers of the Compose project).
choose_backup_mode() {
  local given=$1 default=${2:-}
  local running=""
  if [ -z "$given" ]; then
    select_compose_project || true
    running=$(running_modes)
    # Both at once is for the user to settle (--native or --compose).
    [ "$running" != "native compose" ] || die "both the native stack and the Compose deployment of this checkout run: say which (--native or --compose)."
  fi
  BACKUP_MODE=${given:-$running}
  [ -n "$BACKUP_MODE" ] || BACKUP_MODE=$default
  if [ -z "$BACKUP_MODE" ]; then
    if [ -f "$PG_DIR/data/PG_VERSION" ]; then
      BACKUP_MODE=native
    elif compose_available && [ -n "$(compose ps -aq db 2>/dev/null)" ]; then
      BACKUP_MODE=compose
    else
      die "no database of this stack here to back up ($STATE holds no native cluster, Compose project $COMPOSE_PROJECT has no db container)."
    fi
  fi
  if [ "$BACKUP_MODE" = compose ]; then
    compose_available || die "no Docker engine with Compose v2 answers here."
    # The project of this checkout that has containers, else the one recorded, else the default.
    select_compose_project || COMPOSE_PROJECT=$(cat "$STATE/compose-project" 2>/dev/null || echo "$COMPOSE_PROJECT")
    # In the folder of an offline install (install.sh): the images install.sh loaded, tagged
    # with the bundle's version; nothing is pulled or built.
    if [ -f "$ROOT/MANIFEST" ] && [ -z "${SSO_VERSION:-}" ]; then
      SSO_VERSION=$(sed -n 's/^bundle [^ ]* //p' "$ROOT/MANIFEST")
      export SSO_VERSION STACK_OFFLINE=1
    fi
  fi
}

# A private scratch folder (in PARENT, else TMPDIR), removed however the command ends.
make_scratch_folder() {
  SCRATCH=$(mktemp -d "${1:-${TMPDIR:-/tmp}}/.sso-backup.XXXXXX")
  chmod 700 "$SCRATCH"
  # shellcheck disable=SC2064 # the folder is known now
  trap "rm -rf '$SCRATCH'" EXIT
}

# --- ./stack backup [FILE] -----------------------------------------------------------

cmd_backup() {
  local file="" mode=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --native) mode=native ;;
      --compose) mode=compose ;;
      -*) die "unknown option for backup: $1 (usage: ./stack backup [--native|--compose] [FILE])" ;;
      *)
        [ -z "$file" ] || die "one file only (usage: ./stack backup [FILE])"
        file=$1
        ;;
    esac
    shift
  done
  command -v python3 >/dev/null || die "./stack backup needs python3."
  require_secrets
  choose_backup_mode "$mode"
  if [ -z "$file" ]; then
    (umask 077 && mkdir -p "$(backup_folder)")
    file="$(backup_folder)/sso-backup-$(date -u +%Y%m%dT%H%M%SZ).tar"
  fi
  [ ! -e "$file" ] || die "$file exists already; name another file."
  [ -d "$(dirname "$file")" ] || die "no folder $(dirname "$file") to write $file into."
  # The dumps wait beside the file, on the disk chosen for backups (not in a small /tmp).
  make_scratch_folder "$(dirname "$file")"
  local started_db=""
  if ! db_running; then
    say "the database is not running: starting it for the backup, stopping it again after"
    start_db_only
    started_db=1
  fi
  prepare_owner_logins
  gather_backup "$SCRATCH" || {
    [ -z "$started_db" ] || stop_db_only
    die "the backup failed (see above); nothing was written."
  }
  [ -z "$started_db" ] || stop_db_only
  python3 -I "$BACKUP_FILE_TOOL" pack --dir "$SCRATCH" --mode "$BACKUP_MODE" --out "$file" || die "the backup was not written (see above)."
  say "backup of sso_auth, system_a and system_b written ($(du -h "$file" | cut -f1)); it holds password hashes and sessions: keep it secret."
  readlink -f "$file"
}

# Into DIR: each database's dump and applied migrations, what the code says about itself,
# PostgreSQL's version. The site keeps running: pg_dump reads one snapshot per database.
gather_backup() {
  local dir=$1 db service
  for db in "${BACKUP_DATABASES[@]}"; do
    say "dumping $db"
    dump_database "$BACKUP_MODE" "$db" >"$dir/$db.dump" || return 1
    applied_migrations "$BACKUP_MODE" "$db" >"$dir/$db.migrations" || return 1
  done
  service_backup_infos "$dir" || return 1
  db_psql postgres -tA -c "SHOW server_version" >"$dir/postgresql-version" || return 1
  release_of_code >"$dir/release"
}

# Which release runs: the offline bundle's name and version, else the checkout's commit.
release_of_code() {
  if [ -f "$ROOT/MANIFEST" ]; then
    sed -n 's/^bundle //p' "$ROOT/MANIFEST"
  elif git -C "$ROOT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
    echo "commit $(git -C "$ROOT" describe --always --dirty)"
  else
    echo unknown
  fi
}

# --- ./stack restore FILE [--force] ---------------------------------------------------------

cmd_restore() {
  local file="" mode="" force="" new_key=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) force=1 ;;
      --new-secret-key) new_key=--new-secret-key ;;
      --native) mode=native ;;
      --compose) mode=compose ;;
      -*) die "unknown option for restore: $1 (usage: ./stack restore FILE [--force] [--new-secret-key] [--native|--compose])" ;;
      *)
        [ -z "$file" ] || die "one file only (usage: ./stack restore FILE [--force])"
        file=$1
        ;;
    esac
    shift
  done
  [ -n "$file" ] || die "usage: ./stack restore FILE [--force] [--new-secret-key] [--native|--compose]"
  [ -f "$file" ] || die "no such file: $file. Nothing was changed."
  command -v python3 >/dev/null || die "./stack restore needs python3."
  [ -f "$ENV_PATH" ] || die "no $ENV_PATH: copy the env file of the site the backup came from here (its SECRET_KEY keeps people logged in), or write a new one with ./stack env and restore with --new-secret-key. Nothing was changed."
  require_secrets
  # (An env file copied from a site of the previous release names no deployment: it gets one here.)
  record_deployment
  make_scratch_folder
  # 1. The file: checksums and manifest (nothing else happens before it is known to be whole).
  python3 -I "$BACKUP_FILE_TOOL" extract "$file" "$SCRATCH" || exit 1
  choose_backup_mode "$mode" "$(python3 -I -c 'import json, sys; print(json.load(open(sys.argv[1]))["mode"])' "$SCRATCH/manifest.json")"
  say "restoring into the $BACKUP_MODE deployment"
  # 2. The code that will run it: not older than the backup, same SECRET_KEY.
  prepare_restore_code
  service_backup_infos "$SCRATCH" || die "could not ask the code of the services about itself (above). Nothing was changed."
  python3 -I "$BACKUP_FILE_TOOL" check "$SCRATCH" $new_key || exit 1
  # 3. The site: stopped, or stopped now with --force.
  if site_running; then
    [ -n "$force" ] || die "the site is running: a restore replaces every user, session and record in it. Stop it first (./stack down), or restore over it with --force. Nothing was changed."
    say "--force: stopping the running site"
    stop_site
  fi
  # 4. The databases, then the site (which migrates them when this code is newer).
  [ "$BACKUP_MODE" = native ] && prepare_service_users
  prepare_owner_logins
  start_db_only
  db_provision
  restore_databases "$SCRATCH"
  start_site
}

# What restore needs before it may ask the code: native, the packages and .venv; Compose,
# the images (built as `up` builds them; none are pulled or built with STACK_OFFLINE).
prepare_restore_code() {
  case "$BACKUP_MODE" in
    native)
      ensure_native_packages
      ensure_python_env
      prepare_service_users
      ;;
    compose) compose_build_images ;;
  esac
}

# Each dump goes into a new database beside the current one (made empty by the superuser, filled
# by the owner: pg_hba.conf lets each owner into its *_restoring copy); only when all three
# restored are the current ones replaced. A dump that fails leaves the databases as they were.
# The grants the service roles need come from provisioning, run again at the end.
restore_databases() {
  local dir=$1 db owner login
  for db in "${BACKUP_DATABASES[@]}"; do
    owner=$(database_owner "$db") || exit 1
    login=$(database_login "$db")
    if [ "$login" = "$owner" ]; then say "restoring $db (as its owner $owner)"; else say "restoring $db (as $login, acting as its owner $owner)"; fi
    db_psql postgres -c "DROP DATABASE IF EXISTS ${db}_restoring WITH (FORCE)" \
      -c "CREATE DATABASE ${db}_restoring OWNER $owner" -c "REVOKE ALL ON DATABASE ${db}_restoring FROM PUBLIC" \
      >/dev/null || die "could not create ${db}_restoring (above). Nothing was changed."
    if ! restore_database "$BACKUP_MODE" "$db" "${db}_restoring" <"$dir/$db.dump"; then
      drop_restoring_databases
      die "the dump of $db did not restore (above). The databases are as they were."
    fi
  done
  for db in "${BACKUP_DATABASES[@]}"; do
    db_psql postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "ALTER DATABASE ${db}_restoring RENAME TO $db" >/dev/null
  done
  db_provision
}

drop_restoring_databases() {
  local db
  for db in "${BACKUP_DATABASES[@]}"; do
    db_psql postgres -c "DROP DATABASE IF EXISTS ${db}_restoring WITH (FORCE)" >/dev/null || true
  done
}
