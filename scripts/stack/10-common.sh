# Paths, messages and the environment file: shared by every stack command.

STATE=${STACK_STATE:-$ROOT/.stack/dev}
ENV_PATH=${STACK_ENV_FILE:-$ROOT/.env}
VENV=${STACK_VENV:-$ROOT/.venv}
PY="$VENV/bin/python"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# Write an env file with fresh random secrets and the deployment's name (SSO_DEPLOYMENT from the
# environment, else one made from this folder's name), once; an existing file is kept as it is.
write_env_file() { SSO_SERVICE_NAMES="${SERVICES[*]}" "$ROOT/scripts/write-env.sh" "$1" "$ROOT"; }

# After writing the env file: its settings, and the name it gave the deployment, count from here on.
reload_env_file() {
  load_env_file
  resolve_deployment
  record_deployment
}

# Export the settings of the env file, read with Docker Compose's .env rules by the one
# reader every mode shares (shared/sso_shared/environment/envfile.py: stdlib only, so the system
# python3 runs it before .venv exists). A variable already set here wins, as in Compose.
# Names load_env_file exported, so ./stack test can drop a deployment's settings.
LOADED_FROM_ENV_FILE=()

load_env_file() {
  [ -f "$ENV_PATH" ] || return 0
  command -v python3 >/dev/null || die "reading $ENV_PATH needs python3 (sudo apt-get install -y python3)."
  local entries entry key
  # A file, not a pipe: NUL-separated entries keep any character, and a parse error stops here.
  entries=$(mktemp)
  python3 -I "$ROOT/shared/sso_shared/environment/envfile.py" "$ENV_PATH" >"$entries" || {
    rm -f "$entries"
    die "$ENV_PATH follows Docker Compose's .env syntax; fix the line named above."
  }
  while IFS= read -r -d '' entry; do
    key=${entry%%=*}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    [ -z "${!key+x}" ] || continue
    export "$entry"
    LOADED_FROM_ENV_FILE+=("$key")
  done <"$entries"
  rm -f "$entries"
}

# scripts/envtool.py, seeing in its environment only what did not come from the env file
# (so it can tell a value set in the shell from the file's).
envtool() {
  local name unset_args=()
  for name in "${LOADED_FROM_ENV_FILE[@]}"; do unset_args+=(-u "$name"); done
  env "${unset_args[@]}" python3 -I "$ROOT/scripts/envtool.py" "$@"
}

# Every secret present and usable (as the services would judge it), or a message naming the
# fix that works: ./stack env --force replaces exactly the unusable ones, keeping a backup.
require_secrets() {
  [ -f "$ENV_PATH" ] || die "there is no $ENV_PATH. Run ./stack env to write one with fresh random secrets."
  envtool check "$ENV_PATH" || exit 1
}

# --- processes ./stack started ----------------------------------------------------
# A pid file outlives its process: after a reboot (or once the pid is reused) the
# pid in it may belong to anything. So when ./stack starts a process it records who
# that process is (boot id and start time, beside the pid file), and it treats a pid
# file as its own only while the same process still runs the expected command.
# Only such a process is ever signalled.

# "BOOT_ID START_TIME" of a running process; start time is field 22 of /proc/PID/stat
# (the command name in field 2 may hold spaces, so count from its closing parenthesis).
process_identity() {
  local pid=$1 stat fields
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  read -ra fields <<<"${stat##*) }"
  echo "$(cat /proc/sys/kernel/random/boot_id) ${fields[19]}"
}

# The first lines of a file a service's user may have written (a pid file in its own folder,
# PostgreSQL's postmaster.pid): only from a plain file, at most 1 KB, never through a link
# planted in its place (root would print the first line of any file it names) nor from a FIFO
# (root would hang reading it).
read_service_file() {
  [ -f "$1" ] && [ ! -L "$1" ] || return 0
  # nofollow and nonblock hold for the open itself, should the file be swapped after the test.
  dd if="$1" iflag=nofollow,nonblock bs=1024 count=1 status=none 2>/dev/null || true
}

