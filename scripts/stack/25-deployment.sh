# The deployment's identity. Each checkout (or install folder) is one deployment with a name,
# SSO_DEPLOYMENT, chosen once (by `./stack env` or the first `up`) and recorded in .env; the
# environment wins, as for every setting. Everything the deployment makes on the host carries it,
# so two deployments on one host never share, stop or delete each other's parts:
#   the Compose project: its containers (also labelled sso.deployment), networks, volumes
#   the images: NAME/app, NAME/db, NAME/nginx (tag SSO_VERSION)
#   the Swarm stack NAME and its secrets NAME_<secret>_<digest>
#   the native stack's OS users (as root): NAME-pg, NAME-a, NAME-b, NAME-web, NAME-migrate
# A deployment of the previous release (no name in .env) keeps the one it ran under: its
# COMPOSE_PROJECT_NAME, else sso (with the OS users it had). docs/operations.md, "Deployments on one host".

# shellcheck source=scripts/deployment-name.sh
source "$ROOT/scripts/deployment-name.sh"

# What the previous release called every deployment (unless COMPOSE_PROJECT_NAME said otherwise).
LEGACY_DEPLOYMENT=sso

# Set by resolve_deployment: the name ("" while this folder has none yet), and where it came from.
DEPLOYMENT=""
DEPLOYMENT_FROM=""

# The OS user of ROLE (pg, web, migrate, a, b). A deployment named sso, or one whose native
# cluster the previous release's PostgreSQL user owns (it ran under a COMPOSE_PROJECT_NAME of its
# own), keeps the previous release's users (ssostack, ssoweb, ssomigrate, ssoapp_a, ssoapp_b), so
# upgrading it changes no owner of its files.
deployment_os_user() {
  local role=$1
  if [ "$DEPLOYMENT" = "$LEGACY_DEPLOYMENT" ] || [ "$(stat -c %U "$STATE/pg/data" 2>/dev/null)" = ssostack ]; then
    case "$role" in
      pg) echo ssostack ;;
      web) echo ssoweb ;;
      migrate) echo ssomigrate ;;
      maintenance) echo ssomaintenance ;;
      *) echo "ssoapp_$role" ;;
    esac
  else
    # (maint: NAME-maintenance could pass the 32 characters of an OS user's name.)
    echo "$DEPLOYMENT-${role/maintenance/maint}"
  fi
}
# (Each declared service's user: 22-services.sh has read services.toml.)
DEPLOYMENT_OS_ROLES=(pg "${SERVICES[@]}" web migrate maintenance)

# The name in effect, and everything named after it.
resolve_deployment() {
  if [ -n "${SSO_DEPLOYMENT:-}" ]; then
    DEPLOYMENT=$SSO_DEPLOYMENT
    DEPLOYMENT_FROM="your environment"
    [[ " ${LOADED_FROM_ENV_FILE[*]} " != *" SSO_DEPLOYMENT "* ]] || DEPLOYMENT_FROM=$ENV_PATH
  elif [ -n "${COMPOSE_PROJECT_NAME:-}" ]; then
    # The previous release's way to name the Compose project (.env or the environment).
    DEPLOYMENT=$COMPOSE_PROJECT_NAME
    DEPLOYMENT_FROM="COMPOSE_PROJECT_NAME"
  elif [ -s "$STATE/deployment" ]; then
    # The name the native stack in the state folder started under (record_native_identity).
    DEPLOYMENT=$(sed -n 's/^SSO_DEPLOYMENT=//p' "$STATE/deployment")
    DEPLOYMENT_FROM="$STATE/deployment"
  elif ran_before_under "$LEGACY_DEPLOYMENT"; then
    DEPLOYMENT=$LEGACY_DEPLOYMENT
    DEPLOYMENT_FROM="the previous release"
  else
    DEPLOYMENT=""
    DEPLOYMENT_FROM=""
  fi
  COMPOSE_PROJECT=$DEPLOYMENT
  SWARM_STACK=$DEPLOYMENT
  PG_OS_USER=$(deployment_os_user pg)       # PostgreSQL refuses to run as root
  WEB_OS_USER=$(deployment_os_user web)     # nginx's workers; the only user besides a service's own that may open its socket
  MIGRATE_OS_USER=$(deployment_os_user migrate)
  MAINTENANCE_OS_USER=$(deployment_os_user maintenance)
}

