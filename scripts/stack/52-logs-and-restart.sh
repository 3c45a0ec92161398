# ./stack logs [SERVICE] [-f] and ./stack restart SERVICE: one service's log and one service's
# restart, the same words in every mode (native, Docker Compose, Docker Swarm).

# The services, as ./stack names them everywhere (native "maintenance" is the supervisor, which
# runs the housekeeping there; "supervisor" is accepted for it too).
STACK_SERVICES=("${SERVICES[@]}" nginx db migrate maintenance)

stack_service() {
  case "${1:-}" in
    nginx | db | migrate | maintenance) echo "$1" ;;
    supervisor) echo maintenance ;;
    *)
      is_declared_service "${1:-}" || die "unknown service '${1:-}': one of ${STACK_SERVICES[*]}"
      echo "$1"
      ;;
  esac
}

# The Compose (and Swarm) service of each.
container_service() {
  case "$1" in
    nginx | db | migrate | maintenance) echo "$1" ;;
    *) echo "system_$1" ;;
  esac
}

# The one mode that runs (or last ran) here. (Call select_compose_project first, outside the
# $(...) that reads this.)
mode_of_stack() {
  local running
  running=$(running_modes)
  case "$running" in
    *" "*) die "more than one stack of this checkout runs ($running); stop all but one ($(how_to_stop native))." ;;
    ?*) echo "$running" ;;
    *)
      # Stopped: its logs are still there (the Compose containers, the native files).
      if compose_deployment_present --all; then
        echo compose
      elif [ -d "$STATE/log" ]; then
        echo native
      fi
      ;;
  esac
}

# --- ./stack logs [SERVICE] [-f] ----------------------------------------------------------

LOG_LINES=50

cmd_logs() {
  local service="" follow=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -f | --follow) follow=1 ;;
      -*) die "unknown option for logs: $1 (./stack logs [SERVICE] [-f])" ;;
      *)
        [ -z "$service" ] || die "one service at a time (./stack logs [SERVICE] [-f])"
        service=$(stack_service "$1")
        ;;
    esac
    shift
  done
  local mode
  select_compose_project || true
  mode=$(mode_of_stack)
  case "$mode" in
    native) native_logs "$service" "$follow" ;;
    compose) compose_logs "$service" "$follow" ;;
    swarm) swarm_logs "$service" "$follow" ;;
    *) die "no stack of this checkout has run here: there are no logs yet (./stack up starts one)." ;;
  esac
}

# Natively each service writes files in $STATE/log (docs/failures.md), PostgreSQL its own.
native_log_files() {
  case "$1" in
    nginx) printf '%s\n' "$STATE/log/nginx-error.log" "$STATE/log/nginx-access.log" ;;
    db) echo "$PG_DIR/postgres.log" ;;
    migrate) echo "$STATE/log/migrating.log" ;;
    maintenance) printf '%s\n' "$STATE/log/supervisor.log" "$STATE/log/housekeeping.log" ;;
    *) echo "$STATE/log/$1.log" ;; # a declared service
  esac
}

native_logs() {
  local service=$1 follow=$2 files=() file name
  for name in ${service:-${STACK_SERVICES[*]}}; do
    while read -r file; do
      # Only plain files (a log file is never a link or a FIFO here; see read_service_file).
      [ -f "$file" ] && [ ! -L "$file" ] && files+=("$file")
    done < <(native_log_files "$name")
  done
  [ ${#files[@]} -gt 0 ] || die "no log of ${service:-any service} in $STATE/log yet."
  # tail names each file above its lines when there are several.
  if [ -n "$follow" ]; then
    exec tail -n "$LOG_LINES" -F "${files[@]}"
  fi
  tail -n "$LOG_LINES" "${files[@]}"
}

compose_logs() {
  local service=$1 follow=$2 options=(--tail "$LOG_LINES")
  [ -z "$follow" ] || options+=(--follow)
  if [ -n "$service" ]; then
    compose logs "${options[@]}" "$(container_service "$service")"
  else
    compose logs "${options[@]}"
  fi
}

swarm_logs() {
  local service=$1 follow=$2 options=(--tail "$LOG_LINES") name pids=()
  SWARM_STACK=$(swarm_stack_running)
  [ -z "$follow" ] || options+=(--follow)
  # (docker service logs hands on what a task wrote to stderr on stderr: Django's log lines. As
  # docker compose logs does, everything goes to stdout here.)
  if [ -n "$service" ]; then
    docker service logs "${options[@]}" "${SWARM_STACK}_$(container_service "$service")" 2>&1
    return
  fi
  # docker service logs takes one service: each in turn, or all at once when following.
  for name in "${STACK_SERVICES[@]}"; do
    name="${SWARM_STACK}_$(container_service "$name")"
    docker service inspect "$name" >/dev/null 2>&1 || continue
    if [ -n "$follow" ]; then
      docker service logs "${options[@]}" "$name" 2>&1 &
      pids+=($!)
    else
      echo "==> $name <=="
      docker service logs "${options[@]}" "$name" 2>&1
    fi
  done
  [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
}

# --- ./stack restart SERVICE ------------------------------------------------------------

cmd_restart() {
  [ $# -eq 1 ] || die "usage: ./stack restart SERVICE (one of ${STACK_SERVICES[*]})"
  local service mode
  service=$(stack_service "$1")
  select_compose_project || true
  mode=$(running_modes)
  case "$mode" in
    native) native_restart "$service" ;;
    compose) compose_restart "$service" ;;
    swarm) swarm_restart "$service" ;;
    *" "*) die "more than one stack of this checkout runs ($mode); stop all but one ($(how_to_stop native))." ;;
    *) die "the stack is not running; start it with ./stack up" ;;
  esac
}

