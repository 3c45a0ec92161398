# ./stack backup and ./stack restore: the site's data in one file (docs/backup.md), and the
# move of a site from the three databases of the layout before into one database's schemas.
# The file itself (checksums, manifest, refusals) is scripts/backup_file.py's business;
# here are the steps, for the native stack and for Docker Compose alike.

BACKUP_FILE_TOOL="$ROOT/scripts/backup_file.py"
# Who owns each database, and the dump, restore and query run as that owner (never as the
# superuser): shared with the offline installer's backup before an upgrade.
# shellcheck source=../database-owners.sh
source "$ROOT/scripts/database-owners.sh"

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

# db_provision [DATABASE]: roles, the site's database (or another: a restore's copy), its schemas
# and grants (db/provision.sql), applied by the mode's own function.
db_provision() {
  case "$BACKUP_MODE" in
    native) provision_databases "$@" ;;
    compose) compose exec -T db sso-db provision "$@" ;;
  esac
}

# The layout the site's data is in: "schemas" (one database, docs/architecture.md), or "databases"
# (the three of the layout before, until the site moves). Only the catalogs are read.
site_layout() {
  local legacy users
  legacy=$(db_psql postgres -tA -c "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = 'sso_auth'")
  users=$(db_psql postgres -tA -c "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = '$SITE_DATABASE'")
  if [ "$users" = 1 ]; then
    users=$(db_psql "$SITE_DATABASE" -tA -c "SELECT pg_catalog.to_regclass('shared.sso_user') IS NOT NULL")
  fi
  if [ "$legacy" = 1 ] && [ "$users" != t ]; then echo databases; else echo schemas; fi
}

# The parts of LAYOUT, in the order they are dumped: the schemas of the declared services and the
# shared one, or the three databases of the layout before.
parts_of_layout() {
  case "$1" in
    schemas) site_schemas "${SERVICES[@]}" ;;
    databases) echo "${LEGACY_DATABASES[@]}" ;;
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

# What the code of each declared service says about itself (sso_backup_info), into DIR/NAME.json:
# versions, the migrations it knows, the SECRET_KEY fingerprint; DIR/services names them. Compose
# asks the running containers, or else the image, in one throwaway container of the migrate job
# (which holds the key), touching no database.
service_backup_infos() {
  local dir=$1 service
  printf '%s\n' "${SERVICES[@]}" >"$dir/services"
  case "$BACKUP_MODE" in
    native)
      for service in "${SERVICES[@]}"; do
        with_service_env "$service" "$(service_python "$service")" manage.py sso_backup_info >"$dir/$service.json" || return 1
      done
      ;;
    compose)
      # shellcheck disable=SC2046 # one word a container
      if [ "$(compose ps -q --status running $(service_containers) 2>/dev/null | wc -l)" -eq "${#SERVICES[@]}" ]; then
        for service in "${SERVICES[@]}"; do
          compose exec -T "system_$service" sso manage "$service" sso_backup_info >"$dir/$service.json" || return 1
        done
        return 0
      fi
      # (Compose reports the container it creates on stderr: shown only when the command fails.)
      compose run --rm --no-deps -T --entrypoint bash migrate -c "$(infos_script)" \
        >"$dir/infos" 2>"$dir/infos.log" || {
        cat "$dir/infos.log" >&2
        return 1
      }
      split_infos "$dir"
      ;;
  esac
}

# The commands that print each declared service's sso_backup_info in one container, each after
# a line "--- NAME ---" (split_infos takes them apart).
infos_script() {
  local service script=""
  for service in "${SERVICES[@]}"; do
    script+="echo '--- $service ---' && sso manage $service sso_backup_info && "
  done
  echo "${script}true"
}

split_infos() {
  local dir=$1 service
  for service in "${SERVICES[@]}"; do
    sed -n "/^--- $service ---\$/,/^--- [a-z0-9]* ---\$/{/^--- [a-z0-9]* ---\$/d;p}" "$dir/infos" >"$dir/$service.json"
  done
}

site_running() {
  case "$BACKUP_MODE" in
    native)
      local running=1 service
      for service in "${SERVICES[@]}"; do gunicorn_started_here "$service" && running=0; done
      login_workers_started_here && running=0
      nginx_started_here && running=0
      return "$running"
      ;;
    # shellcheck disable=SC2046 # one word a container
    compose) [ -n "$(compose ps -q --status running $(service_containers) nginx 2>/dev/null)" ] ;;
  esac
}

stop_site() {
  case "$BACKUP_MODE" in
    native) native_down ;;
    # shellcheck disable=SC2046 # one word a container
    compose) compose stop nginx $(service_containers) maintenance >&2 ;;
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
  say "backup of the site's data written ($(du -h "$file" | cut -f1)); it holds password hashes and sessions: keep it secret."
  readlink -f "$file"
}

