# The Docker Compose deployment (compose.yaml): build, start, wait, stop.

# The Compose project is the deployment's name (COMPOSE_PROJECT, set in 25-deployment.sh), as
# compose.yaml says for plain `docker compose` too (name: ${SSO_DEPLOYMENT}); so are its images.
DEFAULT_BASE_IMAGE=debian:bookworm-slim
LOCAL_BASE_IMAGE=sso-base/debian:bookworm-slim

# Asked once per ./stack command (docker info takes a moment).
COMPOSE_ANSWERS=""
compose_available() {
  if [ -z "$COMPOSE_ANSWERS" ]; then
    if [ -f "$ROOT/compose.yaml" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1 &&
      docker compose version >/dev/null 2>&1; then COMPOSE_ANSWERS=yes; else COMPOSE_ANSWERS=no; fi
  fi
  [ "$COMPOSE_ANSWERS" = yes ]
}

compose_files() {
  echo "$ROOT/compose.yaml"
  echo "$ROOT/compose.services.yaml"
  [ -z "${STACK_TLS_CERT:-}" ] || echo "$ROOT/compose.https.yaml"
}

# The Compose files of the declared services (services.toml), written again before every use:
# compose.services.yaml (their containers) and compose.swarm.services.yaml (their Swarm settings).
write_service_compose_files() {
  python3 -I "$ROOT/scripts/compose_services.py" compose "$ROOT/compose.services.yaml" &&
    python3 -I "$ROOT/scripts/compose_services.py" swarm "$ROOT/compose.swarm.services.yaml" ||
    die "could not write the Compose files of the services in $SSO_SERVICES_FILE (above)."
}

compose() {
  local files=() file
  write_service_compose_files
  while read -r file; do files+=(-f "$file"); done < <(compose_files)
  # (COMPOSE_PROJECT_NAME as well as -p: Compose releases before 2.27 interpolated
  # ${COMPOSE_PROJECT_NAME} in compose.yaml from the environment only.)
  COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT docker compose --project-directory "$ROOT" "${files[@]}" \
    --env-file "$ENV_PATH" -p "$COMPOSE_PROJECT" "$@"
}

compose_url() { echo "http://127.0.0.1:${STACK_PORT:-8080}/"; }

# The images build FROM $BASE_IMAGE. Without a registry, build a local equivalent
# of debian:bookworm-slim from Debian's packages (debootstrap) and use that.
image_present() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base_image() {
  if [ -n "${BASE_IMAGE:-}" ]; then
    image_present "$BASE_IMAGE" || docker pull -q "$BASE_IMAGE" >/dev/null ||
      die "BASE_IMAGE=$BASE_IMAGE (from $ENV_PATH or your environment) is neither present nor pullable: change or remove it there."
    return 0
  fi
  if image_present "$DEFAULT_BASE_IMAGE" || docker pull -q "$DEFAULT_BASE_IMAGE" >/dev/null 2>&1; then
    export BASE_IMAGE=$DEFAULT_BASE_IMAGE
    return 0
  fi
  if ! image_present "$LOCAL_BASE_IMAGE"; then
    is_root || die "$DEFAULT_BASE_IMAGE cannot be pulled here, and building $LOCAL_BASE_IMAGE from Debian's packages needs root (debootstrap): sudo docker/build-base-image.sh, then ./stack up again."
    say "$DEFAULT_BASE_IMAGE cannot be pulled here: building $LOCAL_BASE_IMAGE from Debian's packages (once; a few minutes)"
    step "base image $LOCAL_BASE_IMAGE built" with_progress "building the base image" \
      env BASE_IMAGE=$LOCAL_BASE_IMAGE "$ROOT/docker/build-base-image.sh"
  fi
  export BASE_IMAGE=$LOCAL_BASE_IMAGE
}

# Which base image plain `docker compose` should build FROM, when that is known without
# pulling or building anything (for the native mode, which needs no image).
known_base_image() {
  if [ -n "${BASE_IMAGE:-}" ]; then echo "$BASE_IMAGE"
  elif image_present "$DEFAULT_BASE_IMAGE"; then echo "$DEFAULT_BASE_IMAGE"
  elif image_present "$LOCAL_BASE_IMAGE"; then echo "$LOCAL_BASE_IMAGE"
  else return 1; fi
}

# Record in the env file what plain `docker compose` needs to do what ./stack does, so that
# `docker compose up -d --build --wait` and `docker compose down` work by themselves afterwards:
# the base image (not pullable without a registry) and the Compose files, the services' and with
# HTTPS compose.https.yaml (the project name is the deployment's, SSO_DEPLOYMENT, which compose.yaml reads). Values the file holds already are never changed.
# record_compose_settings full: may pull or build the base image (./stack env, compose up);
# record_compose_settings cheap: only what is known at once (native up).
record_compose_settings() {
  local how=${1:-cheap} base
  [ -f "$ENV_PATH" ] || return 0
  if compose_available; then
    if [ "$how" = full ]; then
      # (In a subshell: a base image that cannot be had is said, and the env file stays written.)
      if ! base=$(ensure_base_image && echo "$BASE_IMAGE"); then
        warn "BASE_IMAGE is not recorded in $ENV_PATH (see above): plain docker compose needs it where no registry answers."
        base=""
      fi
    else
      base=$(known_base_image) || base=""
    fi
    [ -z "$base" ] || envtool record "$ENV_PATH" BASE_IMAGE "$base" "the image plain docker compose builds FROM"
  elif [ "$how" = full ]; then
    say "no Docker engine answers here: BASE_IMAGE is not recorded in $ENV_PATH (./stack env again once Docker runs)."
  fi
  # The services' file (services.toml's), and HTTPS when the env file itself names the certificate
  # (one given only in ./stack's environment, as ./stack test does for its HTTPS pass, would leave
  # plain Compose without it).
  local files=compose.yaml:compose.services.yaml
  if [ -n "${STACK_TLS_CERT:-}" ] && grep -q '^STACK_TLS_CERT=.' "$ENV_PATH"; then
    files+=:compose.https.yaml
  fi
  write_service_compose_files
  envtool compose-files "$ENV_PATH" "$files"
}

# --- finding a deployment of this checkout ----------------------------------------
# Compose labels every container with its project and its project directory, whoever
# started it (./stack or plain `docker compose`): that, not a file of ./stack's, says
# what runs.
checkout_label() { echo "com.docker.compose.project.working_dir=$ROOT"; }

# Names of the Compose projects with containers (running, or any with --all) from this checkout.
checkout_projects() {
  local all=()
  [ "${1:-}" != --all ] || all=(-a)
  compose_available || return 0
  docker ps "${all[@]}" --filter "label=$(checkout_label)" \
    --format '{{.Label "com.docker.compose.project"}}' | sort -u
}

# Does this checkout's project (COMPOSE_PROJECT) have containers (running ones by default)?
compose_deployment_present() {
  checkout_projects "$@" | grep -xF "$COMPOSE_PROJECT" >/dev/null
}

# Volumes of this deployment (left by a down that kept them): labelled with its Compose project
# (the volumes keep the previous release's definition: 25-deployment.sh), and not claimed by the
# deployment of another folder, which a name shared by mistake would make them.
compose_volumes_present() {
  compose_available || return 1
  [ -n "$(docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT")" ] || return 1
  local other
  other=$(docker_claims_of "$COMPOSE_PROJECT" | grep -vxF "$ROOT" | head -n 1)
  [ -z "$other" ] && return 0
  warn "the volumes of Compose project $COMPOSE_PROJECT belong to the deployment in $other, not to this $(describe_deployment): left alone."
  return 1
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
  local name service names=(SECRET_KEY SECRET_KEY_FALLBACKS POSTGRES_PASSWORD)
  for service in "${SERVICES[@]}"; do names+=("SYSTEM_${service^^}_DB_PASSWORD"); done
  {
    for name in "${names[@]}"; do
      printf '%s=%s\0' "$name" "${!name:-}"
    done
    [ -z "${SECRET_KEY_FILE:-}" ] || cat "$SECRET_KEY_FILE"
  } | sha256sum | cut -d' ' -f1
}

# Compose 2.40 builds through Bake, which needs the buildx CLI plugin; where there is none
# (Debian 12 packages none, and no registry here ships it) Compose says so on every build
# and uses its own builder, which does the same job (COMPOSE_BAKE=false, the old way to ask
# for that builder, only trades this for a deprecation warning). Nothing to act on: dropped.
without_bake_notice() {
  "$@" 2> >(grep -v "Docker Compose is configured to build using Bake, but buildx isn't installed" >&2)
}

build_images() {
  # BuildKit (the engine's own, no buildx needed) for the Dockerfile's build secret.
  DOCKER_BUILDKIT=1 without_bake_notice compose --progress plain build
}

# The images of this checkout, built once per run (`./stack restore` builds them before it
# asks their code about the backup). The offline installer has loaded them: nothing is built.
compose_build_images() {
  if [ -z "${STACK_OFFLINE:-}" ]; then
    ensure_base_image
    record_compose_settings cheap
    stage_extra_cas
    step "images $COMPOSE_PROJECT/{db,app,nginx}:${SSO_VERSION:-dev} built from $BASE_IMAGE" \
      with_progress "building the images" build_images
  fi
  COMPOSE_IMAGES_BUILT=1
}

compose_up() {
  compose_available || die "no Docker engine with Compose v2 answers (as root, docker/install-engine.sh installs one and starts it: docs/docker.md)."
  mkdir -p "$STATE"
  [ -f "$ENV_PATH" ] || step "wrote $ENV_PATH with fresh random secrets" write_env_file "$ENV_PATH"
  reload_env_file
  require_secrets
  require_own_deployment_name
  local started_before=""
  compose_deployment_present --all && started_before=1
  compose_deployment_present || require_free_port "${STACK_PORT:-8080}" STACK_PORT
  claim_deployment_in_docker
  echo compose >"$STATE/mode"
  echo "$COMPOSE_PROJECT" >"$STATE/compose-project"
  # A start that fails takes down what it started (a deployment that ran before is left as it is).
  [ -n "$started_before" ] || trap_failed_start compose_stop_failed_start
  local pull=()
  # The offline installer has loaded the images: nothing may be pulled or built.
  [ -z "${STACK_OFFLINE:-}" ] || pull=(--pull never)
  [ -n "${COMPOSE_IMAGES_BUILT:-}" ] || compose_build_images
  local digest recreate=()
  digest=$(secrets_digest)
  if [ -s "$STATE/compose-secrets" ] && [ "$(cat "$STATE/compose-secrets")" != "$digest" ] &&
    [ -n "$(compose ps -aq)" ]; then
    say "secrets in $ENV_PATH changed: recreating every container"
    recreate=(--force-recreate)
  fi
  move_compose_site_to_schemas "${pull[@]}"
  step "deployment started and healthy (project $COMPOSE_PROJECT)" compose_start "${pull[@]}" "${recreate[@]}"
  # (Offline installs may run in a network namespace of their own, where the published port is out of reach.)
  if [ -z "${STACK_OFFLINE:-}" ] && command -v python3 >/dev/null; then
    step "nginx answers on $(compose_url)" python3 "$ROOT/scripts/wait_for_http.py" --timeout 60 \
      "$(compose_url)a/health" "$(compose_url)b/health" ||
      die "nginx does not answer on $(compose_url)"
  fi
  echo "$digest" >"$STATE/compose-secrets"
  clear_failed_start
  say_service_urls "$(compose_url)"
  compose_url
}

# A site of a release before one database keeps its data in three databases of its db volume. So the
# database starts first, alone (the new image provisions the one database beside them); such a
# site's data is then backed up and moved into the schemas (55-backup.sh), and everything starts.
move_compose_site_to_schemas() {
  BACKUP_MODE=compose
  # The database of the release before, while it runs, says so itself: its services are stopped
  # first, or the database's new container could not take over the network they still use.
  if [ -n "$(compose ps -q --status running db 2>/dev/null)" ] && [ "$(site_layout)" = databases ] && site_running; then
    stop_site
  fi
  compose_up_or_die --wait-timeout 120 "$@" db >&2
  [ "$(site_layout)" = databases ] || return 0
  # Services of the release before still write to the three databases: stopped for the move.
  if site_running; then stop_site; fi
  step "the site's data moved into the schemas of one database (a backup first)" move_to_schemas compose
}

compose_start() { compose_up_or_die --wait-timeout 300 "$@"; }

# `compose up -d --wait --no-build ARGS...`; when it fails, what Compose said and every container's
# last lines (or that none wrote one), then die.
compose_up_or_die() {
  mkdir -p "$STATE" # (a first start of the offline installer's has none yet)
  compose up -d --wait --no-build "$@" 2>"$STATE/compose-up.log" || {
    cat "$STATE/compose-up.log" >&2
    # Every container's last lines, each named by its service (the database's too: a db that
    # never gets healthy is a common first failure).
    local lines
    lines=$(compose logs --tail 5 2>/dev/null || true)
    if [ -n "$lines" ]; then
      printf '%s
' "$lines" >&2
      die "the deployment did not become healthy (the containers' last log lines are above; all: docker compose -p $COMPOSE_PROJECT logs)"
    fi
    die "the deployment did not become healthy, and no container wrote a log line: the error above is Docker Compose's own"
  }
}

compose_stop_failed_start() {
  warn "the start failed: removing the containers it created"
  compose down --remove-orphans >/dev/null 2>&1 || true
  # Said only when true: a start that failed before creating them left none.
  if compose_volumes_present; then
    say "the volumes of project $COMPOSE_PROJECT are kept (./stack down --volumes deletes them)"
  fi
  rm -f "$STATE/mode" "$STATE/compose-project"
}

# Point COMPOSE_PROJECT at the deployment of this checkout that has containers: its own
# project, else the one ./stack recorded starting (the settings may have changed since).
# False when there is none.
select_compose_project() {
  local projects recorded
  projects=$(checkout_projects --all)
  [ -n "$projects" ] || return 1
  grep -qxF "$COMPOSE_PROJECT" <<<"$projects" && return 0
  recorded=$(cat "$STATE/compose-project" 2>/dev/null || true)
  [ -n "$recorded" ] && grep -qxF "$recorded" <<<"$projects" || return 1
  COMPOSE_PROJECT=$recorded
}

compose_down() {
  local wipe=${1:-}
  if [ "$wipe" = --volumes ]; then
    step "Compose deployment (project $COMPOSE_PROJECT) stopped, its volumes deleted" \
      with_progress "docker compose down" compose down --volumes --remove-orphans
    release_docker_claim
  else
    step "Compose deployment (project $COMPOSE_PROJECT) stopped; volumes kept (./stack down --volumes deletes them)" \
      with_progress "docker compose down" compose down --remove-orphans
  fi
  rm -f "$STATE/compose-project"
}

compose_manage() {
  local service=$1 tty=() passthrough=() name
  shift
  [ -t 0 ] && [ -t 1 ] || tty=(-T)
  # Hand through settings a command reads from the environment (createsuperuser --noinput).
  for name in $(compgen -e | grep '^DJANGO_' || true); do passthrough+=(-e "$name"); done
  compose exec "${tty[@]}" "${passthrough[@]}" "system_$service" sso manage "$service" "$@"
}

# One housekeeping run now, in the maintenance container (as the maintenance role).
compose_housekeeping() { compose exec -T maintenance sso housekeeping --once; }

compose_status() {
  if compose_deployment_present; then
    say "Docker Compose deployment running (project $COMPOSE_PROJECT) at $(compose_url)"
  else
    say "Docker Compose deployment (project $COMPOSE_PROJECT) has containers, none running"
  fi
  compose ps
}
