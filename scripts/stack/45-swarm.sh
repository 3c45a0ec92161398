# The Docker Swarm deployment (./stack up --swarm): compose.yaml + compose.swarm.yaml and the services'
# generated files (compose.services.yaml, compose.swarm.services.yaml) as a stack.
# docs/swarm.md says what it does and why; each step below is one paragraph there.

# The stack is named after the deployment (SWARM_STACK, set in 25-deployment.sh), as are its
# secrets (labelled sso.deployment) and its containers (labelled with the deployment and folder).
SWARM_WAIT_SECONDS=${STACK_SWARM_WAIT:-300}

swarm_available() { compose_available; }

swarm_stack_running() { cat "$STATE/swarm-stack" 2>/dev/null || echo "$SWARM_STACK"; }

# The stack ./stack deployed from this checkout runs (an engine in no swarm has none).
swarm_deployment_present() {
  [ -s "$STATE/swarm-stack" ] && compose_available || return 1
  docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qxF "$(swarm_stack_running)"
}

# The engine joins a swarm only when it is in none; ./stack remembers that it made it (swarm-created),
# so `./stack down` leaves only a swarm of its own.
ensure_swarm() {
  local state control
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  case "$state" in
    active)
      control=$(docker info --format '{{.Swarm.ControlAvailable}}')
      [ "$control" = true ] || die "this engine is a swarm worker; run ./stack up --swarm on a manager node."
      ;;
    inactive)
      say "initialising a single-node swarm (docker swarm init)"
      if [ -n "${STACK_SWARM_ADVERTISE_ADDR:-}" ]; then
        docker swarm init --advertise-addr "$STACK_SWARM_ADVERTISE_ADDR" >/dev/null
      elif ! docker swarm init >/dev/null 2>&1; then
        # Several addresses and none chosen: loopback, for one machine (STACK_SWARM_ADVERTISE_ADDR to join others).
        warn "docker swarm init could not choose an address; advertising 127.0.0.1 (one machine only, docs/swarm.md)"
        docker swarm init --advertise-addr 127.0.0.1 >/dev/null
      fi
      touch "$STATE/swarm-created"
      ;;
    *) die "the engine's swarm is '$state'; see docker info (docker swarm leave --force resets it)." ;;
  esac
}

