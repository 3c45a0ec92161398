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

# Write an env file with fresh random secrets, once; an existing file is kept as it is.
write_env_file() { "$ROOT/scripts/write-env.sh" "$1"; }

# Export the settings of the env file, read with Docker Compose's .env rules by the one
# reader every mode shares (shared/sso_shared/envfile.py: stdlib only, so the system
# python3 runs it before .venv exists). A variable already set here wins, as in Compose.
# Names load_env_file exported, so ./stack test can drop a deployment's settings.
LOADED_FROM_ENV_FILE=()

load_env_file() {
  [ -f "$ENV_PATH" ] || return 0
  command -v python3 >/dev/null || die "reading $ENV_PATH needs python3 (sudo apt-get install -y python3)."
  local entries entry key
  # A file, not a pipe: NUL-separated entries keep any character, and a parse error stops here.
  entries=$(mktemp)
  python3 -I "$ROOT/shared/sso_shared/envfile.py" "$ENV_PATH" >"$entries" || {
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

require_secrets() {
  local name missing=()
  for name in SECRET_KEY POSTGRES_PASSWORD SYSTEM_A_DB_PASSWORD SYSTEM_B_DB_PASSWORD; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]} in $ENV_PATH. Run ./stack env to write fresh random secrets."
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

# The pid in a pid file (postmaster.pid has more lines); empty while there is none.
pidfile_pid() { head -n 1 "$1" 2>/dev/null || true; }
started_record() { echo "$1.started"; }

# Remember who the process named by PIDFILE is, right after starting it. The program
# writes the pid file itself (after daemonising), so wait for it a little.
record_started() {
  local pidfile=$1 pid
  for _ in $(seq 1 50); do
    pid=$(pidfile_pid "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] && break
    sleep 0.1
  done
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
  [ -f "$pidfile" ] || return 1
  pid=$(pidfile_pid "$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && [ -e "/proc/$pid" ]; then
    if runs_command "$pid" "$@"; then
      [ "$(process_identity "$pid")" = "$(cat "$(started_record "$pidfile")" 2>/dev/null)" ] && return 0
      warn "$pidfile names pid $pid, which runs '$*' but was not started by this ./stack; leaving it alone (stop it yourself)."
      return 1
    fi
    warn "stale pid file $pidfile: pid $pid is another process now, not the one ./stack started; removed the file, left the process alone."
  else
    warn "stale pid file $pidfile: pid ${pid:-none} is not running; removed the file."
  fi
  rm -f "$pidfile" "$(started_record "$pidfile")"
  return 1
}

cmd_env() {
  write_env_file "$ENV_PATH"
}
