# ./stack test: lint, unit tests of each part, then the end-to-end suite against a
# freshly started stack (native, and Docker Compose and Swarm where an engine answers).
# It runs in its own state folder and ports, so a running dev stack is left alone.

cmd_test() {
  # The tests write their own env file with fresh secrets: nothing read from this
  # checkout's .env (or STACK_ENV_FILE) may leak into them.
  [ ${#LOADED_FROM_ENV_FILE[@]} -eq 0 ] || unset "${LOADED_FROM_ENV_FILE[@]}"
  # Its own state folder and ports (each overridable, to run several at once).
  local name=${STACK_TEST_NAME:-test}
  export STACK_STATE="$ROOT/.stack/$name" STACK_ENV_FILE="$ROOT/.stack/$name.env"
  export STACK_PORT=${STACK_TEST_PORT:-18080} STACK_PG_PORT=${STACK_TEST_PG_PORT:-15442}
  export STACK_HTTPS_PORT=${STACK_TEST_HTTPS_PORT:-$((STACK_PORT + 363))}
  # A deployment of its own (its Compose project, images, OS users: 25-deployment.sh) with its own
  # image tag, so test runs never touch another deployment's parts (a COMPOSE_PROJECT_NAME of the
  # shell would name another).
  export SSO_DEPLOYMENT="sso-$name" SSO_VERSION=${STACK_TEST_IMAGE_TAG:-$name}
  unset COMPOSE_PROJECT_NAME
  exec "$ROOT/stack" _test-run "$@"
}

FAILED=()

run_suite() {
  local name=$1
  shift
  say "test suite: $name"
  "$@" || FAILED+=("$name")
}

lint() {
  "$VENV/bin/ruff" check "$ROOT" && "$VENV/bin/ruff" format --check "$ROOT"
}

# Unit tests create their own test databases, so they log in as the cluster's superuser.
unit_tests() {
  local part=$1 service_schema=$2
  (
    cd "$ROOT/$part"
    export DB_HOST=127.0.0.1 DB_PORT=$PG_PORT DB_USER=postgres DB_PASSWORD=$POSTGRES_PASSWORD
    export DB_NAME=sso DB_SCHEMA=$service_schema
    unset AUTH_DB_ROLE
    "$VENV/bin/pytest" -q -p no:cacheprovider
  )
}

# Tests of ./stack itself (scripts/tests/): stale pid files, one .env meaning everywhere.
# The stack they start gets ports of its own, clear of this run's.
stack_script_tests() {
  STACK_TESTS_PORT_BASE=$((STACK_PORT + 200)) "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/scripts/tests"
}

# A newcomer's first run, in a fresh clone of this checkout (scripts/first_run/): native, a
# refused second mode, Compose by ./stack and by plain `docker compose`. Ports of its own.
first_run_tests() {
  FIRST_RUN_PORT_BASE=$((STACK_PORT + 400)) FIRST_RUN_IMAGE_TAG="$SSO_VERSION-first-run" \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/scripts/first_run"
}

# The same suite for every target; e2e/deployment/ checks the Compose deployment itself. Natively
# and under Compose a second deployment (a clone) runs beside this one a while: ports + 450 to + 452.
e2e_tests() {
  local target=$1 base_url=$2 scope=(--ignore "$ROOT/e2e/offline" --ignore "$ROOT/e2e/faults" --ignore "$ROOT/e2e/swarm")
  [ "$target" = compose ] || scope+=(--ignore "$ROOT/e2e/deployment")
  local -x E2E_SECOND_DEPLOYMENT_PORT=""
  [ "$target" = swarm ] || E2E_SECOND_DEPLOYMENT_PORT=$((STACK_PORT + 450))
  E2E_TARGET=$target E2E_BASE_URL=$base_url E2E_STACK="$ROOT/stack" \
    E2E_COMPOSE_PROJECT=$COMPOSE_PROJECT E2E_ENV_FILE=$ENV_PATH E2E_RACE_PORT=$((STACK_PORT + 100)) \
    E2E_UPGRADE_PORT_BASE=$((STACK_PORT + 150)) \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e" "${scope[@]}"
}

# PostgreSQL stopped, a worker and a service killed under load, a 500's traceback found by
# its request id (e2e/faults/): on the native stack, after its end-to-end suite, which they
# would disturb. Each test puts back what it stopped.
# A Wagtail site made by Wagtail's own template, added with ./stack add-service (e2e/added_service/):
# natively, after the faults, as it backs the site up, wipes and restores it.
added_service_tests() {
  E2E_ADDED_SERVICE=1 E2E_TARGET=native E2E_BASE_URL=$1 E2E_STACK="$ROOT/stack" E2E_ENV_FILE=$ENV_PATH \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e/added_service"
}

fault_tests() {
  E2E_FAULTS=1 E2E_TARGET=native E2E_BASE_URL=$1 E2E_STACK="$ROOT/stack" E2E_ENV_FILE=$ENV_PATH \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e/faults"
}

# The builds get an extra CA for real: this host's own (so they still get through a
# TLS-intercepting proxy) plus a throwaway one made here, which no host trusts and no image
# may hold (e2e/deployment checks every layer for every certificate the build was given).
with_throwaway_extra_ca() {
  stage_extra_cas
  # Beside the state folder, not in it: a test's `./stack down --volumes` deletes that folder.
  local bundle="$STATE.extra-ca-with-throwaway.pem"
  { cat "$EXTRA_CA_FILE" && echo; } >"$bundle"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout /dev/null \
    -subj "/CN=sso stack test throwaway extra CA $(date -u +%Y%m%dT%H%M%SZ)" 2>/dev/null >>"$bundle"
  export EXTRA_CA_FILE=$bundle
}

compose_target() {
  if ! compose_available; then
    say "skipping the Docker Compose target: no Docker engine with Compose v2 answers here (docker/install-engine.sh installs one)"
    return 0
  fi
  with_throwaway_extra_ca
  compose_up >/dev/null
  run_suite "end-to-end (compose)" e2e_tests compose "$(compose_url)"
  compose_down --volumes
}

# The Swarm deployment (./stack up --swarm, 2 replicas each): the end-to-end suite, then the checks
# under load of e2e/swarm (a replica killed, B scaled, a rolling update). Then stack, secrets, volume,
# the rebuilt image's tags and (when ./stack made it) the swarm go again.
swarm_target() {
  if ! swarm_available; then
    say "skipping the Docker Swarm target: no Docker engine with Compose v2 answers here"
    return 0
  fi
  rm -f "$STATE/mode"
  local -x SYSTEM_A_REPLICAS=2 SYSTEM_B_REPLICAS=2
  swarm_up >/dev/null
  run_suite "end-to-end (swarm)" e2e_tests swarm "$(swarm_url)"
  run_suite "under load (swarm)" env E2E_TARGET=swarm E2E_BASE_URL="$(swarm_url)" E2E_STACK="$ROOT/stack" \
    E2E_SWARM_STACK="$SWARM_STACK" E2E_ENV_FILE="$ENV_PATH" \
    "$VENV/bin/pytest" -q -s -p no:cacheprovider "$ROOT/e2e/swarm"
  swarm_down --volumes
  rm -f "$STATE/mode"
  docker image rm "$SWARM_STACK/app:$SSO_VERSION-rolled" "$SWARM_STACK/db:$SSO_VERSION-rolled" \
    "$SWARM_STACK/nginx:$SSO_VERSION-rolled" >/dev/null 2>&1 || true
}

# The browser walkthrough and the HTTPS checks once more over TLS: the native stack
# restarted with a throwaway self-signed certificate, so nginx serves HTTPS (its
# HTTP port redirects) and Django marks the cookies Secure. Same data as before.
native_https_target() {
  local certs="$STATE/tls"
  "$ROOT/nginx/make-test-cert.sh" "$certs" >/dev/null
  local -x STACK_TLS_CERT="$certs/cert.pem" STACK_TLS_KEY="$certs/key.pem"
  native_up >/dev/null
  run_suite "end-to-end (native, HTTPS)" env E2E_TARGET=native E2E_BASE_URL="$(native_url)" \
    E2E_HTTP_URL="http://127.0.0.1:$STACK_PORT/" E2E_CA_BUNDLE="$STACK_TLS_CERT" E2E_STACK="$ROOT/stack" \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e/test_walkthrough_browser.py" "$ROOT/e2e/test_https.py"
  native_down
}

# Builds bundles of this commit and the previous one, installs them with no network.
offline_bundle_target() {
  if ! compose_available; then
    say "skipping the offline bundle tests: no Docker engine with Compose v2 answers here"
    return 0
  fi
  is_root || {
    say "skipping the offline bundle tests: they need root (unshare --net, PostgreSQL's own user)"
    return 0
  }
  run_suite "offline bundle" env E2E_OFFLINE=1 E2E_OFFLINE_PORT_BASE=$((STACK_PORT + 300)) \
    "$VENV/bin/pytest" -q -p no:cacheprovider "$ROOT/e2e/offline"
}

stop_test_stack() {
  case "$(recorded_mode)" in
    native) native_down ;;
    compose) compose_down --volumes ;;
    swarm) swarm_down --volumes ;;
  esac
}