# One Swarm secret per value, named by a digest of it: Swarm secrets cannot change, so a rotated
# value is a new secret, which the services get as they are updated. The value goes through stdin
# only (printf is a shell builtin; base64 keeps a file's bytes, final newlines too, in a variable),
# never on a command line nor in a file. (The digest names a random secret; whoever may list
# secrets may read them from a container anyway.)
# swarm_secret NAME VALUE, or swarm_secret NAME < FILE (the file's bytes as they are).
swarm_secret() {
  local logical=$1 digest name content
  if [ $# -gt 1 ]; then content=$(printf '%s' "$2" | base64 -w0); else content=$(base64 -w0); fi
  digest=$(printf '%s' "$content" | base64 -d | sha256sum | cut -c1-12)
  name="${SWARM_STACK}_${logical}_${digest}"
  if ! docker secret inspect "$name" >/dev/null 2>&1; then
    printf '%s' "$content" | base64 -d | docker secret create --label "sso.deployment=$SWARM_STACK" "$name" - >/dev/null
  fi
  SWARM_SECRET_ARGS+=(--secret "$logical=$name")
}

create_swarm_secrets() {
  SWARM_SECRET_ARGS=()
  swarm_secret postgres_password "$POSTGRES_PASSWORD"
  local service password_var
  for service in "${SERVICES[@]}"; do
    password_var="SYSTEM_${service^^}_DB_PASSWORD"
    swarm_secret "system_${service}_db_password" "${!password_var}"
  done
  if [ -n "${SECRET_KEY_FILE:-}" ]; then
    [ -r "$SECRET_KEY_FILE" ] || die "cannot read SECRET_KEY_FILE=$SECRET_KEY_FILE"
    swarm_secret secret_key_from_file <"$SECRET_KEY_FILE"
  else
    swarm_secret secret_key "$SECRET_KEY"
  fi
  # Swarm refuses an empty secret; without fallbacks the services get no file, as under Compose.
  [ -z "${SECRET_KEY_FALLBACKS:-}" ] || swarm_secret secret_key_fallbacks_given "$SECRET_KEY_FALLBACKS"
}

# This stack's secrets: labelled with its deployment (the previous release labelled them sso.stack).
swarm_secrets() {
  {
    docker secret ls --filter "label=sso.deployment=$SWARM_STACK" --format '{{.Name}}'
    docker secret ls --filter "label=sso.stack=$SWARM_STACK" --format '{{.Name}}'
  } | sort -u
}

# Secrets of this stack no service uses any more (Swarm refuses to remove one in use).
prune_swarm_secrets() {
  local name keep=" ${SWARM_SECRET_ARGS[*]} "
  for name in $(swarm_secrets); do
    [[ $keep == *"=$name "* ]] || docker secret rm "$name" >/dev/null 2>&1 || true
  done
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# Each service's image, labelled with its image ID: a rebuilt image under the same tag is a new
# version Swarm rolls out. An image that is the same as the running one keeps the running reference,
# so a new tag of an unchanged image (the database's, nginx's) restarts nothing.
swarm_image_args() {
  local service running image id
  SWARM_IMAGE_ARGS=()
  for service in db migrate $(service_containers) nginx; do
    image=$(swarm_service_image "$service")
    id=$(image_id "$image")
    [ -n "$id" ] || die "image $image is not on this engine (build it, or docker load it on every node)."
    SWARM_IMAGE_ARGS+=(--image-id "$service=$id")
    running=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' \
      "${SWARM_STACK}_$service" 2>/dev/null || true)
    if [ -n "$running" ] && [ "$running" != "$image" ] && [ "$(image_id "$running")" = "$id" ]; then
      SWARM_IMAGE_ARGS+=(--keep-image "$service=$running")
    fi
  done
}

# Deploy the named part of the stack (swarm_stack_file.py options); the CLI's chatter goes to a log.
swarm_deploy() {
  local file="$STATE/swarm-stack.json"
  python3 "$ROOT/scripts/swarm_stack_file.py" "$STATE/swarm-config.json" --label "sso.deployment.folder=$ROOT" \
    "${SWARM_SECRET_ARGS[@]}" "${SWARM_IMAGE_ARGS[@]}" "$@" >"$file"
  # Images are local to each node: no registry is asked for a digest.
  docker stack deploy --resolve-image never -c "$file" "$SWARM_STACK" >>"$STATE/swarm-deploy.log" 2>&1 || {
    tail -n 5 "$STATE/swarm-deploy.log" >&2
    die "docker stack deploy failed (all output: $STATE/swarm-deploy.log)"
  }
}

# "running/desired" of a service, and the state of its last update ("" when none).
service_replicas() { docker service ls --filter "name=${SWARM_STACK}_$1" --format '{{.Name}} {{.Replicas}}' | awk -v n="${SWARM_STACK}_$1" '$1 == n {print $2}'; }
service_update_state() { docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${SWARM_STACK}_$1"; }

# Swarm counts a task with a healthcheck as running only once it is healthy.
service_converged() {
  local replicas update
  replicas=$(service_replicas "$1")
  update=$(service_update_state "$1")
  case "$update" in
    rollback_completed | rollback_paused | paused)
      die "the update of ${SWARM_STACK}_$1 failed ($update): docker service ps --no-trunc ${SWARM_STACK}_$1"
      ;;
    updating | rollback_started) return 1 ;;
  esac
  [[ $replicas =~ ^([0-9]+)/([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[2]}" != 0 ]
}

# The job's run of this deploy: a task of its current iteration has completed (one that failed
# max_attempts times stops the wait).
job_completed() {
  local service="${SWARM_STACK}_$1" iteration states
  iteration=$(docker service inspect --format '{{if .JobStatus}}{{.JobStatus.JobIteration.Index}}{{end}}' "$service")
  states=$(docker service ps -q "$service" | xargs -r docker inspect --format "{{.JobIteration.Index}} {{.Status.State}}" |
    awk -v i="$iteration" '$1 == i {print $2}')
  [ "$(grep -c '^failed$' <<<"$states")" -lt 5 ] || {
    docker service logs --tail 10 "$service" >&2 2>&1 || true
    die "the migration job failed (docker service logs $service)"
  }
  grep -qx complete <<<"$states"
}

# Tasks of the service that failed since this deploy began (a crash loop shows at once, not after the wait).
failed_since_deploy() {
  docker service ps -q --filter desired-state=shutdown "${SWARM_STACK}_$1" |
    xargs -r docker inspect --format '{{.CreatedAt.Format "2006-01-02T15:04:05"}} {{.Status.State}}' |
    awk -v since="$SWARM_DEPLOY_STARTED" '$1 >= since && ($2 == "failed" || $2 == "rejected")' | wc -l
}

wait_for() {
  local what=$1 deadline=$((SECONDS + SWARM_WAIT_SECONDS)) service
  shift
  for service in "$@"; do
    until "$what" "$service"; do
      if [ "$SECONDS" -ge "$deadline" ] || [ "$(failed_since_deploy "$service")" -ge 4 ]; then
        docker service ps --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' "${SWARM_STACK}_$service" | head -n 5 >&2
        docker service logs --tail 5 "${SWARM_STACK}_$service" >&2 2>&1 || true
        die "${SWARM_STACK}_$service did not get ready (more: docker service logs ${SWARM_STACK}_$service)"
      fi
      sleep 1
    done
  done
}

swarm_url() { echo "http://127.0.0.1:${STACK_PORT:-8080}/"; }

swarm_up() {
  swarm_available || die "no Docker engine with Compose v2 answers (docker/install-engine.sh installs one as root)."
  [ -z "${STACK_TLS_CERT:-}" ] || die "HTTPS is not offered under Swarm yet; end TLS in front of it (docs/swarm.md)."
  mkdir -p "$STATE"
  [ -f "$ENV_PATH" ] || write_env_file "$ENV_PATH"
  reload_env_file
  # (The passwords are checked by compose.yaml itself, below; SECRET_KEY may come from SECRET_KEY_FILE.)
  [ -n "${SECRET_KEY:-}${SECRET_KEY_FILE:-}" ] ||
    die "SECRET_KEY is not set in $ENV_PATH. Run ./stack env to write fresh random secrets."
  require_own_deployment_name
  swarm_deployment_present || require_free_port "${STACK_PORT:-8080}" STACK_PORT
  ensure_swarm
  claim_deployment_in_docker
  echo swarm >"$STATE/mode"
  echo "$SWARM_STACK" >"$STATE/swarm-stack"
  # Images are built with Compose (Swarm builds nothing) unless they are there already (STACK_NO_BUILD,
  # the offline installer's docker load).
  [ -n "${STACK_NO_BUILD:-}" ] || compose_build_images
  write_service_compose_files
  COMPOSE_PROJECT_NAME=$SWARM_STACK docker compose --project-directory "$ROOT" -f "$ROOT/compose.yaml" \
    -f "$ROOT/compose.services.yaml" -f "$ROOT/compose.swarm.yaml" -f "$ROOT/compose.swarm.services.yaml" \
    --env-file "$ENV_PATH" -p "$SWARM_STACK" config --format json >"$STATE/swarm-config.json"
  create_swarm_secrets
  swarm_image_args
  : >"$STATE/swarm-deploy.log"
  SWARM_DEPLOY_STARTED=$(date -u +%Y-%m-%dT%H:%M:%S)
  say "deploying the database (stack $SWARM_STACK)"
  swarm_deploy --only db
  wait_for service_converged db
  move_swarm_site_to_schemas
  # Once per deploy (a new SSO_DEPLOY_ID makes Swarm run the job again), before any service changes.
  say "migrating (a one-off Swarm job, under the migration lock)"
  swarm_deploy --only db --only migrate --env "SSO_DEPLOY_ID=$(date -u +%Y%m%dT%H%M%S)-$$" --env-for migrate
  wait_for job_completed migrate
  local service replicas=() health=()
  for service in "${SERVICES[@]}"; do
    local count_variable="SYSTEM_${service^^}_REPLICAS"
    replicas+=("$service ${!count_variable:-2}x")
    health+=("$(swarm_url)$service/health")
  done
  say "deploying the services ($(IFS=,; echo "${replicas[*]}" | sed 's/,/, /g')) and nginx"
  swarm_deploy --without migrate
  # shellcheck disable=SC2046 # one word a service
  wait_for service_converged db $(service_containers) nginx
  prune_swarm_secrets
  python3 "$ROOT/scripts/wait_for_http.py" --timeout 60 "${health[@]}" ||
    die "nginx does not answer on $(swarm_url)"
  say_service_urls "$(swarm_url)"
  swarm_url
}

# --- a site of a release before one database ------------------------------------------------
# Its data is in three databases of its db volume: once the new database image runs (it provisions
# the one database beside them), the services of that release are scaled to none and the data is
# backed up and moved into the schemas (55-backup.sh, move_to_schemas), with the db task's container
# standing in for `docker compose exec db`. Then the migrate job and the services deploy as usual.

swarm_service_image() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"][sys.argv[2]]["image"])' \
    "$STATE/swarm-config.json" "$1"
}

swarm_db_container() { docker ps -q --filter "label=com.docker.swarm.service.name=${SWARM_STACK}_db" | head -n 1; }

# `compose exec [-T] [-u USER] [-e VAR[=VALUE]]... db PROGRAM ARGS...` in the db task's container:
# the one compose call the move's database steps make (scripts/database-owners.sh, 55-backup.sh).
swarm_db_exec() {
  [ "${1:-}" = exec ] || die "the move under Swarm has no 'compose $1'"
  shift
  local options=() container
  while [ $# -gt 0 ]; do
    case "$1" in
      -T) shift ;;
      -u | -e)
        options+=("$1" "$2")
        shift 2
        ;;
      db)
        shift
        break
        ;;
      *) die "the move under Swarm has no 'compose exec $1'" ;;
    esac
  done
  container=$(swarm_db_container)
  [ -n "$container" ] || die "no running container of ${SWARM_STACK}_db"
  docker exec -i "${options[@]}" "$container" "$@"
}