# Did this folder run a deployment of the previous release under NAME? Its native cluster or the
# records ./stack kept in the state folder say so; else containers of NAME started from here, or
# NAME's volumes (left by a `down`) that no other folder claims.
ran_before_under() {
  local name=$1 record
  for record in pg/data/PG_VERSION mode compose-project compose-secrets swarm-stack; do
    [ ! -e "$STATE/$record" ] || return 0
  done
  command -v docker >/dev/null && docker info >/dev/null 2>&1 || return 1
  [ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$name" \
    --filter "label=com.docker.compose.project.working_dir=$ROOT")" ] || return 0
  [ -n "$(docker volume ls -q --filter "label=com.docker.compose.project=$name")" ] &&
    [ -z "$(docker_claims_of "$name" | grep -vxF "$ROOT")" ]
}

# Refuse a name that is not one, or a Compose project name that says otherwise (plain `docker
# compose` would then run another project than ./stack). Every command that acts calls it.
check_deployment() {
  [ -n "$DEPLOYMENT" ] || return 0
  local problem
  problem=$(deployment_name_problem "$DEPLOYMENT")
  [ -z "$problem" ] ||
    die "SSO_DEPLOYMENT=$DEPLOYMENT (in $DEPLOYMENT_FROM) cannot name a deployment: $problem. Choose another in $ENV_PATH before the deployment first starts (its volumes and OS users carry the name)."
  [ -z "${COMPOSE_PROJECT_NAME:-}" ] || [ "$COMPOSE_PROJECT_NAME" = "$DEPLOYMENT" ] ||
    die "COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME differs from this deployment's name $DEPLOYMENT: plain docker compose would run another project than ./stack. Remove COMPOSE_PROJECT_NAME from $ENV_PATH and your environment (SSO_DEPLOYMENT names the project)."
}

# Record the name in .env, once: the one in effect (the environment's, or the previous release's
# for a deployment that ran before), else a new one made from the folder's name.
record_deployment() {
  [ -f "$ENV_PATH" ] || return 0
  envtool has "$ENV_PATH" SSO_DEPLOYMENT && return 0
  local name=$DEPLOYMENT why="this deployment's name (docs/operations.md, \"Deployments on one host\")"
  if [ -z "$name" ]; then
    name=$(default_deployment_name "$ROOT")
  elif [ "$DEPLOYMENT_FROM" = "the previous release" ] || [ "$DEPLOYMENT_FROM" = COMPOSE_PROJECT_NAME ]; then
    why="the name this deployment ran under before deployments had names of their own; keep it"
  elif [ "$DEPLOYMENT_FROM" = "$STATE/deployment" ]; then
    why="the name its native stack ran under; keep it"
  fi
  envtool record "$ENV_PATH" SSO_DEPLOYMENT "$name" "$why"
  export SSO_DEPLOYMENT=$name
  resolve_deployment
  check_deployment
}

# --- one name, one deployment on this host ---------------------------------------------
# A name is claimed where the deployment's parts are: natively (as root) in the comment of its
# OS users, under Docker by a volume NAME_identity that ./stack creates with labels naming the
# deployment and its folder (Docker volumes cannot be relabelled, and Compose offers to delete and
# recreate a volume whose definition changed, so the data volumes keep the previous release's
# definition; this one carries the folder). Compose also labels each container with its folder.

os_user_claim() { echo "sso deployment $DEPLOYMENT in $ROOT"; }

