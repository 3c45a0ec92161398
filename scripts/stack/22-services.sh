# The services, as services.toml declares them: the one reader (shared/sso_shared/environment/
# services.py, standard library only) serves bash here and Django in every service. SERVICES holds
# their names in the order declared; a service's role, schema and records are system_NAME.
export SSO_SERVICES_FILE=${SSO_SERVICES_FILE:-$ROOT/services.toml}
SERVICES=()
declare -A SERVICE_PROJECT=()

read_declared_services() {
  local table name project _settings
  # (The reader says what is wrong with the file, in one line.)
  table=$(python3 -I "$ROOT/shared/sso_shared/environment/services.py" table) || exit 1
  while IFS=$'\t' read -r name project _settings; do
    SERVICES+=("$name")
    SERVICE_PROJECT[$name]=$project
  done <<<"$table"
}

is_declared_service() {
  local name
  for name in "${SERVICES[@]}"; do [ "$name" = "${1:-}" ] && return 0; done
  return 1
}

# The app containers (Compose's and Swarm's services) of the declared services, one a line.
service_containers() { printf 'system_%s\n' "${SERVICES[@]}"; }

# Where each service answers, in one line: "a: URL/a/   b: URL/b/" for the site at URL.
say_service_urls() {
  local base=$1 service line=""
  for service in "${SERVICES[@]}"; do line+="$service: $base$service/   "; done
  say "${line%   }"
}

# The service's Django project folder (the one with manage.py).
service_project_dir() { echo "$ROOT/${SERVICE_PROJECT[$1]}"; }

# Provisioning, Compose and Swarm still spell out System A (which holds the login pages) and
# System B: a declaration of other services is refused before anything starts.
require_supported_services() {
  [ "${SERVICES[*]}" = "a b" ] ||
    die "$SSO_SERVICES_FILE declares the services ${SERVICES[*]}; this release serves a and b only (provisioning and Compose do not read the declaration yet). Nothing was started."
}

read_declared_services