# What the new release's code says about itself (sso_backup_info), in a throwaway container of its
# app image with no network: the key (and its fallbacks) on standard input, a throwaway database
# password (nothing is connected to).
swarm_backup_infos() {
  local dir=$1 key fallbacks
  key=${SECRET_KEY:-}
  [ -z "${SECRET_KEY_FILE:-}" ] || key=$(cat "$SECRET_KEY_FILE")
  fallbacks=${SECRET_KEY_FALLBACKS:-}
  printf '%s\n' "${SERVICES[@]}" >"$dir/services"
  printf '%s\n%s\n' "$key" "$fallbacks" |
    docker run --rm -i --network none --entrypoint bash "$(swarm_service_image migrate)" -c '
      IFS= read -r SECRET_KEY; IFS= read -r SECRET_KEY_FALLBACKS
      password=$(python3 -c "import secrets; print(secrets.token_urlsafe(24))")
      export SECRET_KEY SECRET_KEY_FALLBACKS
      for service in $0; do export "SYSTEM_${service^^}_DB_PASSWORD=$password"; done
      eval "$1"' "${SERVICES[*]}" "$(infos_script)" \
    >"$dir/infos" 2>"$dir/infos.log" || {
    cat "$dir/infos.log" >&2
    return 1
  }
  split_infos "$dir"
}