# A native deployment's claim on its OS user outlives its folder when the folder is deleted (its
# data lived there and went with it). Such a claim is stale, and another folder may take the name
# over, once no process runs as that user any more.
stale_os_user_claim() {
  local user=$1 comment folder
  comment=$(getent passwd "$user" | cut -d: -f5)
  folder=${comment#"sso deployment "*" in "}
  [ "$folder" != "$comment" ] && [ ! -e "$folder" ] && ! pgrep -u "$user" >/dev/null 2>&1
}

# Folders whose deployment holds NAME under Docker: its claim volume, its containers.
docker_claims_of() {
  local name=$1
  {
    docker volume ls --filter "label=sso.deployment=$name" --format '{{.Label "sso.deployment.folder"}}'
    docker ps -a --filter "label=com.docker.compose.project=$name" \
      --format '{{.Label "com.docker.compose.project.working_dir"}}'
    docker ps -a --filter "label=sso.deployment=$name" --format '{{.Label "sso.deployment.folder"}}'
  } 2>/dev/null | grep -v '^$' | sort -u
}

# "FOLDER (what)" of the first other deployment that holds this name, or nothing.
deployment_name_holder() {
  local role user comment folder
  for role in "${DEPLOYMENT_OS_ROLES[@]}"; do
    user=$(deployment_os_user "$role")
    comment=$(getent passwd "$user" | cut -d: -f5)
    case "$comment" in
      "sso deployment $DEPLOYMENT in "*)
        folder=${comment#"sso deployment $DEPLOYMENT in "}
        [ "$folder" = "$ROOT" ] || stale_os_user_claim "$user" || {
          echo "$folder (its OS user $user)"
          return 0
        }
        ;;
    esac
  done
  compose_available || return 0
  folder=$(docker_claims_of "$DEPLOYMENT" | grep -vxF "$ROOT" | head -n 1)
  [ -z "$folder" ] || echo "$folder (its Docker containers or volumes)"
}

# Before anything starts: no other folder's deployment has this name.
require_own_deployment_name() {
  local holder
  holder=$(deployment_name_holder)
  [ -z "$holder" ] ||
    die "the deployment name $DEPLOYMENT (from $DEPLOYMENT_FROM) is taken on this host by the deployment in $holder. Two deployments cannot share a name: give this one ($ROOT) its own, e.g. SSO_DEPLOYMENT=$(default_deployment_name "$ROOT") in $ENV_PATH. Nothing was started."
}

# The Docker claim: created before the deployment's first container, removed with its volumes.
claim_volume() { echo "${DEPLOYMENT}_identity"; }

claim_deployment_in_docker() {
  docker volume inspect "$(claim_volume)" >/dev/null 2>&1 && return 0
  docker volume create --label "sso.deployment=$DEPLOYMENT" --label "sso.deployment.folder=$ROOT" \
    "$(claim_volume)" >/dev/null
}

release_docker_claim() {
  local folder
  folder=$(docker volume inspect --format '{{index .Labels "sso.deployment.folder"}}' "$(claim_volume)" 2>/dev/null) || return 0
  [ "$folder" = "$ROOT" ] && docker volume rm "$(claim_volume)" >/dev/null
}

# This deployment's OS users go with its data (./stack down --volumes, as root): only those
# whose comment claims them for this deployment and folder.
remove_deployment_os_users() {
  is_root || return 0
  local role user
  for role in "${DEPLOYMENT_OS_ROLES[@]}"; do
    user=$(deployment_os_user "$role")
    [ "$(getent passwd "$user" | cut -d: -f5)" = "$(os_user_claim)" ] || continue
    userdel "$user" 2>/dev/null || warn "could not remove the OS user $user (userdel $user)"
  done
}

# What identifies a native stack's state folder to someone who finds its process (a port it
# holds): scripts/port_holder.py reads it.
record_native_identity() {
  printf 'SSO_DEPLOYMENT=%s\nfolder=%s\n' "$DEPLOYMENT" "$ROOT" >"$STATE/deployment"
}

describe_deployment() { echo "deployment $DEPLOYMENT ($ROOT)"; }

resolve_deployment
