# The commands ./stack offers; each is a short list of steps from the other files.

cmd_up() {
  local mode=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --native) mode=native ;;
      --compose) mode=compose ;;
      --swarm) mode=swarm ;;
      *) die "unknown option for up: $1" ;;
    esac
    shift
  done
  if [ -z "$mode" ]; then
    if compose_available; then mode=compose; else mode=native; fi
  fi
  "${mode}_up"
}

running_mode() { cat "$STATE/mode" 2>/dev/null || true; }

cmd_down() {
  local wipe=""
  case "${1:-}" in
    "") ;;
    --volumes) wipe=--volumes ;;
    *) die "unknown option for down: $1" ;;
  esac
  case "$(running_mode)" in
    native) native_down "$wipe" ;;
    compose) compose_down "$wipe" ;;
    swarm) swarm_down "$wipe" ;;
    *) say "nothing started by ./stack is running here." ;;
  esac
  rm -f "$STATE/mode"
}

cmd_manage() {
  local service=${1:-}
  case "$service" in
    a | b) shift ;;
    *) die "usage: ./stack manage a|b ARGS... (for example: ./stack manage a createsuperuser)" ;;
  esac
  case "$(running_mode)" in
    native) native_manage "$service" "$@" ;;
    compose) compose_manage "$service" "$@" ;;
    swarm) swarm_manage "$service" "$@" ;;
    *) die "the stack is not running; start it with ./stack up" ;;
  esac
}

cmd_status() {
  case "$(running_mode)" in
    native) native_status ;;
    compose) compose_status ;;
    swarm) swarm_status ;;
    *) say "not running" ;;
  esac
}