# Into DIR: the layout, each part's dump and applied migrations (as its owner), what the code says
# about itself, PostgreSQL's version. The site keeps running: pg_dump reads one snapshot per part.
gather_backup() {
  local dir=$1 layout part
  layout=$(site_layout) || return 1
  echo "$layout" >"$dir/layout"
  parts_of_layout "$layout" >"$dir/parts"
  for part in $(cat "$dir/parts"); do
    say "dumping $part"
    if [ "$layout" = schemas ]; then
      dump_schema "$BACKUP_MODE" "$part" >"$dir/$part.dump" || return 1
      applied_migrations_in_schema "$BACKUP_MODE" "$part" >"$dir/$part.migrations" || return 1
    else
      dump_database "$BACKUP_MODE" "$part" >"$dir/$part.dump" || return 1
      applied_migrations "$BACKUP_MODE" "$part" >"$dir/$part.migrations" || return 1
    fi
  done
  service_backup_infos "$dir" || return 1
  gather_media "$dir" || return 1
  db_psql postgres -tA -c "SHOW server_version" >"$dir/postgresql-version" || return 1
  release_of_code >"$dir/release"
}

# The uploads of each service added with ./stack add-service (its MEDIA_ROOT), a tar each, as they
# are at this moment; DIR/media names the services.
gather_media() {
  local dir=$1 service media
  : >"$dir/media"
  for service in "${SERVICES[@]}"; do
    is_added_service "$service" || continue
    [ "$BACKUP_MODE" = native ] ||
      die "the uploads of $service: an added project runs with the native stack only for now (docs/adding-a-service.md)."
    media=$(service_media_dir "$service")
    say "archiving the uploads of $service"
    if [ -d "$media" ]; then
      tar -C "$media" -cf "$dir/media_$service.tar" . || return 1
    else
      tar -cf "$dir/media_$service.tar" --files-from /dev/null || return 1
    fi
    echo "$service" >>"$dir/media"
  done
}

# Each service's uploads the backup holds replace its folder's, unpacked by the service's own OS user
# (who owns that folder and can write nowhere else that matters).
restore_media() {
  local dir=$1 service media
  for service in $(python3 -I "$BACKUP_FILE_TOOL" media "$dir"); do
    media=$(service_media_dir "$service")
    say "restoring the uploads of $service into $media"
    prepare_service_files "$service"
    find "$media" -mindepth 1 -delete
    as_service_user "$service" tar -x -C "$media" --no-same-owner --no-same-permissions <"$dir/media_$service.tar" ||
      die "the uploads of $service did not restore (above); the databases are restored."
  done
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
  restore_media "$SCRATCH"
  start_site
}

# What restore needs before it may ask the code: native, the packages and .venv; Compose,
# the images (built as `up` builds them; none are pulled or built with STACK_OFFLINE).
prepare_restore_code() {
  case "$BACKUP_MODE" in
    native)
      ensure_native_packages
      ensure_python_env
      local service
      for service in "${SERVICES[@]}"; do
        ! is_added_service "$service" || ensure_service_venv "$service" "$(service_requirements "$service")"
      done
      prepare_service_users
      ;;
    compose) compose_build_images ;;
  esac
}

# The dumps go into a new database beside the current one: the superuser makes it and its
# schemas (db/provision.sql), each part's owner fills its part. Only when every part is restored
# does the new database replace the site's; a dump that fails leaves everything as it was.
# A backup of the three databases of the layout before lands in the schemas the same way: each
# dump restored by its owner into schema public of the new database, then moved by the owner into
# its schema. That is how a site moves (move_to_schemas); the three databases go at the end.
restore_databases() {
  local dir=$1 layout part owner login restoring="${SITE_DATABASE}_restoring"
  layout=$(python3 -I -c 'import json, sys; print(json.load(open(sys.argv[1])).get("layout", "databases"))' "$dir/manifest.json")
  db_psql postgres -c "DROP DATABASE IF EXISTS $restoring WITH (FORCE)" >/dev/null
  db_provision "$restoring" || die "could not make the database $restoring (above). Nothing was changed. ${RESTORE_FAILED_HINT:-}"
  # The backup's parts (a declared service it does not hold keeps the empty schema provisioned here),
  # the shared part first (dumped last): the services' tables hold foreign keys into it.
  for part in $(python3 -I "$BACKUP_FILE_TOOL" parts "$dir"); do
    owner=$(database_owner "$part") || exit 1
    login=$(database_login "$part")
    if [ "$login" = "$owner" ]; then say "restoring $part (as its owner $owner)"; else say "restoring $part (as $login, acting as its owner $owner)"; fi
    if ! restore_part "$layout" "$part" "$restoring" <"$dir/$part.dump"; then
      db_psql postgres -c "DROP DATABASE IF EXISTS $restoring WITH (FORCE)" >/dev/null || true
      die "the dump of $part did not restore (above). The databases are as they were. ${RESTORE_FAILED_HINT:-}"
    fi
  done
  db_psql postgres -c "DROP DATABASE IF EXISTS ${SITE_DATABASE}_replaced WITH (FORCE)" \
    -c "ALTER DATABASE $SITE_DATABASE RENAME TO ${SITE_DATABASE}_replaced" \
    -c "ALTER DATABASE $restoring RENAME TO $SITE_DATABASE" \
    -c "DROP DATABASE ${SITE_DATABASE}_replaced WITH (FORCE)" >/dev/null
  for part in "${LEGACY_DATABASES[@]}"; do
    db_psql postgres -c "DROP DATABASE IF EXISTS $part WITH (FORCE)" >/dev/null
  done
  db_provision
}