# The pid in a pid file (postmaster.pid has more lines); empty while there is none, or when
# the first line is no number.
pidfile_pid() {
  local line
  line=$(read_service_file "$1" | head -n 1)
  [[ $line =~ ^[0-9]+$ ]] && echo "$line"
  return 0
}

# Who started a process is recorded by root, so in a folder only root may write: never beside
# the pid file, in a service's own folder, where its user could plant a link for root to write
# through. One file per pid file, named after its path in $STATE.
started_records_dir() { echo "$STATE/run/started"; }
started_record() {
  local name=${1#"$STATE"/}
  name=${name#/}
  echo "$(started_records_dir)/${name//\//%}"
}
# What was recorded; an older ./stack kept it beside the pid file (read as a service's file).
started_identity() { cat "$(started_record "$1")" 2>/dev/null || read_service_file "$1.started"; }
forget_started() { rm -f "$1" "$(started_record "$1")" "$1.started"; }

# Remember who the process named by PIDFILE is, right after starting it. The program
# writes the pid file itself (after daemonising), so wait for it a little.
record_started() {
  local pidfile=$1 pid
  for _ in $(seq 1 50); do
    pid=$(pidfile_pid "$pidfile")
    [ -n "$pid" ] && break
    sleep 0.1
  done
  install -d -m 0755 "$STATE/run" "$(started_records_dir)"
  process_identity "$pid" >"$(started_record "$pidfile")" ||
    die "the process of $pidfile (pid ${pid:-none}) is gone right after starting; see the logs in $STATE/log/"
}

# Does the process run a command line holding each EXPECT (whole words, in order given)?
runs_command() {
  local pid=$1 cmdline expect
  shift
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  for expect in "$@"; do
    [[ " $cmdline " == *" $expect "* ]] || return 1
  done
}

# started_here PIDFILE EXPECT...: true when PIDFILE names the process ./stack started
# (same boot, same start time) and it still runs a command with every EXPECT in it.
# A pid file naming anything else is stale: said, removed, its pid never signalled.
# (Only when the pid runs the expected command without our record, e.g. a copy started
# by hand, is the pid file kept: it still names that service, just not one of ours.)
started_here() {
  local pidfile=$1 pid
  shift
  # (Anything in its place, a FIFO or a link too, is read as pidfile_pid reads, then removed.)
  [ -e "$pidfile" ] || [ -L "$pidfile" ] || return 1
  pid=$(pidfile_pid "$pidfile")
  if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then
    if runs_command "$pid" "$@"; then
      [ "$(process_identity "$pid")" = "$(started_identity "$pidfile")" ] && return 0
      warn "$pidfile names pid $pid, which runs '$*' but was not started by this ./stack; leaving it alone (stop it yourself)."
      return 1
    fi
    warn "stale pid file $pidfile: pid $pid is another process now, not the one ./stack started; removed the file, left the process alone."
  else
    warn "stale pid file $pidfile: pid ${pid:-none} is not running; removed the file."
  fi
  forget_started "$pidfile"
  return 1
}

# ./stack env [--force]: write the env file with fresh random secrets, once. With --force,
# an existing file keeps every usable value and gets fresh ones for the secrets that are
# missing or unusable (the old file stays beside it, mode 0600). Then record what plain
# `docker compose` needs to do what ./stack does (BASE_IMAGE, ...: 40-compose.sh).
cmd_env() {
  local force=""
  case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) die "unknown option for env: $1 (./stack env [--force])" ;;
  esac
  if [ -n "$force" ] && [ -f "$ENV_PATH" ]; then
    envtool repair "$ENV_PATH"
  else
    write_env_file "$ENV_PATH"
    envtool check "$ENV_PATH" || true
  fi
  reload_env_file
  record_compose_settings full
}

# --- what a step prints -------------------------------------------------------------
# Each step of `up` ends with one line: what is done and how long it took.
now_ms() { date +%s%3N; }
elapsed_since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}

