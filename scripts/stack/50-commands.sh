# The commands ./stack offers; each is a short list of steps from the other files.

# --- what runs from this checkout --------------------------------------------------
# Seen, not remembered: the native stack's processes (pid files ./stack vouches for) and
# Docker containers labelled with this checkout's folder, whoever started them (./stack or
# plain `docker compose`). $STATE/mode only breaks a tie: it names what was started last.

native_anything_running() {
  local running=1
  # Every check runs, so each stale pid file is reported (and removed) once.
  gunicorn_started_here a && running=0
  login_workers_started_here && running=0
  gunicorn_started_here b && running=0
  nginx_started_here && running=0
  database_started_here && running=0
  supervisor_started_here && running=0
  return "$running"
}

# What runs: "native", "compose", "swarm", several of them ("native compose"), or "". (Call
# select_compose_project first, outside the $(...) that reads this.)
running_modes() {
  local modes=()
  native_anything_running && modes+=(native)
  compose_deployment_present && modes+=(compose)
  swarm_deployment_present && modes+=(swarm)
  echo "${modes[*]}"
}

recorded_mode() { cat "$STATE/mode" 2>/dev/null || true; }

# How to stop what runs in MODE, said the way a user types it.
how_to_stop() {
  case "$1" in
    native) echo "./stack down" ;;
    compose) echo "./stack down (or: docker compose -p $COMPOSE_PROJECT down)" ;;
    swarm) echo "./stack down (or: docker stack rm $(swarm_stack_running))" ;;
  esac
}

describe_running() {
  case "$1" in
    native) echo "the native stack of this checkout runs ($(native_url), PostgreSQL on port $PG_PORT)" ;;
    compose) echo "the Docker Compose deployment of this checkout runs (project $COMPOSE_PROJECT, $(compose_url))" ;;
    swarm) echo "the Docker Swarm stack of this checkout runs (stack $(swarm_stack_running), $(swarm_url))" ;;
  esac
}

mode_label() {
  case "$1" in
    compose) echo "Docker Compose" ;;
    swarm) echo "Docker Swarm" ;;
    *) echo native ;;
  esac
}

cmd_up() {
  local mode="" why replace=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --native) mode=native why="--native given" ;;
      --compose) mode=compose why="--compose given" ;;
      --swarm) mode=swarm why="--swarm given" ;;
      --replace) replace=1 ;;
      *) die "unknown option for up: $1 (./stack up [--native|--compose|--swarm] [--replace])" ;;
    esac
    shift
  done
  if [ -z "$mode" ]; then
    local service
    for service in "${SERVICES[@]}"; do
      ! is_added_service "$service" ||
        mode=native why="services.toml declares $service, added with ./stack add-service, which runs natively for now"
    done
  fi
  if [ -z "$mode" ]; then
    if compose_available; then
      mode=compose why="a Docker engine with Compose v2 answers; ./stack up --native runs without Docker"
    else
      mode=native why="no Docker engine answers here; docs/docker.md says how to get one"
    fi
  fi
  say "mode: $(mode_label "$mode") ($why)"
  require_supported_services "$mode"
  local other running
  select_compose_project || true
  running=$(running_modes)
  for other in $running; do
    [ "$other" != "$mode" ] || continue
    if [ -z "$replace" ]; then
      die "$(describe_running "$other"); ./stack up would start the $(mode_label "$mode") one beside it on the same port. Stop it first with $(how_to_stop "$other"), or run ./stack up --$mode --replace to stop it and start this one, or ./stack up --$other to keep it."
    fi
    say "--replace: stopping the $(mode_label "$other") stack first"
    "${other}_down"
  done
  "${mode}_up"
}

# A folder with no deployment name yet has never run one (25-deployment.sh): nothing of it to see.
no_deployment_here() {
  [ -z "$DEPLOYMENT" ] || return 1
  say "nothing of this folder runs here: it has no deployment yet ($ENV_PATH names none; ./stack up or ./stack env gives it one)."
}