move_swarm_site_to_schemas() {
  (
    compose() { swarm_db_exec "$@"; }
    service_backup_infos() { swarm_backup_infos "$@"; }
    BACKUP_MODE=compose
    [ "$(site_layout)" = databases ] || exit 0
    for service in nginx $(service_containers) maintenance; do
      docker service inspect "${SWARM_STACK}_$service" >/dev/null 2>&1 || continue
      say "stopping ${SWARM_STACK}_$service of the release before for the move"
      docker service scale -d "${SWARM_STACK}_$service=0" >/dev/null
    done
    site_running() { return 1; }
    step "the site's data moved into the schemas of one database (a backup first)" move_to_schemas compose
  ) || die "the move into the schemas failed (above)."
}

# Containers or the network of the stack still there? (Swarm leaves the containers of a job's
# finished runs behind: those, stopped, are removed here.)
stack_leftovers() {
  docker ps -aq --filter "label=com.docker.stack.namespace=$SWARM_STACK" --filter status=exited |
    xargs -r docker rm >/dev/null 2>&1 || true
  [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$SWARM_STACK")" ] ||
    docker network inspect "${SWARM_STACK}_backend" >/dev/null 2>&1
}

# The stack's volumes: those Swarm made for it (labelled with its namespace), unless the deployment
# of another folder claims the name.
swarm_volumes() {
  [ -z "$(docker_claims_of "$SWARM_STACK" | grep -vxF "$ROOT")" ] || return 0
  # (A volume the Compose deployment of the same name left is the same volume: Swarm reuses it.)
  {
    docker volume ls -q --filter "label=com.docker.stack.namespace=$SWARM_STACK"
    docker volume ls -q --filter "label=com.docker.compose.project=$SWARM_STACK"
  } | sort -u
}

