# The native stack: a throwaway PostgreSQL cluster, two gunicorns and nginx, all
# under $STATE and started in the background. Every step is safe to repeat.

STACK_PORT=${STACK_PORT:-8080}
PG_PORT=${STACK_PG_PORT:-55432}
SERVER_NAMES=${SERVER_NAMES:-127.0.0.1 localhost}
# The address nginx listens on (0.0.0.0 for other machines), as Compose publishes it.
STACK_BIND=${STACK_BIND:-127.0.0.1}
PG_DIR="$STATE/pg"
# What this run of `up` started, so that a failed start stops exactly that.
STARTED_NOW=()

# Started as root, ./stack runs nothing it starts as root but nginx's master (which
# binds the port and reads the TLS key): each part has an unprivileged user of its own,
# created here, named after the deployment (25-deployment.sh: PG_OS_USER for PostgreSQL,
# WEB_OS_USER for nginx's workers), so no part of one deployment runs as a user of another.
# Started as anyone else, everything runs as that user.
# One user per service, so neither can read the other's environment (/proc/PID/environ) or files.
service_os_user() { deployment_os_user "$1"; }
# The migrate step's user (MIGRATE_OS_USER): the only one PostgreSQL lets in as the migration
# role sso_migrator (peer authentication over the local socket, pg_ident.conf), which alone may
# change the shared tables' schema. Without root, every part runs as the invoking user.
migrate_os_user() { if is_root; then echo "$MIGRATE_OS_USER"; else id -un; fi; }
# Housekeeping's user: the only one PostgreSQL lets in as the maintenance role sso_maintenance,
# the one role besides the tables' owner that may delete audit events (db/provision.sql).
maintenance_os_user() { if is_root; then echo "$MAINTENANCE_OS_USER"; else id -un; fi; }

# HTTPS is optional: STACK_TLS_CERT and STACK_TLS_KEY (paths) turn it on, nginx then
# serves the site on STACK_HTTPS_PORT and STACK_PORT only redirects there. Read
# when used (not above) so a caller can turn it on for one run.
native_tls() { [ -n "${STACK_TLS_CERT:-}${STACK_TLS_KEY:-}" ]; }
native_https_port() { echo "${STACK_HTTPS_PORT:-8443}"; }

# Where this machine reaches nginx: the bind address, or loopback when nginx listens on every address.
native_host() {
  case "$STACK_BIND" in
    0.0.0.0 | :: | "[::]") echo 127.0.0.1 ;;
    \[*) echo "$STACK_BIND" ;;
    *:*) echo "[$STACK_BIND]" ;;
    *) echo "$STACK_BIND" ;;
  esac
}

native_url() {
  if native_tls; then echo "https://$(native_host):$(native_https_port)/"; else echo "http://$(native_host):$STACK_PORT/"; fi
}

# Run a command that checks the site over HTTPS, trusting the CA of its certificate:
# STACK_TLS_CA, by default the certificate itself (right for a self-signed one).
trusting_site_ca() {
  if native_tls; then SSL_CERT_FILE=${STACK_TLS_CA:-$STACK_TLS_CERT} "$@"; else "$@"; fi
}

# PostgreSQL gets no variable of ./stack's: .env's secrets are none of its business.
as_pg_user() {
  if is_root; then with_bare_env runuser -u "$PG_OS_USER" -- "$@"; else with_bare_env "$@"; fi
}

# Run a command with nothing of ./stack's environment but PATH and LANG (no secret is in
# either, so env's command line, which every local user can read, shows none).
with_bare_env() { env -i PATH="$PATH" LANG=C.UTF-8 "$@"; }

# The user, with a comment claiming it for this deployment and folder (25-deployment.sh). One
# without a claim (made by the previous release, which named every deployment sso) is claimed now.
ensure_os_user() {
  is_root || return 0
  local comment
  if ! id "$1" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "$(os_user_claim)" "$1"
    return 0
  fi
  comment=$(getent passwd "$1" | cut -d: -f5)
  case "$comment" in
    "$(os_user_claim)") ;;
    "sso deployment "*)
      stale_os_user_claim "$1" ||
        die "the OS user $1 belongs to another deployment (${comment#sso deployment }), not to this $(describe_deployment): give this one another name (SSO_DEPLOYMENT in $ENV_PATH)."
      usermod --comment "$(os_user_claim)" "$1"
      ;;
    *) usermod --comment "$(os_user_claim)" "$1" ;;
  esac
}

ensure_pg_os_user() { ensure_os_user "$PG_OS_USER"; }

pg_ctl_() { as_pg_user "$(find_pg_bin)/pg_ctl" -D "$PG_DIR/data" "$@"; }

# Each service's own folder: its pid file and its socket. Only the service's user and
# nginx's workers may enter it (as root), or only the invoking user (otherwise), so no
# other local user can reach gunicorn past nginx.
service_run_dir() { echo "$STATE/run/$1"; }
gunicorn_socket() { echo "$(service_run_dir "$1")/gunicorn.sock"; }