# The same steps as ./stack up, for one part. The supervisor is stopped meanwhile, so that it
# does not start the service a second time between the stop and the start here.
native_restart() {
  local service=$1 service_case
  load_env_file
  require_secrets
  prepare_service_users
  if is_declared_service "$service"; then
    service_case=declared
  else
    service_case=$service
  fi
  case "$service_case" in
    declared)
      stop_supervisor
      stop_started "System ${service^^}" "$(gunicorn_pidfile "$service")" gunicorn_started_here "$service"
      prepare_service_files "$service"
      step "System ${service^^} started (gunicorn on $(gunicorn_socket "$service"))" start_service "$service"
      if [ "$service" = a ]; then
        # A's login workers run A's code too (docs/login-protection.md): restarted with it.
        stop_started "System A's login workers" "$(login_pidfile)" login_workers_started_here
        step "System A's login workers started (gunicorn on $(login_socket))" start_login_workers
      fi
      start_supervisor
      ;;
    nginx)
      stop_supervisor
      stop_started nginx "$STATE/nginx/nginx.pid" nginx_started_here
      step "nginx listening on $STACK_BIND:$(proxy_ports)" start_proxy
      start_supervisor
      ;;
    db)
      # The services answer 503 meanwhile and reconnect by themselves (docs/failures.md).
      stop_database
      step "PostgreSQL running on 127.0.0.1:$PG_PORT" start_database
      ;;
    migrate) step "databases migrated (sso_migrate of A and B)" with_progress "migrating" migrate_databases ;;
    maintenance)
      stop_supervisor
      step "supervisor running (restarts a service that stops; housekeeping every ${SSO_HOUSEKEEPING_INTERVAL:-3600} s)" start_supervisor
      ;;
  esac
  step "every service answers through nginx (${SERVICES[*]})" wait_until_answering "$(native_url)"
}

# Compose restarts the container (the one-shot migrate job runs again), then ./stack waits until
# it is healthy (migrate: until it has finished well).
compose_restart() {
  local service
  service=$(container_service "$1")
  compose restart "$service" >/dev/null || die "docker compose -p $COMPOSE_PROJECT restart $service failed (above)."
  if [ "$service" = migrate ]; then
    step "the migrate job ran again (project $COMPOSE_PROJECT)" compose_wait_healthy migrate
  else
    step "$service restarted and healthy (project $COMPOSE_PROJECT)" compose_wait_healthy "$service"
  fi
}

compose_wait_healthy() {
  local service=$1 deadline=$((SECONDS + 180)) state ids
  while :; do
    ids=$(compose ps -aq "$service")
    [ -n "$ids" ] || die "no container of $service in project $COMPOSE_PROJECT."
    # "status health exit-code" of each of its containers.
    state=$(xargs docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}' <<<"$ids")
    if [ "$service" = migrate ]; then
      case "$state" in
        "exited - 0") return 0 ;;
        "exited - "*)
          compose logs --tail 10 migrate >&2 || true
          die "the migrate job failed (its last log lines above)"
          ;;
      esac
    elif ! grep -qv '^running healthy ' <<<"$state"; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      compose logs --tail 10 "$service" >&2 || true
      die "$service is not healthy 180 s after its restart (its last log lines above)"
    fi
    sleep 1
  done
}

# Swarm replaces the tasks one by one (update_config), the job runs once more; the CLI waits.
swarm_restart() {
  local name
  SWARM_STACK=$(swarm_stack_running)
  name="${SWARM_STACK}_$(container_service "$1")"
  docker service inspect "$name" >/dev/null 2>&1 || die "the Swarm stack $SWARM_STACK has no service $name."
  step "$name restarted (its tasks replaced one by one)" \
    with_progress "docker service update" docker service update --force --detach=false "$name"
}
