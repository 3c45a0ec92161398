# The Docker Compose deployment (compose.yaml): build, start, wait, stop.

COMPOSE_PROJECT=${STACK_COMPOSE_PROJECT:-sso}
DEFAULT_BASE_IMAGE=debian:bookworm-slim
LOCAL_BASE_IMAGE=sso-base/debian:bookworm-slim

compose_available() {
  [ -f "$ROOT/compose.yaml" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1 &&
    docker compose version >/dev/null 2>&1
}

compose_files() {
  echo "$ROOT/compose.yaml"
  [ -z "${STACK_TLS_CERT:-}" ] || echo "$ROOT/compose.https.yaml"
}

compose() {
  local files=() file
  while read -r file; do files+=(-f "$file"); done < <(compose_files)
  docker compose --project-directory "$ROOT" "${files[@]}" --env-file "$ENV_PATH" -p "$COMPOSE_PROJECT" "$@"
}

compose_url() { echo "http://127.0.0.1:${STACK_PORT:-8080}/"; }

# The images build FROM $BASE_IMAGE. Without a registry, build a local equivalent
# of debian:bookworm-slim from Debian's packages (debootstrap) and use that.
ensure_base_image() {
  if [ -n "${BASE_IMAGE:-}" ]; then
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker pull -q "$BASE_IMAGE" >/dev/null ||
      die "BASE_IMAGE=$BASE_IMAGE is neither present nor pullable."
    return 0
  fi
  if docker image inspect "$DEFAULT_BASE_IMAGE" >/dev/null 2>&1 || docker pull -q "$DEFAULT_BASE_IMAGE" >/dev/null 2>&1; then
    export BASE_IMAGE=$DEFAULT_BASE_IMAGE
    return 0
  fi
  warn "$DEFAULT_BASE_IMAGE cannot be pulled here; using $LOCAL_BASE_IMAGE built from Debian's packages."
  is_root || die "building $LOCAL_BASE_IMAGE needs root (debootstrap): sudo docker/build-base-image.sh"
  BASE_IMAGE=$LOCAL_BASE_IMAGE "$ROOT/docker/build-base-image.sh" >&2
  export BASE_IMAGE=$LOCAL_BASE_IMAGE
}

# CA certificates this host added to its own trust store (a TLS-intercepting proxy's, a site CA)
# are what the builds need to reach Debian's mirror and PyPI through it. They reach the builds as
# the build secret extra_ca (compose.yaml): one PEM file in $STATE, outside the build context,
# which apt and pip trust while building and no image layer holds. STACK_EXTRA_CA_DIR names
# another folder; an empty value turns this off. An EXTRA_CA_FILE set by hand (environment or
# .env) is used as it is.
stage_extra_cas() {
  [ -z "${EXTRA_CA_FILE:-}" ] || return 0
  local from=${STACK_EXTRA_CA_DIR-/usr/local/share/ca-certificates} bundle="$STATE/extra-ca.pem" file
  mkdir -p "$STATE"
  : >"$bundle"
  if [ -n "$from" ]; then
    for file in "$from"/*.crt; do
      # (An unmatched pattern stays as it is.) The blank line keeps a file without a final newline apart.
      [ ! -f "$file" ] || { cat "$file" && echo; } >>"$bundle"
    done
  fi
  export EXTRA_CA_FILE=$bundle
}

# Compose recreates a container when its settings change, but the value of a secret is not one of
# them: after a change of a secret in .env (a rotation), `up` alone would leave every container
# with the old one. So ./stack keeps a digest of the secrets it last started with and recreates
# everything when they differ (by hand: docker compose up -d --force-recreate).
secrets_digest() {
  local name
  {
    for name in SECRET_KEY SECRET_KEY_FALLBACKS POSTGRES_PASSWORD SYSTEM_A_DB_PASSWORD SYSTEM_B_DB_PASSWORD; do
      printf '%s=%s\0' "$name" "${!name:-}"
    done
    [ -z "${SECRET_KEY_FILE:-}" ] || cat "$SECRET_KEY_FILE"
  } | sha256sum | cut -d' ' -f1
}

compose_build_images() {
  # The offline installer has loaded the images: nothing may be pulled or built.
  if [ -z "${STACK_OFFLINE:-}" ]; then
    ensure_base_image
    stage_extra_cas
    say "building images from $BASE_IMAGE"
    # BuildKit (the engine's own, no buildx needed) for the Dockerfile's build secret.
    DOCKER_BUILDKIT=1 COMPOSE_BAKE=false compose build -q
  fi
  COMPOSE_IMAGES_BUILT=1
}

compose_up() {
  compose_available || die "no Docker engine with Compose v2 answers (docker/install-engine.sh installs one as root)."
  mkdir -p "$STATE"
  [ -f "$ENV_PATH" ] || write_env_file "$ENV_PATH"
  load_env_file
  echo compose >"$STATE/mode"
  echo "$COMPOSE_PROJECT" >"$STATE/compose-project"
  [ -n "${COMPOSE_IMAGES_BUILT:-}" ] || compose_build_images
  local pull=()
  # The offline installer has loaded the images: nothing may be pulled or built.
  [ -z "${STACK_OFFLINE:-}" ] || pull=(--pull never)
  local digest recreate=()
  digest=$(secrets_digest)
  if [ -s "$STATE/compose-secrets" ] && [ "$(cat "$STATE/compose-secrets")" != "$digest" ] &&
    [ -n "$(compose ps -aq)" ]; then
    say "secrets in $ENV_PATH changed: recreating every container"
    recreate=(--force-recreate)
  fi
  say "starting the deployment (project $COMPOSE_PROJECT)"
  compose up -d --wait --wait-timeout 300 --no-build "${pull[@]}" "${recreate[@]}" || {
    compose logs --no-log-prefix --tail 3 migrate system_a system_b >&2 || true
    die "the deployment did not become healthy (last log lines above; all: docker compose -p $COMPOSE_PROJECT logs)"
  }
  # (Offline installs may run in a network namespace of their own, where the published port is out of reach.)
  if [ -z "${STACK_OFFLINE:-}" ] && command -v python3 >/dev/null; then
    python3 "$ROOT/scripts/wait_for_http.py" --timeout 60 "$(compose_url)a/health" "$(compose_url)b/health" ||
      die "nginx does not answer on $(compose_url)"
  fi
  echo "$digest" >"$STATE/compose-secrets"
  say "System A: $(compose_url)a/   System B: $(compose_url)b/"
  compose_url
}

compose_project_running() { cat "$STATE/compose-project" 2>/dev/null || echo "$COMPOSE_PROJECT"; }

compose_down() {
  local wipe=${1:-}
  COMPOSE_PROJECT=$(compose_project_running)
  if [ "$wipe" = --volumes ]; then
    say "stopping the deployment and deleting its volumes"
    compose down --volumes --remove-orphans
  else
    say "stopping the deployment (volumes kept; ./stack down --volumes deletes them)"
    compose down --remove-orphans
  fi
  rm -f "$STATE/compose-project"
}

compose_manage() {
  local service=$1 tty=() passthrough=() name
  shift
  COMPOSE_PROJECT=$(compose_project_running)
  [ -t 0 ] && [ -t 1 ] || tty=(-T)
  # Hand through settings a command reads from the environment (createsuperuser --noinput).
  for name in $(compgen -e | grep '^DJANGO_' || true); do passthrough+=(-e "$name"); done
  compose exec "${tty[@]}" "${passthrough[@]}" "system_$service" sso manage "$service" "$@"
}

compose_status() {
  COMPOSE_PROJECT=$(compose_project_running)
  compose ps
}
