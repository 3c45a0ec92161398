# The services, as services.toml declares them: the one reader (shared/sso_shared/environment/
# services.py, standard library only) serves bash here and Django in every service. SERVICES holds
# their names in the order declared; a service's role, schema and records are system_NAME.
export SSO_SERVICES_FILE=${SSO_SERVICES_FILE:-$ROOT/services.toml}
SERVICES=()
declare -A SERVICE_PROJECT=() SERVICE_SETTINGS=() SERVICE_KIND=() SERVICE_REQUIREMENTS=()

read_declared_services() {
  local table name project settings kind requirements
  SERVICES=()
  # (The reader says what is wrong with the file, in one line.)
  table=$(python3 -I "$ROOT/shared/sso_shared/environment/services.py" table) || exit 1
  while IFS=$'\t' read -r name project settings kind requirements; do
    SERVICES+=("$name")
    SERVICE_PROJECT[$name]=$project
    SERVICE_SETTINGS[$name]=$settings
    SERVICE_KIND[$name]=$kind
    SERVICE_REQUIREMENTS[$name]=$requirements
  done <<<"$table"
}

# A project added with ./stack add-service: its own settings and URLs under the shared layer.
is_added_service() { [ "${SERVICE_KIND[$1]:-}" = layer ]; }

is_declared_service() {
  local name
  for name in "${SERVICES[@]}"; do [ "$name" = "${1:-}" ] && return 0; done
  return 1
}

# The app containers (Compose's and Swarm's services) of the declared services, one a line.
service_containers() { printf 'system_%s\n' "${SERVICES[@]}"; }

# The virtual environment a service runs in: the site's, or an added project's own (its requirements).
service_venv() { if is_added_service "$1"; then echo "$STATE/venvs/$1"; else echo "$VENV"; fi; }
service_python() { echo "$(service_venv "$1")/bin/python"; }
# gunicorn's settings: the project's gunicorn.conf.py, or the layer's for an added project.
service_gunicorn_config() {
  if is_added_service "$1"; then echo python:sso_shared.added_services.gunicorn; else echo gunicorn.conf.py; fi
}
# The one folder a service writes its uploads to (MEDIA_ROOT), which nginx serves at /NAME/media/.
service_media_dir() { echo "$STATE/media/$1"; }

# Where each service answers, in one line: "a: URL/a/   b: URL/b/" for the site at URL.
say_service_urls() {
  local base=$1 service line=""
  for service in "${SERVICES[@]}"; do line+="$service: $base$service/   "; done
  say "${line%   }"
}

# A path of the declaration (a project folder, a requirements file): absolute, or from this checkout.
declared_path() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }

# The service's Django project folder (the one with manage.py).
service_project_dir() { declared_path "${SERVICE_PROJECT[$1]}"; }
service_requirements() { declared_path "${SERVICE_REQUIREMENTS[$1]}"; }

# Compose and Swarm run the projects their app image holds, this checkout's own (system_a, system_b):
# a project added with ./stack add-service runs with the native stack only, for now, and so does a
# service whose project the image does not hold. require_supported_services MODE
require_supported_services() {
  [ "$1" != native ] || return 0
  local service
  for service in "${SERVICES[@]}"; do
    if is_added_service "$service"; then
      die "$service was added with ./stack add-service: such a project runs with the native stack only for now (./stack up --native; docs/adding-a-service.md). Nothing was started."
    fi
    case "${SERVICE_PROJECT[$service]}" in
      system_a | system_b) ;;
      *) die "the app image holds the projects system_a and system_b only, not $service's (${SERVICE_PROJECT[$service]}): run it with ./stack up --native, or add it with ./stack add-service. Nothing was started." ;;
    esac
  done
}

read_declared_services
