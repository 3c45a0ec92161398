# ./stack bench: the native stack against a control, a standalone Django project of System B's
# review app (scripts/bench/control), under the same gunicorn settings and the same nginx
# configuration, with the same user and rows. docs/performance.md explains the figures.
#
#   ./stack bench [--scale] [--rounds N] [--duration SECONDS]
#
# --scale first fills the shared database (and the control's) with 10,000 users and 1,000,000
# sessions. Started as root like the rest of the native stack: the control runs as System B's user.

BENCH_DIR="$STATE/bench"
BENCH_PORT=${STACK_BENCH_PORT:-$((STACK_PORT + 1))}
BENCH_USER=bench
CONTROL_DB=bench_control
BENCH_PACKAGES=(wrk)

ensure_bench_packages() {
  command -v wrk >/dev/null && return 0
  if is_root && command -v apt-get >/dev/null; then
    apt_install "${BENCH_PACKAGES[@]}"
  else
    die "the benchmark needs: ${BENCH_PACKAGES[*]}. Install them with: sudo apt-get install -y ${BENCH_PACKAGES[*]}"
  fi
}

# The benchmark's own secrets (the control's key and database password, the bench user's
# password): random, made once, in a file only this user reads; never in the stack's .env.
bench_secrets() {
  local file="$BENCH_DIR/secrets.env"
  if [ ! -f "$file" ]; then
    (
      umask 077
      {
        echo "CONTROL_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')"
        echo "CONTROL_DB_PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')"
        echo "BENCH_PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')"
      } >"$file"
    )
  fi
  set -a
  # shellcheck source=/dev/null
  . "$file"
  set +a
}

provision_control_database() {
  CONTROL_DB_PASSWORD=$CONTROL_DB_PASSWORD psql_superuser -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
\getenv control_password CONTROL_DB_PASSWORD
SELECT 'CREATE ROLE bench_control LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_control') \gexec
ALTER ROLE bench_control WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'control_password';
SELECT 'CREATE DATABASE bench_control OWNER bench_control' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bench_control') \gexec
REVOKE ALL ON DATABASE bench_control FROM PUBLIC;
SQL
}

control_run_dir() { echo "$BENCH_DIR/run"; }
control_socket() { echo "$(control_run_dir)/gunicorn.sock"; }
control_pidfile() { echo "$(control_run_dir)/gunicorn.pid"; }
control_started_here() { started_here "$(control_pidfile)" "$VENV/bin/gunicorn" "--pid $(control_pidfile)"; }
control_nginx_started_here() { started_here "$BENCH_DIR/nginx/nginx.pid" "nginx: master process" "-c $BENCH_DIR/nginx/nginx.conf"; }

# Run a command in the control's folder as System B's user, with the control's settings only.
with_control_env() {
  (
    cd "$ROOT/scripts/bench/control"
    export DB_HOST=127.0.0.1 DB_PORT=$PG_PORT CONTROL_DB_NAME=$CONTROL_DB CONTROL_DB_USER=$CONTROL_DB
    export CONTROL_DB_PASSWORD CONTROL_SECRET_KEY ALLOWED_HOSTS=${SERVER_NAMES// /,}
    export PYTHONPATH="$ROOT/system_b"
    local name
    for name in $(compgen -e); do
      case "$name" in
        DB_HOST | DB_PORT | DB_CONN_MAX_AGE | CONTROL_* | ALLOWED_HOSTS | PYTHONPATH | DJANGO_BENCH_* | \
          WEB_CONCURRENCY | GUNICORN_WORKER_CLASS | GUNICORN_THREADS | PATH | LANG | LC_ALL | HOME) ;;
        *) unset -v "$name" ;;
      esac
    done
    umask 022
    as_service_user b "$@"
  )
}