# System A's login workers (system_a/gunicorn_login.conf.py): a gunicorn of their own, as A's user, in A's
# folder, serving the POSTs that check a password (nginx sends them there), so that logged-in users'
# pages never wait behind them (docs/login-protection.md, "Under a flood").
login_socket() { echo "$(service_run_dir a)/gunicorn-login.sock"; }
login_log() { echo "$STATE/log/a-login.log"; }

# How each process ./stack starts is recognised (see started_here in 10-common.sh).
gunicorn_pidfile() { echo "$(service_run_dir "$1")/gunicorn.pid"; }
gunicorn_started_here() { started_here "$(gunicorn_pidfile "$1")" "$(service_venv "$1")/bin/gunicorn" "--pid $(gunicorn_pidfile "$1")"; }
login_pidfile() { echo "$(service_run_dir a)/gunicorn-login.pid"; }
login_workers_started_here() { started_here "$(login_pidfile)" "$VENV/bin/gunicorn" "--pid $(login_pidfile)"; }
nginx_started_here() { started_here "$STATE/nginx/nginx.pid" "nginx: master process" "-c $STATE/nginx/nginx.conf"; }
# The PostgreSQL of this deployment is the one serving its data folder, however it was started
# (by ./stack, by `pg_ctl -D .stack/dev/pg/data restart`, by hand after a reboot): postmaster.pid
# names it, and it must really be a postgres process of PostgreSQL's user working in that folder
# (its current directory). So no record of ./stack's is needed, and a stale postmaster.pid naming
# another process (a reused pid) is said and removed, its process left alone: pg_ctl would signal
# it, and postgres refuse to start.
database_pidfile() { echo "$PG_DIR/data/postmaster.pid"; }

database_started_here() {
  local pidfile pid
  pidfile=$(database_pidfile)
  [ -e "$pidfile" ] || [ -L "$pidfile" ] || return 1
  pid=$(pidfile_pid "$pidfile")
  if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then
    serves_our_data "$pid" && return 0
    warn "stale pid file $pidfile: pid $pid is another process now, not the PostgreSQL of $PG_DIR/data; removed the file, left the process alone."
  else
    warn "stale pid file $pidfile: pid ${pid:-none} is not running; removed the file."
  fi
  rm -f "$pidfile"
  return 1
}

# Is PID a postgres of PostgreSQL's OS user whose data folder (its current directory, and the
# folder postmaster.pid names on its second line) is this deployment's?
serves_our_data() {
  local pid=$1 data lines exe owner
  data=$(realpath -e "$PG_DIR/data" 2>/dev/null) || return 1
  mapfile -t lines < <(read_service_file "$(database_pidfile)")
  [ "${lines[1]:-}" = "$data" ] || [ "$(realpath -e "${lines[1]:-/nonexistent}" 2>/dev/null)" = "$data" ] || return 1
  owner=$(stat -c %U "/proc/$pid" 2>/dev/null) || return 1
  if is_root; then [ "$owner" = "$PG_OS_USER" ] || return 1; else [ "$owner" = "$(id -un)" ] || return 1; fi
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)} # the binary replaced by a package upgrade while it runs
  [ "${exe##*/}" = postgres ] || return 1
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ]
}

# The folders PostgreSQL's user writes, made by root in $PG_DIR, which only root may write to (as
# root): so nothing root writes there (initdb.log) or hands over (run/, data/, postgres.log) can
# be a link that user planted. An older ./stack gave $PG_DIR itself to that user: taken back, and
# an entry it may have replaced by a link is removed before it is used.
prepare_database_folders() {
  mkdir -p "$PG_DIR"
  if ! is_root; then
    mkdir -p "$PG_DIR/data" "$PG_DIR/run"
    chmod 0700 "$PG_DIR" "$PG_DIR/data"
    return 0
  fi
  ensure_pg_os_user
  chown -h root:root "$PG_DIR"
  # The migrate step's user reaches the socket folder (PG_DIR itself stays unlistable).
  chmod 0711 "$PG_DIR"
  local entry
  for entry in data run; do
    if [ -L "$PG_DIR/$entry" ] || { [ -e "$PG_DIR/$entry" ] && [ ! -d "$PG_DIR/$entry" ]; }; then
      rm -f "$PG_DIR/$entry"
    fi
  done
  [ -d "$PG_DIR/data" ] || install -d -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0700 "$PG_DIR/data"
  install -d -o "$PG_OS_USER" -g root -m 0755 "$PG_DIR/run"
  # (superuser.pw: the password file an older ./stack left behind when initdb failed.)
  rm -f "$PG_DIR/superuser.pw"
  for entry in postgres.log initdb.log; do
    [ ! -L "$PG_DIR/$entry" ] || rm -f "$PG_DIR/$entry"
  done
  [ -e "$PG_DIR/postgres.log" ] || install -m 0600 /dev/null "$PG_DIR/postgres.log"
  chown -h "$PG_OS_USER:$PG_OS_USER" "$PG_DIR/postgres.log"
  # Left in data/ by an older ./stack, which wrote it there as root.
  rm -f "$PG_DIR/data/postmaster.pid.started"
}