swarm_down() {
  local wipe=${1:-} deadline
  SWARM_STACK=$(swarm_stack_running)
  say "removing the stack $SWARM_STACK"
  docker stack rm "$SWARM_STACK" >/dev/null 2>&1 || true
  # The containers, then the network, go a little after `stack rm` returns.
  deadline=$((SECONDS + 150))
  while stack_leftovers; do
    [ "$SECONDS" -lt "$deadline" ] || {
      warn "containers of $SWARM_STACK are still there after 150s"
      break
    }
    sleep 1
  done
  swarm_secrets | xargs -r docker secret rm >/dev/null
  if [ "$wipe" = --volumes ]; then
    say "deleting the volumes of the stack $SWARM_STACK"
    swarm_volumes | xargs -r docker volume rm >/dev/null 2>&1 || true
    release_docker_claim
  fi
  if [ -f "$STATE/swarm-created" ]; then
    say "leaving the swarm ./stack created"
    docker swarm leave --force >/dev/null
    rm -f "$STATE/swarm-created"
  fi
  rm -f "$STATE/swarm-stack"
}

# The command runs in a healthy task of the service on this node (docs/swarm.md).
swarm_manage() {
  local service=$1 tty=() passthrough=() name container
  shift
  SWARM_STACK=$(swarm_stack_running)
  container=$(docker ps -q --filter "label=com.docker.swarm.service.name=${SWARM_STACK}_system_$service" \
    --filter health=healthy | head -n 1)
  [ -n "$container" ] || die "no healthy task of ${SWARM_STACK}_system_$service runs on this node."
  [ -t 0 ] && [ -t 1 ] && tty=(-t)
  for name in $(compgen -e | grep '^DJANGO_' || true); do passthrough+=(-e "$name"); done
  docker exec -i "${tty[@]}" "${passthrough[@]}" "$container" sso manage "$service" "$@"
}

# One housekeeping run now, in the maintenance task (beside the database, so on this node when
# ./stack runs on the database's manager node: docs/swarm.md).
swarm_housekeeping() {
  local container
  SWARM_STACK=$(swarm_stack_running)
  container=$(docker ps -q --filter "label=com.docker.swarm.service.name=${SWARM_STACK}_maintenance" | head -n 1)
  [ -n "$container" ] || die "no task of ${SWARM_STACK}_maintenance runs on this node (it runs beside the database)."
  docker exec "$container" sso housekeeping --once
}

swarm_status() {
  SWARM_STACK=$(swarm_stack_running)
  docker stack services "$SWARM_STACK"
  docker stack ps --filter desired-state=running --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}' "$SWARM_STACK"
}