# step LABEL COMMAND...: run COMMAND, then print "==> LABEL (1.2 s)".
step() {
  local label=$1 started
  shift
  started=$(now_ms)
  "$@"
  say "$label ($(elapsed_since "$started"))"
}

# with_progress LABEL COMMAND...: a long step (pip, an image build). Its output goes to a log
# file; meanwhile one line shows the time so far and the latest line of the log (rewritten in
# place on a terminal, else printed every 30 s). On failure the end of the log is printed.
with_progress() {
  local label=$1 log ticker rc=0
  shift
  mkdir -p "$STATE/log"
  log="$STATE/log/$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-' | tr -s '-' | sed 's/-$//').log"
  progress_ticker "$label" "$log" "$$" &
  ticker=$!
  "$@" >"$log" 2>&1 || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  [ ! -t 2 ] || printf '\r\033[K' >&2
  if [ "$rc" -ne 0 ]; then
    tail -n 25 "$log" >&2
    warn "$label failed (the whole output: $log)"
  fi
  return "$rc"
}

# Runs beside a long step; ends with it, or when ./stack itself is gone.
progress_ticker() {
  local label=$1 log=$2 parent=$3 started=$SECONDS last=$SECONDS latest
  while kill -0 "$parent" 2>/dev/null; do
    sleep 1
    # An image build's latest step ("#12 [app 5/9] RUN ..."), else the log's latest line.
    latest=$({ grep -E '^#[0-9]+ \[' "$log" || grep -v '^\s*$' "$log"; } 2>/dev/null | tail -n 1 | cut -c1-70 || true)
    if [ -t 2 ]; then
      printf '\r\033[K    %s: %d s  %s' "$label" $((SECONDS - started)) "$latest" >&2
    elif [ $((SECONDS - last)) -ge 30 ]; then
      last=$SECONDS
      printf '    %s: %d s so far (%s)\n' "$label" $((SECONDS - started)) "$latest" >&2
    fi
  done
}

# --- a start that fails stops what it started ------------------------------------------
# trap_failed_start CLEANUP: until clear_failed_start, an exit with an error (a die) runs
# CLEANUP first, then whatever EXIT trap was set before (./stack test has one).
FAILED_START_CLEANUP=""
PREVIOUS_EXIT_TRAP=""

trap_failed_start() {
  FAILED_START_CLEANUP=$1
  local previous
  previous=$(trap -p EXIT)
  if [ -n "$previous" ]; then
    eval "set -- $previous"
    PREVIOUS_EXIT_TRAP=$3
  fi
  trap on_exit_during_start EXIT
}

on_exit_during_start() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$FAILED_START_CLEANUP" ]; then "$FAILED_START_CLEANUP" || true; fi
  eval "$PREVIOUS_EXIT_TRAP"
}

clear_failed_start() {
  FAILED_START_CLEANUP=""
  if [ -n "$PREVIOUS_EXIT_TRAP" ]; then trap -- "$PREVIOUS_EXIT_TRAP" EXIT; else trap - EXIT; fi
}

# require_free_port PORT VARIABLE [HOST]: stop before starting anything when something already
# listens on PORT (a raw bind error half-way through a start helps nobody), naming what: another
# deployment on this host (its name and folder: scripts/port_holder.py), or another program.
require_free_port() {
  local port=$1 variable=$2 host=${3:-${STACK_BIND:-127.0.0.1}} holder
  case "$host" in 0.0.0.0 | :: | "[::]") host=127.0.0.1 ;; esac
  host=${host#[}
  host=${host%]}
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    holder=$(python3 -I "$ROOT/scripts/port_holder.py" "$port" 2>/dev/null) || holder="another program"
    die "port $port ($variable) on $host is in use by ${holder:-another program}, not by this $(describe_deployment). Stop that, or choose another port for this one: set $variable=<free port> in $ENV_PATH."
  fi
}
