# ./stack screenshots [NAME...]: the README's walkthrough pictures (docs/walkthrough/*.png, or only those named),
# taken by the browser walkthrough on a fresh native stack of their own, so the
# pages show only what the walkthrough itself did. A running dev stack is left alone.

SCREENSHOTS_DIR="$ROOT/docs/walkthrough"

# Its own state folder and ports (each overridable, like ./stack test's).
screenshots_stack_env() {
  local name=${STACK_SHOTS_NAME:-screenshots}
  export STACK_STATE="$ROOT/.stack/$name" STACK_ENV_FILE="$ROOT/.stack/$name.env"
  export STACK_PORT=${STACK_SHOTS_PORT:-18180} STACK_PG_PORT=${STACK_SHOTS_PG_PORT:-15452}
  # A deployment of its own (OS users, ...), not the dev one's.
  export SSO_DEPLOYMENT="sso-$name"
  unset COMPOSE_PROJECT_NAME
  # Plain HTTP, whatever .env says: the pictures show the pages, not the transport.
  unset STACK_TLS_CERT STACK_TLS_KEY
  # Fresh secrets of its own (written to its env file), not the dev stack's from .env.
  unset SECRET_KEY SECRET_KEY_FILE POSTGRES_PASSWORD
  local service
  for service in "${SERVICES[@]}"; do unset "SYSTEM_${service^^}_DB_PASSWORD"; done
}

# The stack is driven through ./stack itself, so the settings above are the ones it reads.
screenshots_stack() { "$ROOT/stack" "$@"; }

discard_screenshots_stack() {
  screenshots_stack down --volumes >/dev/null 2>&1 || true
  rm -f "$STACK_ENV_FILE"
}

# Taken into the throwaway stack's folder first: the README keeps its pictures unless all steps pass.
# Given names (like 09-your-sessions), only those pictures are replaced; the others stay as they are.
take_walkthrough_screenshots() {
  local base_url=$1 fresh="$STACK_STATE/screenshots" name
  shift
  E2E_TARGET=native E2E_BASE_URL=$base_url E2E_STACK="$ROOT/stack" E2E_SCREENSHOTS="$fresh" \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e/test_walkthrough_browser.py" || return 1
  mkdir -p "$SCREENSHOTS_DIR"
  if [ $# -eq 0 ]; then
    rm -f "$SCREENSHOTS_DIR"/*.png
    cp "$fresh"/*.png "$SCREENSHOTS_DIR/"
    return 0
  fi
  for name in "$@"; do
    [ -f "$fresh/$name.png" ] || die "the walkthrough took no picture named '$name' (it took: $(cd "$fresh" && echo *.png))"
  done
  for name in "$@"; do cp "$fresh/$name.png" "$SCREENSHOTS_DIR/"; done
}

cmd_screenshots() {
  local name
  for name in "$@"; do
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || die "'$name' is no picture name: give it as in docs/walkthrough, without .png (e.g. 09-your-sessions)"
  done
  ensure_python_env dev
  screenshots_stack_env
  discard_screenshots_stack
  trap discard_screenshots_stack EXIT
  local base_url
  base_url=$(screenshots_stack up --native | tail -n 1)
  take_walkthrough_screenshots "$base_url" "$@" || die "the walkthrough failed (see above); the pictures in docs/walkthrough are unchanged."
  say "screenshots in ${SCREENSHOTS_DIR#"$ROOT"/}:"
  (cd "$SCREENSHOTS_DIR" && du -k -- *.png | awk '{ printf "  %3d KB  %s\n", $1, $2 }' >&2)
}