cmd_down() {
  local wipe="" running stopped=""
  case "${1:-}" in
    "") ;;
    --volumes) wipe=--volumes ;;
    *) die "unknown option for down: $1" ;;
  esac
  no_deployment_here && return 0
  select_compose_project || true
  running=$(running_modes)
  # A native stack recorded as started, even with nothing left running: its stale pid files are said
  # and removed. With --volumes, a stopped one's data is deleted too.
  if [[ " $running " == *" native "* ]] || [ "$(recorded_mode)" = native ] || { [ -n "$wipe" ] && [ -d "$PG_DIR" ]; }; then
    native_down "$wipe"
    stopped=1
  fi
  # Containers of this checkout's project, running or stopped, whoever started them.
  if compose_deployment_present --all || { [ -n "$wipe" ] && compose_volumes_present; }; then
    compose_down "$wipe"
    stopped=1
  fi
  # The Swarm stack ./stack deployed from here (and the swarm, if ./stack made it).
  if [[ " $running " == *" swarm "* ]] || [ "$(recorded_mode)" = swarm ]; then
    swarm_down "$wipe"
    stopped=1
  fi
  [ -n "$stopped" ] || say "nothing of this checkout is running here (no native stack, Compose deployment or Swarm stack from $ROOT)."
  rm -f "$STATE/mode"
  other_checkout_projects_note
}

# Other Compose projects started from this folder (./stack test's, say) are not this
# deployment: said, never stopped.
other_checkout_projects_note() {
  local project
  compose_available || return 0
  for project in $(checkout_projects); do
    [ "$project" = "$COMPOSE_PROJECT" ] ||
      say "also running from this folder: Compose project $project (not this deployment; stop it with docker compose -p $project down)"
  done
}

cmd_manage() {
  local service=${1:-}
  is_declared_service "$service" ||
    die "usage: ./stack manage SERVICE ARGS..., SERVICE one of ${SERVICES[*]} (for example: ./stack manage a createsuperuser)"
  shift
  [ -n "$DEPLOYMENT" ] || die "the stack is not running: this folder has no deployment yet; start it with ./stack up"
  local running
  select_compose_project || true
  running=$(running_modes)
  case "$running" in
    native) native_manage "$service" "$@" ;;
    compose) compose_manage "$service" "$@" ;;
    swarm) swarm_manage "$service" "$@" ;;
    *" "*) die "more than one stack of this checkout runs ($running); stop all but one ($(how_to_stop native))." ;;
    *)
      # Nothing runs: a command that needs no database (check, shell -c ...) still works natively.
      if [ "$(recorded_mode)" = native ]; then
        native_manage "$service" "$@"
        return
      fi
      die "the stack is not running; start it with ./stack up"
      ;;
  esac
}

# Housekeeping now, as the maintenance role (the services' roles may not delete audit events);
# it runs by itself every SSO_HOUSEKEEPING_INTERVAL seconds as well (docs/failures.md).
cmd_housekeeping() {
  [ $# -eq 0 ] || die "usage: ./stack housekeeping (no arguments)"
  local running
  select_compose_project || true
  running=$(running_modes)
  case "$running" in
    native) native_housekeeping ;;
    compose) compose_housekeeping ;;
    swarm) swarm_housekeeping ;;
    *" "*) die "more than one stack of this checkout runs ($running); stop all but one ($(how_to_stop native))." ;;
    *) die "the stack is not running; start it with ./stack up" ;;
  esac
}

cmd_status() {
  local running
  no_deployment_here && return 0
  say "$(describe_deployment)"
  select_compose_project || true
  running=$(running_modes)
  case "$running" in
    *native*) native_status ;;
  esac
  case "$running" in
    *compose*) compose_status ;;
  esac
  case "$running" in
    *swarm*) swarm_status ;;
  esac
  if [ -z "$running" ]; then
    if [ "$(recorded_mode)" = native ]; then native_status; else say "not running"; fi
  fi
  other_checkout_projects_note
}
