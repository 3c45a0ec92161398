# The native stack's supervisor: one background process (`./stack _supervise`, started by
# `./stack up --native`, stopped first by `./stack down`) that every STACK_SUPERVISE_INTERVAL
# seconds (default 2) starts again a gunicorn (A's, A's login workers', B's) or nginx that is gone, and every
# SSO_HOUSEKEEPING_INTERVAL seconds (default 3600) runs `manage.py sso_housekeeping`.
# It is a ./stack process like the others: recorded with its identity (started_here), so
# only the one ./stack started is ever signalled. PostgreSQL is not restarted by it: a
# stopped database is an operator's decision (the services answer 503 meanwhile).
# Written here rather than with supervisord or runit: it reuses start_service and the pid-file
# identity checks as they are, and needs no package or service manager (docs/failures.md).

SUPERVISE_INTERVAL=${STACK_SUPERVISE_INTERVAL:-2}

supervisor_pidfile() { echo "$STATE/run/supervisor.pid"; }
supervisor_started_here() { started_here "$(supervisor_pidfile)" "$ROOT/stack" _supervise; }

start_supervisor() {
  local pidfile
  pidfile=$(supervisor_pidfile)
  supervisor_started_here && return 0
  install -d -m 0755 "$STATE/run" "$STATE/log"
  # Its own session, so it outlives the shell that ran ./stack up.
  setsid "$ROOT/stack" _supervise </dev/null >>"$STATE/log/supervisor.log" 2>&1 &
  echo $! >"$pidfile"
  record_started "$pidfile"
  STARTED_NOW+=(supervisor)
}

stop_supervisor() { stop_started supervisor "$(supervisor_pidfile)" supervisor_started_here; }

# One housekeeping run in the background, its one line (or its error) in log/housekeeping.log.
run_housekeeping() {
  (
    local output
    output=$(run_housekeeping_now 2>&1) || true
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$output" >>"$STATE/log/housekeeping.log"
  ) &
}

supervise_once() {
  local service
  for service in "${SERVICES[@]}"; do
    gunicorn_started_here "$service" && continue
    say "$(date -u +%FT%TZ) System ${service^^} is not running; starting it again"
    (start_service "$service") || warn "System ${service^^} did not start; trying again in ${SUPERVISE_INTERVAL} s"
  done
  if ! login_workers_started_here; then
    say "$(date -u +%FT%TZ) System A's login workers are not running; starting them again"
    (start_login_workers) || warn "System A's login workers did not start; trying again in ${SUPERVISE_INTERVAL} s"
  fi
  nginx_started_here && return 0
  say "$(date -u +%FT%TZ) nginx is not running; starting it again"
  (start_proxy) || warn "nginx did not start; trying again in ${SUPERVISE_INTERVAL} s"
}

cmd__supervise() {
  load_env_file
  require_secrets
  local stopping="" interval=${SSO_HOUSEKEEPING_INTERVAL:-3600} next_housekeeping=$SECONDS
  trap 'stopping=1' TERM INT
  say "$(date -u +%FT%TZ) supervisor started (pid $$)"
  while [ -z "$stopping" ]; do
    # A stack taken down (or its state folder removed) without stopping this first: stop too.
    if [ "$(recorded_mode)" != native ]; then
      say "$(date -u +%FT%TZ) the native stack in $STATE is no longer up; supervisor stopping"
      break
    fi
    supervise_once
    if [ "$interval" -gt 0 ] && [ "$SECONDS" -ge "$next_housekeeping" ]; then
      run_housekeeping
      next_housekeeping=$((SECONDS + interval))
    fi
    # In the background, so a TERM ends the wait at once.
    sleep "$SUPERVISE_INTERVAL" &
    wait $! || true
  done
  # A housekeeping run still going finishes by itself (each batch is its own transaction).
  say "$(date -u +%FT%TZ) supervisor stopped"
}

# `./stack _database stop|start`: stop or start the native stack's PostgreSQL alone, the rest
# left running (the fault tests, e2e/faults/, take the database away under load this way).
cmd__database() {
  load_env_file
  require_secrets
  case "${1:-}" in
    stop) stop_database ;;
    start) start_database ;;
    *) die "usage: ./stack _database stop|start" ;;
  esac
}