fresh_test_state() {
  stop_test_stack
  rm -rf "$STATE" "$ENV_PATH"
  # What ./stack read from a previous run's env file goes with it: left in the environment, it
  # would win over the fresh file's secrets (the stack would run with the old ones, the tests
  # would read the new ones).
  [ ${#LOADED_FROM_ENV_FILE[@]} -eq 0 ] || unset "${LOADED_FROM_ENV_FILE[@]}"
  LOADED_FROM_ENV_FILE=()
  mkdir -p "$STATE"
  write_env_file "$ENV_PATH"
}

cmd__test_run() {
  ensure_native_packages
  ensure_test_packages
  ensure_python_env dev
  fresh_test_state
  load_env_file
  trap 'stop_test_stack >/dev/null 2>&1 || true' EXIT

  run_suite lint lint
  start_database
  provision_databases
  run_suite "shared package" unit_tests shared system_a
  run_suite "System A" unit_tests system_a system_a
  run_suite "System B" unit_tests system_b system_b
  run_suite "./stack itself" stack_script_tests
  run_suite "first run (a fresh clone)" first_run_tests

  native_up >/dev/null
  run_suite "end-to-end (native)" e2e_tests native "$(native_url)"
  run_suite "faults (native)" fault_tests "$(native_url)"
  run_suite "an added project (native)" added_service_tests "$(native_url)"
  native_down
  native_https_target
  compose_target
  offline_bundle_target
  # Last: joining and leaving a swarm can upset the name lookups of containers already running.
  swarm_target

  report_results
}

report_results() {
  if [ ${#FAILED[@]} -eq 0 ]; then
    say "all test suites passed"
  else
    die "failed suites: ${FAILED[*]}"
  fi
}
