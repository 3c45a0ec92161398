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

# Load KEY=VALUE lines of the env file without running it as shell code;
# a variable already set in the environment wins.
load_env_file() {
  [ -f "$ENV_PATH" ] || return 0
  local key value
  while IFS='=' read -r key value || [ -n "$key" ]; do
    [[ $key =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [ -z "${!key+x}" ] || continue
    value=${value%$'\r'}
    value=${value#\"}
    value=${value%\"}
    export "$key=$value"
  done <"$ENV_PATH"
}

require_secrets() {
  local name missing=()
  for name in SECRET_KEY POSTGRES_PASSWORD SYSTEM_A_DB_PASSWORD SYSTEM_B_DB_PASSWORD; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]} in $ENV_PATH. Run ./stack env to write fresh random secrets."
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

cmd_env() {
  write_env_file "$ENV_PATH"
}