# ./stack up of a site whose data is still in the three databases of the layout before: a backup
# of them (kept in the backups folder), restored into the one database's schemas, after which the
# three databases are dropped (restore_databases). A move that fails leaves the three databases as
# they were, and says so; ./stack up again tries it again.
move_to_schemas() {
  BACKUP_MODE=$1
  [ "$(site_layout)" = databases ] || return 0
  local file gathered extracted rc=0
  (umask 077 && mkdir -p "$(backup_folder)")
  file="$(backup_folder)/sso-backup-$(date -u +%Y%m%dT%H%M%SZ)-before-schemas.tar"
  gathered=$(mktemp -d "$(backup_folder)/.sso-move.XXXXXX")
  extracted=$(mktemp -d "$(backup_folder)/.sso-move.XXXXXX")
  say "the site's data is in the three databases of the layout before (sso_auth, system_a, system_b): moving it into the schemas of one database, after a backup"
  # In a subshell, so its scratch folders go however it ends (a die inside ends only it).
  (
    prepare_owner_logins
    gather_backup "$gathered" || die "the backup before the move failed (above): nothing was moved or changed. Run ./stack up again once that is fixed."
    python3 -I "$BACKUP_FILE_TOOL" pack --dir "$gathered" --mode "$BACKUP_MODE" --out "$file" >&2 ||
      die "the backup before the move was not written (above): nothing was moved or changed."
    python3 -I "$BACKUP_FILE_TOOL" extract "$file" "$extracted" 2>/dev/null || die "the backup $file does not read back: nothing was moved or changed."
    say "backup of the three databases written to $file"
    RESTORE_FAILED_HINT="The three databases were not changed; the backup is $file. Run ./stack up again to try the move again (docs/troubleshooting.md)."
    restore_databases "$extracted"
  ) || rc=$?
  rm -rf "$gathered" "$extracted"
  [ "$rc" -eq 0 ] || exit "$rc"
  say "moved: the site's data is in database $SITE_DATABASE, a schema each for the shared tables, System A and System B"
}

# `./stack _move-to-schemas`: the offline installer's step before it starts an upgraded install
# (install.sh, start_deployment), with the images it loaded: nothing is pulled or built.
cmd__move_to_schemas() {
  require_secrets
  choose_backup_mode compose
  move_compose_site_to_schemas --pull never
}

# restore_part LAYOUT PART TARGET: PART's dump (stdin) into TARGET, as PART's owner. (Every other
# command here reads /dev/null: `docker compose exec` would read the dump from stdin otherwise.) The superuser
# only lets the owner create, for the moment: the schema itself (a schema's dump creates it), or
# in schema public (a database's dump of the layout before lands there, then moves).
restore_part() {
  local layout=$1 part=$2 target=$3 owner schema rc=0
  owner=$(database_owner "$part") || return 1
  if [ "$layout" = schemas ]; then
    schema=$part
    as_owner_sql "$BACKUP_MODE" "$part" "$target" "DROP SCHEMA $schema CASCADE" </dev/null >/dev/null || return 1
    db_psql "$target" -c "GRANT CREATE ON DATABASE $target TO $owner" </dev/null >/dev/null || return 1
    restore_schema "$BACKUP_MODE" "$part" "$target" || rc=$?
    db_psql "$target" -c "REVOKE CREATE ON DATABASE $target FROM $owner" </dev/null >/dev/null || return 1
    # The grants on the schema restored (a dump keeps none): the services' foreign keys need them next.
    [ "$rc" -ne 0 ] || db_provision "$target" </dev/null || return 1
    return "$rc"
  fi
  schema=$part
  [ "$part" != sso_auth ] || schema=shared
  # The migration record provisioning made is replaced by the dump's.
  [ "$schema" != shared ] || as_owner_sql "$BACKUP_MODE" "$part" "$target" "DROP TABLE shared.django_migrations" \
    </dev/null >/dev/null || return 1
  db_psql "$target" -c "GRANT USAGE, CREATE ON SCHEMA public TO $owner" </dev/null >/dev/null || return 1
  { restore_database "$BACKUP_MODE" "$part" "$target" &&
    move_public_into_schema "$BACKUP_MODE" "$part" "$target" "$schema" </dev/null >/dev/null; } || rc=$?
  db_psql "$target" -c "REVOKE USAGE, CREATE ON SCHEMA public FROM $owner" </dev/null >/dev/null || return 1
  return "$rc"
}