start_control() {
  install -d -m 0755 "$BENCH_DIR/log"
  if is_root; then
    install -d -o "$(service_os_user b)" -g "$WEB_OS_USER" -m 0750 "$(control_run_dir)"
    [ -e "$BENCH_DIR/log/control.log" ] || install -m 0640 /dev/null "$BENCH_DIR/log/control.log"
    chown "$(service_os_user b)" "$BENCH_DIR/log/control.log"
  else
    install -d -m 0700 "$(control_run_dir)"
  fi
  provision_control_database
  with_control_env "$PY" manage.py migrate --noinput -v 0
  if ! control_started_here; then
    say "starting the control (gunicorn on $(control_socket))"
    with_control_env "$VENV/bin/gunicorn" -c gunicorn.conf.py --bind "unix:$(control_socket)" \
      --daemon --pid "$(control_pidfile)" --error-logfile "$BENCH_DIR/log/control.log"
    record_started "$(control_pidfile)"
  fi
  if ! control_nginx_started_here; then
    say "starting the control's nginx on $STACK_BIND:$BENCH_PORT"
    local dir="$BENCH_DIR/nginx" worker_user=""
    mkdir -p "$dir"
    is_root && worker_user=$WEB_OS_USER
    # The stack's own configuration, with every service's prefix sent to the control (and B's
    # static files, the control's code, for all).
    local service per_service=()
    for service in "${SERVICES[@]}"; do
      per_service+=("UPSTREAM_${service^^}=unix:$(control_socket)" "STATIC_ROOT_${service^^}=$STATE/static/b")
    done
    env "${per_service[@]}" SERVICES="${SERVICES[*]}" \
      LISTEN_PORT=$BENCH_PORT LISTEN_ADDRESS=$STACK_BIND WORKER_USER=$worker_user SERVER_NAMES=$SERVER_NAMES \
      UPSTREAM_A_LOGIN="unix:$(control_socket)" RUN_DIR=$dir \
      UNAVAILABLE_PAGES="$STATE/nginx/unavailable" \
      ERROR_LOG="$BENCH_DIR/log/nginx-error.log" ACCESS_LOG="$BENCH_DIR/log/nginx-access.log" \
      "$ROOT/nginx/render-config.sh" >"$dir/nginx.conf" || die "could not render the control's nginx configuration."
    with_bare_env nginx -p "$dir" -c "$dir/nginx.conf"
    record_started "$dir/nginx.pid"
  fi
  "$PY" "$ROOT/scripts/wait_for_http.py" --timeout 60 "http://$(native_host):$BENCH_PORT/a/accounts/login/" ||
    die "the control did not answer; see $BENCH_DIR/log/"
}

stop_control() {
  stop_started "the control's nginx" "$BENCH_DIR/nginx/nginx.pid" control_nginx_started_here
  stop_started "the control" "$(control_pidfile)" control_started_here
}

seed_bench_data() {
  say "seeding user $BENCH_USER and 30 reviews in the stack and in the control"
  DJANGO_BENCH_USER=$BENCH_USER DJANGO_BENCH_PASSWORD=$BENCH_PASSWORD \
    with_service_env b "$PY" manage.py shell <"$ROOT/scripts/bench/seed.py" >/dev/null
  DJANGO_BENCH_USER=$BENCH_USER DJANGO_BENCH_PASSWORD=$BENCH_PASSWORD \
    with_control_env "$PY" manage.py shell <"$ROOT/scripts/bench/seed.py" >/dev/null
}

# --scale: 10,000 users and 1,000,000 sessions (of those users, live), in both sites' databases.
seed_scale_data() {
  say "filling both databases with 10,000 users and 1,000,000 sessions (once)"
  PGOPTIONS="-c search_path=shared" psql_superuser -d sso -v ON_ERROR_STOP=1 -f "$ROOT/scripts/bench/scale-shared.sql" >/dev/null
  psql_superuser -d "$CONTROL_DB" -v ON_ERROR_STOP=1 -f "$ROOT/scripts/bench/scale-control.sql" >/dev/null
}

cmd_bench() {
  local scale="" run_options=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --scale) scale=1 ;;
      --rounds | --duration | --login-duration)
        [ $# -ge 2 ] || die "$1 needs a value"
        run_options+=("$1" "$2")
        shift
        ;;
      *) die "unknown option for bench: $1" ;;
    esac
    shift
  done
  select_compose_project || true
  [[ " $(running_modes) " != *" compose "* ]] ||
    die "./stack bench measures the native stack; stop the Compose one first (./stack down)."
  native_up >/dev/null
  ensure_bench_packages
  mkdir -p "$BENCH_DIR"
  chmod 700 "$BENCH_DIR"
  is_root && chmod 711 "$BENCH_DIR" # System B's user enters its run folder inside
  bench_secrets
  trap stop_control EXIT
  start_control
  seed_bench_data
  local label=small kind=small
  if [ -n "$scale" ]; then
    seed_scale_data
    label="10,000 users, 1,000,000 sessions" kind=scale
  fi
  say "measuring (wrk, interleaved rounds; then SQL statements from PostgreSQL's log)"
  local status=0 service processes=() roles=()
  for service in "${SERVICES[@]}"; do
    processes+=("$(gunicorn_socket "$service")")
    roles+=("system_$service")
  done
  processes+=("$(login_socket)")
  POSTGRES_PASSWORD=$POSTGRES_PASSWORD BENCH_PASSWORD=$BENCH_PASSWORD "$PY" "$ROOT/scripts/bench/run.py" \
    --native "$(native_url)" --control "http://$(native_host):$BENCH_PORT/" \
    --pg-port "$PG_PORT" --pg-log "$PG_DIR/postgres.log" --pg-pid "$(pidfile_pid "$(database_pidfile)")" \
    --native-processes "$(IFS=,; echo "${processes[*]}")" --native-roles "$(IFS=,; echo "${roles[*]}")" --control-processes "$(control_socket)" \
    --username "$BENCH_USER" \
    --json "$BENCH_DIR/latest.json" --json-copy "$BENCH_DIR/latest-$kind.json" --label "$label" --workdir "$BENCH_DIR" "${run_options[@]}" || status=$?
  stop_control
  trap - EXIT
  return "$status"
}