init_database_cluster() {
  [ -f "$PG_DIR/data/PG_VERSION" ] && return 0
  prepare_database_folders
  as_pg_user test -w "$PG_DIR/data" || die "$PG_OS_USER cannot write $PG_DIR/data: move the checkout somewhere world-traversable."
  # The password reaches initdb through a pipe, never a file. (A pipe of PostgreSQL's user: the
  # one root makes for stdin may be read, but not opened again by path, /dev/stdin, as that user.)
  printf '%s\n' "$POSTGRES_PASSWORD" |
    as_pg_user bash -c 'exec "$1" -D "$2" -U postgres --pwfile=<(cat) --auth=scram-sha-256 -E UTF8 --no-locale' \
      initdb "$(find_pg_bin)/initdb" "$PG_DIR/data" >"$PG_DIR/initdb.log" 2>&1 ||
    die "initdb failed; see $PG_DIR/initdb.log"
}

# Who may connect to what, rewritten on every start so an older cluster gets it too:
# the superuser (./stack, the unit tests) anywhere; each declared service's role only the site's
# database (and its own one of the layout before); the migration and maintenance roles only the shared one, over
# the local socket, each from its own OS user. provision.sql's grants say the same a second time.
# The *_restoring databases exist only during ./stack restore, which fills each as its owner.
write_pg_hba() {
  as_pg_user tee "$PG_DIR/data/pg_hba.conf" >/dev/null <<'HBA'
# Written by ./stack on every start (scripts/stack/30-native.sh, write_pg_hba).
local   all                                   postgres                      scram-sha-256
local   sso,sso_restoring,sso_auth            sso_migrator                  peer map=migrate
local   sso                                   sso_maintenance               peer map=maintenance
host    all                                   postgres       127.0.0.1/32   scram-sha-256
HBA
  local service
  for service in "${SERVICES[@]}"; do
    printf 'host    sso,sso_restoring,system_%s%*s system_%-7s 127.0.0.1/32   scram-sha-256\n' \
      "$service" $((15 - ${#service})) "" "$service"
  done | as_pg_user tee -a "$PG_DIR/data/pg_hba.conf" >/dev/null
  as_pg_user tee -a "$PG_DIR/data/pg_hba.conf" >/dev/null <<'HBA'
# The standalone control of ./stack bench (scripts/stack/90-bench.sh), when it runs.
host    bench_control       bench_control  127.0.0.1/32   scram-sha-256
HBA
  printf '# Written by ./stack on every start: who may log in as the migration and maintenance roles.\nmigrate  %s  sso_migrator\nmaintenance  %s  sso_maintenance\n' \
    "$(migrate_os_user)" "$(maintenance_os_user)" | as_pg_user tee "$PG_DIR/data/pg_ident.conf" >/dev/null
}

start_database() {
  [ -f "$PG_DIR/data/PG_VERSION" ] || step "PostgreSQL cluster created in $PG_DIR" init_database_cluster
  prepare_database_folders
  write_pg_hba
  if database_started_here; then
    require_database_port
    pg_ctl_ reload >/dev/null
    return 0
  fi
  pg_ctl_ -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-c port=$PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR/run" start >/dev/null ||
    die "PostgreSQL did not start; see $PG_DIR/postgres.log"
  STARTED_NOW+=(database)
}

# A PostgreSQL of this data folder started by hand may listen elsewhere than STACK_PG_PORT.
require_database_port() {
  local lines
  mapfile -t lines < <(read_service_file "$(database_pidfile)")
  [ "${lines[3]:-}" = "$PG_PORT" ] ||
    die "the PostgreSQL of $PG_DIR/data (pid ${lines[0]:-?}) listens on port ${lines[3]:-?}, not on STACK_PG_PORT=$PG_PORT. Stop it with ./stack down and start again, or set STACK_PG_PORT=${lines[3]:-?}."
}

stop_database() {
  database_started_here || return 0
  say "stopping PostgreSQL"
  pg_ctl_ stop -m fast -w >/dev/null
}

psql_superuser() {
  PGPASSWORD=$POSTGRES_PASSWORD PGCONNECT_TIMEOUT=5 PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

# provision_databases [DATABASE]: roles and the site's database (or another one: a restore's copy).
provision_databases() {
  psql_superuser -d postgres -c 'SELECT 1' >/dev/null 2>&1 ||
    die "cannot log in to PostgreSQL on port $PG_PORT as postgres: was $PG_DIR made with another POSTGRES_PASSWORD? (./stack down --volumes starts over)"
  psql_superuser -d postgres -v site_database="${1:-sso}" -f "$ROOT/db/provision.sql" >/dev/null
  # Each declared service's role and schema. Its password reaches psql through its environment
  # (provision-service.sql reads it with \getenv).
  local service password_var
  for service in "${SERVICES[@]}"; do
    password_var="SYSTEM_${service^^}_DB_PASSWORD"
    SERVICE_DB_PASSWORD=${!password_var:-} psql_superuser -d postgres -v site_database="${1:-sso}" \
      -v service="$service" -f "$ROOT/db/provision-service.sql" >/dev/null
  done
}

# The variables a service process gets, and nothing else (never POSTGRES_PASSWORD, never
# the other service's password): its database settings, the key, its non-secret settings,
# DJANGO_* (createsuperuser --noinput reads DJANGO_SUPERUSER_PASSWORD) and a few of the
# shell's. As root, runuser adds HOME, USER, LOGNAME and SHELL of the service's user.
SERVICE_VARIABLES=(
  DB_HOST DB_PORT DB_USER DB_PASSWORD DB_CONN_MAX_AGE DB_CONNECT_TIMEOUT
  DB_NAME DB_SCHEMA AUTH_DB_ROLE AUTH_DB_USER AUTH_DB_HOST
  SECRET_KEY SECRET_KEY_FILE SECRET_KEY_FALLBACKS
  SSO_SERVICE SSO_SERVICES_FILE MEDIA_ROOT STATIC_ROOT ALLOWED_HOSTS SECURE_COOKIES CSRF_TRUSTED_ORIGINS SESSION_COOKIE_AGE WEB_CONCURRENCY
  GUNICORN_WORKER_CLASS GUNICORN_THREADS
  SSO_AUDIT_RETENTION_DAYS SSO_LEGACY_SESSION_COOKIES
  LOGIN_FAILURE_LIMIT LOGIN_LOCKOUT_MINUTES LOGIN_LOCKOUT_MAX_MINUTES
  SSO_SECOND_FACTOR SSO_SITE_NAME PASSWORD_RESET_HOURS
  EMAIL_HOST EMAIL_PORT EMAIL_HOST_USER EMAIL_HOST_PASSWORD EMAIL_HOST_PASSWORD_FILE EMAIL_USE_TLS EMAIL_USE_SSL
  DEFAULT_FROM_EMAIL
  LOGIN_ADDRESS_FAILURE_LIMIT LOGIN_PASSWORD_CHECKS_AT_ONCE
  PATH LANG LC_ALL TERM TZ HOME
)

is_service_variable() {
  local name=$1 allowed
  [[ $name == DJANGO_* ]] && return 0
  for allowed in "${SERVICE_VARIABLES[@]}"; do [ "$name" = "$allowed" ] && return 0; done
  return 1
}

# Unexport every other variable of this (sub)shell. Not `env -i NAME=VALUE...`: that
# would put the passwords on a command line, which every local user can read.
keep_only_service_variables() {
  local name
  for name in $(compgen -e); do
    is_service_variable "$name" || unset -v "$name" || die "cannot drop $name from a service's environment"
  done
  # Exported shell functions travel in the environment too.
  for name in $(compgen -A function); do export -fn "$name"; done
}

as_service_user() {
  local service=$1
  shift
  if is_root; then runuser -u "$(service_os_user "$service")" -- "$@"; else "$@"; fi
}

# Run a command in a service's folder, as the service's user (or RUN_AS_OS_USER: the
# migrate step's), with that service's environment and nothing else.
with_service_env() {
  local service=$1
  shift
  local password_var="SYSTEM_${service^^}_DB_PASSWORD" os_user=${RUN_AS_OS_USER:-$(service_os_user "$service")}
  (
    cd "$(service_project_dir "$service")"
    export DB_HOST=127.0.0.1 DB_PORT=$PG_PORT DB_USER="system_$service" DB_PASSWORD="${!password_var}"
    export DB_NAME=sso DB_SCHEMA="system_$service"
    # The settings it runs with (an added project's: the layer's), its static and media folders.
    export SSO_SERVICE=$service DJANGO_SETTINGS_MODULE=${SERVICE_SETTINGS[$service]}
    export STATIC_ROOT="$STATE/static/$service" MEDIA_ROOT=$(service_media_dir "$service")
    export ALLOWED_HOSTS=${SERVER_NAMES// /,}
    # Behind HTTPS the session and CSRF cookies are marked Secure.
    if native_tls; then export SECURE_COOKIES=1; fi
    keep_only_service_variables
    # Static files and logs are read by nginx's workers and the operator.
    umask 022
    if is_root; then runuser -u "$os_user" -- "$@"; else "$@"; fi
  )
}

# As root: the users, and the folders each service writes, owned by its user.
prepare_service_users() {
  is_root || return 0
  local service
  ensure_os_user "$PG_OS_USER"
  ensure_os_user "$WEB_OS_USER"
  ensure_os_user "$MAINTENANCE_OS_USER"
  for service in "${SERVICES[@]}"; do
    ensure_os_user "$(service_os_user "$service")"
    as_service_user "$service" test -r "$(service_project_dir "$service")/manage.py" -a -x "$STATE" ||
      die "$(service_os_user "$service") cannot read $ROOT or enter $STATE: move them somewhere world-readable."
    as_service_user "$service" "$(service_python "$service")" -c 'import django, sso_shared' ||
      die "$(service_os_user "$service") cannot run $PY (its Python is $(readlink -f "$PY")): make the virtual environment with a Python every user may run (/usr/bin/python3)."
  done
}

# Folders (and log files) a service writes, owned by its user. A static folder an older
# ./stack (running services as root) filled is handed over once, as a whole; one the
# service's user owns already is never walked as root (it may hold links it planted).
prepare_service_files() {
  local service=$1 user run_dir log static media
  run_dir=$(service_run_dir "$service")
  static="$STATE/static/$service"
  media=$(service_media_dir "$service")
  install -d -m 0755 "$STATE/run" "$STATE/log" "$STATE/static" "$STATE/media"
  if ! is_root; then
    install -d -m 0700 "$run_dir"
    [ -d "$media" ] || install -d -m 0755 "$media"
    return 0
  fi
  user=$(service_os_user "$service")
  install -d -o "$user" -g "$WEB_OS_USER" -m 0750 "$run_dir"
  local logs=("$STATE/log/$service.log")
  [ "$service" != a ] || logs+=("$(login_log)") # A's login workers write their own
  for log in "${logs[@]}"; do
    [ -e "$log" ] || install -m 0640 /dev/null "$log"
    chown -h "$user:$user" "$log"
  done
  [ -d "$static" ] || install -d "$static"
  [ "$(stat -c %U "$static")" = "$user" ] || chown -hR "$user:$user" "$static"
  # Its uploads: the one folder it writes besides these (nginx's workers read it).
  [ -d "$media" ] || install -d -o "$user" -g "$user" -m 0755 "$media"
}

# The migrate step: each service's own database as its own role, the shared one as the
# migration role (over the local socket, as the migrate step's OS user; no password).
# migrate_databases [SERVICE...]: every declared service by default.
migrate_databases() {
  local service
  ensure_os_user "$MIGRATE_OS_USER"
  for service in "${@:-${SERVICES[@]}}"; do
    AUTH_DB_USER=sso_migrator AUTH_DB_HOST="$PG_DIR/run" AUTH_DB_ROLE=sso_auth RUN_AS_OS_USER=$(migrate_os_user) \
      with_service_env "$service" "$(service_python "$service")" manage.py sso_migrate --noinput
  done
}

# Housekeeping now (sso_housekeeping): System A's settings, the shared database as the
# maintenance role (over the local socket, as its OS user; no password). Expired sessions, old
# audit events and lockout rows go; one line says how many.
run_housekeeping_now() {
  AUTH_DB_USER=sso_maintenance AUTH_DB_HOST="$PG_DIR/run" RUN_AS_OS_USER=$(maintenance_os_user) \
    with_service_env a "$PY" manage.py sso_housekeeping
}

native_housekeeping() {
  load_env_file
  require_secrets
  prepare_service_users
  run_housekeeping_now
}

collect_static() {
  local service
  for service in "${SERVICES[@]}"; do
    with_service_env "$service" "$(service_python "$service")" manage.py collectstatic --noinput -v 0
  done
}

check_services() {
  local service
  for service in "${SERVICES[@]}"; do
    with_service_env "$service" "$(service_python "$service")" manage.py check --fail-level ERROR >/dev/null ||
      die "System ${service^^} failed its checks (see above); it was not started."
  done
}

# Record the service's settings fingerprint in the shared database; refuse when it
# disagrees with the other service's (gunicorn's on_starting hook checks again).
register_service() {
  local service=$1
  with_service_env "$service" "$(service_python "$service")" manage.py sso_register >/dev/null ||
    die "System ${service^^} disagrees with the other service (see above); it was not started."
}

start_service() {
  local service=$1
  local pidfile
  pidfile=$(gunicorn_pidfile "$service")
  gunicorn_started_here "$service" && return 0
  register_service "$service"
  # --capture-output: what the workers write to stdout and stderr (Django's log lines, tracebacks
  # included) goes to the log too, not to the /dev/null of a daemon.
  with_service_env "$service" "$(service_venv "$service")/bin/gunicorn" -c "$(service_gunicorn_config "$service")" \
    --bind "unix:$(gunicorn_socket "$service")" \
    --daemon --pid "$pidfile" --error-logfile "$STATE/log/$service.log" --capture-output
  record_started "$pidfile"
  STARTED_NOW+=("$service")
}

# The login workers of A: same code, settings and user as A (with_service_env a), their own socket and log.
start_login_workers() {
  login_workers_started_here && return 0
  with_service_env a "$VENV/bin/gunicorn" -c gunicorn_login.conf.py --bind "unix:$(login_socket)" \
    --daemon --pid "$(login_pidfile)" --error-logfile "$(login_log)" --capture-output
  record_started "$(login_pidfile)"
  STARTED_NOW+=(a-login)
  # Listening before nginx sends it anything: gunicorn writes its pid file before it binds, and a login
  # POST arriving between the two would get nginx's 502 (the pages' check goes to A's other workers).
  "$PY" - "$(login_socket)" <<'PYTHON' ||
import socket, sys, time
deadline = time.monotonic() + 60
while True:
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(sys.argv[1])
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
PYTHON
    die "System A's login workers did not listen on $(login_socket) within 60 s; see $(login_log)"
}

render_nginx_config() {
  local out=$1 run_dir=$2 error_log=$3 access_log=$4 worker_user="" service
  is_root && worker_user=$WEB_OS_USER
  (
    # Each declared service's socket and static files (nginx/render-config.sh: UPSTREAM_NAME, STATIC_ROOT_NAME).
    for service in "${SERVICES[@]}"; do
      export "UPSTREAM_${service^^}=unix:$(gunicorn_socket "$service")" "STATIC_ROOT_${service^^}=$STATE/static/$service"
      # An added project's uploads (MEDIA_ROOT_NAME: /NAME/media/).
      ! is_added_service "$service" || export "MEDIA_ROOT_${service^^}=$(service_media_dir "$service")"
    done
    SERVICES="${SERVICES[*]}" LISTEN_PORT=$STACK_PORT LISTEN_ADDRESS=$STACK_BIND WORKER_USER=$worker_user \
      SERVER_NAMES=$SERVER_NAMES UPSTREAM_A_LOGIN="unix:$(login_socket)" RUN_DIR=$run_dir \
      UNAVAILABLE_PAGES="$STATE/nginx/unavailable" \
      ERROR_LOG=$error_log ACCESS_LOG=$access_log \
      TLS_CERT=${STACK_TLS_CERT:-} TLS_KEY=${STACK_TLS_KEY:-} HTTPS_LISTEN_PORT=$(native_https_port) \
      "$ROOT/nginx/render-config.sh" >"$out"
  ) || die "could not render the nginx configuration (see above)."
}

proxy_ports() {
  if native_tls; then echo "$(native_https_port) (HTTPS; $STACK_PORT redirects)"; else echo "$STACK_PORT"; fi
}

start_proxy() {
  local dir="$STATE/nginx"
  nginx_started_here && return 0
  mkdir -p "$dir" "$STATE/log"
  # Each declared service's page for when it does not answer (nginx/errors/unavailable.html.template).
  python3 -I "$ROOT/nginx/render-unavailable-pages.py" "$dir/unavailable" || exit 1
  chmod -R a+rX "$dir/unavailable"
  render_nginx_config "$dir/nginx.conf" "$dir" "$STATE/log/nginx-error.log" "$STATE/log/nginx-access.log"
  # No secret in nginx's environment: its workers face the network.
  with_bare_env nginx -q -t -p "$dir" -c "$dir/nginx.conf" -g 'error_log stderr;' 2>/dev/null ||
    with_bare_env nginx -t -p "$dir" -c "$dir/nginx.conf" -g 'error_log stderr;' || die "nginx refused its configuration."
  with_bare_env nginx -p "$dir" -c "$dir/nginx.conf"
  record_started "$dir/nginx.pid"
  STARTED_NOW+=(nginx)
}

# nginx takes a new configuration (a service added or removed) without dropping a request: its pages
# and configuration written again, checked, then a reload (the old workers finish what they serve).
reload_proxy() {
  local dir="$STATE/nginx"
  nginx_started_here || return 0
  python3 -I "$ROOT/nginx/render-unavailable-pages.py" "$dir/unavailable" || exit 1
  chmod -R a+rX "$dir/unavailable"
  render_nginx_config "$dir/nginx.conf.new" "$dir" "$STATE/log/nginx-error.log" "$STATE/log/nginx-access.log"
  with_bare_env nginx -t -q -p "$dir" -c "$dir/nginx.conf.new" -g 'error_log stderr;' ||
    die "nginx refused the new configuration ($dir/nginx.conf.new); it runs the old one."
  mv -f "$dir/nginx.conf.new" "$dir/nginx.conf"
  with_bare_env nginx -p "$dir" -c "$dir/nginx.conf" -s reload 2>/dev/null || die "nginx did not take its new configuration ($dir/nginx.conf)."
}

# The running services learn of a service added or removed (their header links, the access of new
# users): each gunicorn of theirs reloads its workers on SIGHUP, gracefully (each request in flight is
# finished), and the new workers read the declaration again. reload_running_services [EXCEPT].
reload_running_services() {
  local except=${1:-} service masters=() master old=() waited=0
  for service in "${SERVICES[@]}"; do
    [ "$service" != "$except" ] && gunicorn_started_here "$service" || continue
    masters+=("$(pidfile_pid "$(gunicorn_pidfile "$service")")")
  done
  ! login_workers_started_here || masters+=("$(pidfile_pid "$(login_pidfile)")")
  for master in "${masters[@]}"; do
    mapfile -t -O "${#old[@]}" old < <(pgrep -P "$master")
    kill -HUP "$master"
  done
  # Done when no worker of before is left (each finishes its request first), at most 60 s.
  while [ ${#old[@]} -gt 0 ] && [ "$waited" -lt 600 ]; do
    local alive=() worker
    for worker in "${old[@]}"; do kill -0 "$worker" 2>/dev/null && alive+=("$worker"); done
    old=("${alive[@]}")
    [ ${#old[@]} -eq 0 ] || { sleep 0.1; waited=$((waited + 1)); }
  done
  [ ${#old[@]} -eq 0 ] || warn "some workers of before still run after 60 s (pids ${old[*]}); they end when their request does."
}

# A service declared while the native stack runs (./stack add-service): its user, folders, role and
# schema, migrations and static files, then its gunicorn; nginx reloads with it. The others keep running.
native_start_added_service() {
  local name=$1
  require_secrets
  stop_supervisor
  prepare_service_users
  prepare_service_files "$name"
  write_pg_hba
  pg_ctl_ reload >/dev/null
  step "role and schema system_$name provisioned" provision_databases
  step "databases migrated (sso_migrate of $name)" with_progress "migrating" migrate_databases "$name"
  step "static files collected" collect_static
  step "Django checks passed" check_services
  step "System ${name^^} started (gunicorn on $(gunicorn_socket "$name"))" start_service "$name"
  step "the other services know it (their workers reloaded)" reload_running_services "$name"
  step "nginx serves /$name/" reload_proxy
  step "supervisor running" start_supervisor
  step "every service answers through nginx (${SERVICES[*]})" wait_until_answering "$(native_url)"
  say_service_urls "$(native_url)"
}

# A service taken out of the declaration (./stack remove-service): its gunicorn stops, nginx reloads
# without it, PostgreSQL no longer lets its role in; the others keep running.
native_stop_removed_service() {
  local name=$1
  stop_supervisor
  stop_started "System ${name^^}" "$(gunicorn_pidfile "$name")" gunicorn_started_here "$name"
  read_declared_services
  step "the other services forget it (their workers reloaded)" reload_running_services
  step "nginx no longer serves /$name/" reload_proxy
  write_pg_hba
  pg_ctl_ reload >/dev/null
  step "supervisor running" start_supervisor
}

# ./stack remove-service NAME --volumes: its schema and role, uploads, static files, logs, sockets,
# Python environment (an added project's) and OS user go. Its rows in the shared tables (its access
# group, the content types and permissions of its models) stay: users and groups may still point at them.
native_drop_service_data() {
  local name=$1 was_added=$2
  if database_started_here; then
    psql_superuser -d sso -v ON_ERROR_STOP=1 -v role="system_$name" >/dev/null <<'SQL' ||
DROP SCHEMA IF EXISTS :"role" CASCADE;
DROP OWNED BY :"role";
DROP ROLE IF EXISTS :"role";
SQL
      die "could not drop the schema and role system_$name (above)."
    say "dropped the schema and role system_$name"
  else
    warn "PostgreSQL does not run here: the schema system_$name is left (./stack up, then remove-service again with --volumes)."
  fi
  rm -rf "$(service_media_dir "$name")" "$STATE/static/$name" "$(service_run_dir "$name")" "$STATE/log/$name.log"
  [ -z "$was_added" ] || rm -rf "$STATE/venvs/$name"
  if is_root && [ "$(getent passwd "$(service_os_user "$name")" | cut -d: -f5)" = "$(os_user_claim)" ]; then
    userdel "$(service_os_user "$name")" 2>/dev/null || warn "could not remove the OS user $(service_os_user "$name")"
  fi
  say "removed the uploads, static files, logs and Python environment of $name"
}

wait_until_answering() {
  local base=$1 timeout=${2:-90}
  local service urls=()
  for service in "${SERVICES[@]}"; do urls+=("${base}$service/health"); done
  trusting_site_ca "$PY" "$ROOT/scripts/wait_for_http.py" --timeout "$timeout" "${urls[@]}" ||
    die "the stack did not answer within ${timeout}s; logs are in $STATE/log/"
}

# stop_started NAME PIDFILE CHECK...: stop the process of PIDFILE once CHECK (one of
# the *_started_here above) has vouched that it is the one ./stack started.
stop_started() {
  local name=$1 pidfile=$2 pid
  shift 2
  "$@" || return 0
  pid=$(pidfile_pid "$pidfile")
  say "stopping $name (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not stop within 20 s"
  forget_started "$pidfile"
}

# Where the running PostgreSQL listens, as it wrote it in postmaster.pid (line 4: port,
# 5: socket directory, 6: listen address).
database_address() {
  local lines
  mapfile -t lines < <(read_service_file "$(database_pidfile)")
  echo "${lines[5]} port ${lines[3]}, socket directory ${lines[4]}"
}

native_status() {
  if native_running; then say "native stack running at $(native_url)"; else say "native stack partly stopped; ./stack up restarts it"; fi
  if supervisor_started_here; then say "the supervisor restarts a service that stops (log: $STATE/log/supervisor.log)"; else say "the supervisor is not running"; fi
  if database_started_here; then say "PostgreSQL listens on $(database_address)"; else say "PostgreSQL is not running"; fi
}

# Every check runs (no short cut), so each stale pid file is reported.
native_running() {
  local running=0
  gunicorn_started_here a || running=1
  login_workers_started_here || running=1
  gunicorn_started_here b || running=1
  nginx_started_here || running=1
  return "$running"
}

native_up() {
  local service
  step "Debian packages present (PostgreSQL, nginx, envsubst, python3-venv)" ensure_native_packages
  step "Python environment ready in $VENV" ensure_python_env
  for service in "${SERVICES[@]}"; do
    ! is_added_service "$service" ||
      step "Python environment of $service ready in $(service_venv "$service")" \
        ensure_service_venv "$service" "$(service_requirements "$service")"
  done
  [ -f "$ENV_PATH" ] || step "wrote $ENV_PATH with fresh random secrets" write_env_file "$ENV_PATH"
  reload_env_file
  require_secrets
  require_own_deployment_name
  record_compose_settings cheap
  mkdir -p "$STATE"
  echo native >"$STATE/mode"
  record_native_identity
  if native_running; then
    say "already running; not starting a second copy."
  else
    # It would start the services too: not while they are being started here.
    stop_supervisor
    database_started_here || require_free_port "$PG_PORT" STACK_PG_PORT 127.0.0.1
    if ! nginx_started_here; then
      require_free_port "$STACK_PORT" STACK_PORT
      ! native_tls || require_free_port "$(native_https_port)" STACK_HTTPS_PORT
    fi
    STARTED_NOW=()
    trap_failed_start native_stop_failed_start
    prepare_service_users
    for service in "${SERVICES[@]}"; do prepare_service_files "$service"; done
    step "PostgreSQL running on 127.0.0.1:$PG_PORT" start_database
    step "roles, database and schemas provisioned (db/provision.sql, db/provision-service.sql)" provision_databases
    # A site still on the three databases of the layout before moves into the schemas first.
    [ "$(BACKUP_MODE=native site_layout)" != databases ] ||
      step "the site's data moved into the schemas of one database (a backup first)" move_to_schemas native
    step "databases migrated (sso_migrate of ${SERVICES[*]})" with_progress "migrating" migrate_databases
    step "static files collected" collect_static
    step "Django checks passed" check_services
    for service in "${SERVICES[@]}"; do
      step "System ${service^^} started (gunicorn on $(gunicorn_socket "$service"))" start_service "$service"
      [ "$service" != a ] || step "System A's login workers started (gunicorn on $(login_socket))" start_login_workers
    done
    step "nginx listening on $STACK_BIND:$(proxy_ports)" start_proxy
  fi
  step "supervisor running (restarts a service that stops; housekeeping every ${SSO_HOUSEKEEPING_INTERVAL:-3600} s)" start_supervisor
  step "every service answers through nginx (${SERVICES[*]})" wait_until_answering "$(native_url)"
  clear_failed_start
  say_service_urls "$(native_url)"
  native_url
}

# A start that failed stops what it started (PostgreSQL left running by a failed check, ...).
native_stop_failed_start() {
  [ ${#STARTED_NOW[@]} -gt 0 ] || return 0
  warn "the start failed: stopping what it started (${STARTED_NOW[*]})"
  local part index
  for ((index = ${#STARTED_NOW[@]} - 1; index >= 0; index--)); do
    part=${STARTED_NOW[index]}
    case "$part" in
      supervisor) stop_supervisor ;;
      nginx) stop_started nginx "$STATE/nginx/nginx.pid" nginx_started_here ;;
      a-login) stop_started "System A's login workers" "$(login_pidfile)" login_workers_started_here ;;
      database) stop_database ;;
      *) stop_started "System ${part^^}" "$(gunicorn_pidfile "$part")" gunicorn_started_here "$part" ;;
    esac
  done
  native_anything_running || rm -f "$STATE/mode"
}

native_down() {
  local wipe=${1:-}
  stop_supervisor
  stop_started nginx "$STATE/nginx/nginx.pid" nginx_started_here
  # Every declared service, the login service (a) last.
  local index service
  for ((index = ${#SERVICES[@]} - 1; index >= 0; index--)); do
    service=${SERVICES[index]}
    [ "$service" != a ] || continue
    stop_started "System ${service^^}" "$(gunicorn_pidfile "$service")" gunicorn_started_here "$service"
  done
  stop_started "System A's login workers" "$(login_pidfile)" login_workers_started_here
  stop_started "System A" "$(gunicorn_pidfile a)" gunicorn_started_here a
  stop_database
  if [ "$wipe" = --volumes ]; then
    say "removing the native stack's data in $STATE"
    rm -rf "$STATE"
    remove_deployment_os_users
  fi
}

native_manage() {
  local service=$1
  shift
  load_env_file
  require_secrets
  prepare_service_users
  with_service_env "$service" "$(service_python "$service")" manage.py "$@"
}
