#!/usr/bin/env bash
# Cold-start times to all-healthy, for docs/performance.md:
#   native:  ./stack up --native with a warm virtual environment and an existing database cluster
#            (everything stopped first), then once more from nothing but the venv (./stack down --volumes);
#   compose: ./stack up --compose with the images already built (its build step is a cache hit),
#            with the volumes kept and with fresh volumes.
# Uses the caller's STACK_* settings; Compose gets a state folder and a port of its own
# (COLD_START_COMPOSE_PORT, default STACK_PORT + 200) so it never meets the native stack.
# Leaves both stopped. Prints one line per measurement.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK="$ROOT/stack"
NATIVE_STATE=${STACK_STATE:-$ROOT/.stack/dev}
COMPOSE_STATE="$NATIVE_STATE-compose"
COMPOSE_PORT=${COLD_START_COMPOSE_PORT:-$((${STACK_PORT:-8080} + 200))}

seconds() {
  local started=$SECONDS
  "$@" >/dev/null 2>&1 || {
    echo "failed: $*" >&2
    return 1
  }
  echo $((SECONDS - started))
}
as_native() { STACK_STATE=$NATIVE_STATE "$STACK" "$@"; }
as_compose() { STACK_STATE=$COMPOSE_STATE STACK_PORT=$COMPOSE_PORT "$STACK" "$@"; }

as_native down >/dev/null 2>&1 || true
as_native up --native >/dev/null 2>&1 # the venv is warm and the cluster exists from here on
as_native down >/dev/null 2>&1
echo "native, warm venv, existing cluster:  $(seconds as_native up --native) s"
as_native down --volumes >/dev/null 2>&1
echo "native, warm venv, new cluster:       $(seconds as_native up --native) s"
as_native down >/dev/null 2>&1

as_compose up --compose >/dev/null 2>&1 # builds the images
as_compose down >/dev/null 2>&1
echo "compose, built images, volumes kept:  $(seconds as_compose up --compose) s"
as_compose down --volumes >/dev/null 2>&1
echo "compose, built images, new volumes:   $(seconds as_compose up --compose) s"
as_compose down --volumes >/dev/null 2>&1
