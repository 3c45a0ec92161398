# ./stack add-service NAME PATH [--settings MODULE] [--title TITLE] [--requirements FILE]
#                     [--access everyone|group:GROUP]
# ./stack remove-service NAME [--volumes]
# An existing Django project (a folder with manage.py) becomes service NAME at /NAME/, its files left as
# they are: services.toml gains its table (layer = true), and the shared layer (sso_shared.added_services)
# runs it under the one login. Every check comes before the declaration changes; a running stack starts
# it. remove-service takes the table out and stops it; --volumes also drops its schema, role and
# uploads. docs/adding-a-service.md

add_service_usage() {
  die "usage: ./stack add-service NAME PATH [--settings MODULE] [--title TITLE] [--requirements FILE] [--access everyone|group:GROUP]"
}

# How services.toml names a path: from this checkout when it is inside it, else absolute.
declaration_path_of() {
  local path
  path=$(realpath -m "$1")
  case "$path" in "$ROOT"/*) echo "${path#"$ROOT"/}" ;; *) echo "$path" ;; esac
}

cmd_add_service() {
  local name=${1:-} path=${2:-} settings="" title="" requirements="" access=everyone
  [ -n "$name" ] && [ -n "$path" ] || add_service_usage
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --settings | --title | --requirements | --access)
        [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
        case "$1" in
          --settings) settings=$2 ;;
          --title) title=$2 ;;
          --requirements) requirements=$2 ;;
          --access) access=$2 ;;
        esac
        shift 2
        ;;
      *) add_service_usage ;;
    esac
  done
  ! is_declared_service "$name" || die "$SSO_SERVICES_FILE declares $name already (./stack remove-service $name first)."
  # The project: its folder and settings module (shared/sso_shared/added_services/project.py).
  local found folder module
  found=$(python3 -I "$ROOT/shared/sso_shared/added_services/project.py" "$path" ${settings:+--settings "$settings"}) ||
    die "$path cannot be added (above). Nothing was changed."
  IFS=$'\t' read -r folder module <<<"$found"
  requirements=${requirements:-$folder/requirements.txt}
  [ -f "$requirements" ] ||
    die "no requirements file at $requirements: give the project's with --requirements FILE. Nothing was changed."
  step "Python environment ready in $VENV" ensure_python_env
  "$PY" -m sso_shared.added_services.requirements "$requirements" "$(runtime_requirements)" ||
    die "the requirements of $folder disagree with the site's pins (above). Nothing was changed."

  # The declaration as it will be, tried first in a scratch copy (services_declaration.py reads it back).
  local candidate
  mkdir -p "$STATE"
  candidate="$STATE/services.toml.adding"
  python3 -I "$ROOT/scripts/services_declaration.py" add "$SSO_SERVICES_FILE" "$candidate" "$name" \
    --title "${title:-$(basename "$folder")}" --project "$(declaration_path_of "$folder")" --settings "$module" \
    --requirements "$(declaration_path_of "$requirements")" --access "$access" ||
    die "$name cannot be declared (above). Nothing was changed."
  local declared=$SSO_SERVICES_FILE
  export SSO_SERVICES_FILE=$candidate
  read_declared_services
  step "Python environment of $name ready in $(service_venv "$name")" ensure_service_venv "$name" "$requirements"
  # Its OS user (as root), who must be able to read the project and run its Python.
  prepare_service_users
  # The project under the layer: its settings load (a user model of its own is refused there) and pass
  # Django's checks. With a throwaway database password when .env holds none for it yet.
  local password_var="SYSTEM_${name^^}_DB_PASSWORD"
  (
    [ -n "${!password_var:-}" ] || export "$password_var=$(head -c 32 /dev/urandom | base64 -w0)"
    with_service_env "$name" "$(service_python "$name")" manage.py check --fail-level ERROR >/dev/null
  ) || {
    rm -f "$candidate"
    die "$folder does not run under the shared layer (above). Nothing was declared."
  }
  mv -f "$candidate" "$declared"
  export SSO_SERVICES_FILE=$declared
  read_declared_services
  say "declared $name in $SSO_SERVICES_FILE (project $folder, settings $module, access: $access)"
  # Its database password, kept with the others (.env backed up first).
  if [ -f "$ENV_PATH" ] && ! envtool has "$ENV_PATH" "$password_var"; then
    envtool repair "$ENV_PATH" >/dev/null
  fi
  reload_env_file
  start_added_service "$name"
}

# A running stack starts the new service; otherwise the next ./stack up does.
start_added_service() {
  local name=$1 running
  select_compose_project || true
  running=$(running_modes)
  case "$running" in
    native) native_start_added_service "$name" ;;
    "") say "no stack runs here: ./stack up starts $name with the others." ;;
    *) die "$name is declared, but a $running stack cannot run an added project yet: ./stack up --native runs it (docs/adding-a-service.md)." ;;
  esac
}

remove_service_usage() { die "usage: ./stack remove-service NAME [--volumes]"; }

cmd_remove_service() {
  local name=${1:-} volumes=""
  [ -n "$name" ] || remove_service_usage
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --volumes) volumes=1 ;;
      *) remove_service_usage ;;
    esac
    shift
  done
  is_declared_service "$name" || die "$SSO_SERVICES_FILE declares no service $name (it declares ${SERVICES[*]})."
  [ "$name" != a ] || die "a serves the one login page: it cannot be removed."
  local running
  select_compose_project || true
  running=$(running_modes)
  case "$running" in
    native | "") ;;
    *) die "remove-service runs with the native stack only for now (a $running stack runs); nothing was changed." ;;
  esac
  local was_added=""
  is_added_service "$name" && was_added=1
  python3 -I "$ROOT/scripts/services_declaration.py" remove "$SSO_SERVICES_FILE" "$SSO_SERVICES_FILE" "$name" ||
    die "$name cannot be taken out of $SSO_SERVICES_FILE (above). Nothing was changed."
  say "took $name out of $SSO_SERVICES_FILE"
  [ "$running" != native ] || native_stop_removed_service "$name"
  if [ -n "$volumes" ]; then
    native_drop_service_data "$name" "$was_added"
  else
    say "its data is kept: schema system_$name, uploads in $(service_media_dir "$name") (./stack remove-service $name --volumes drops them)"
  fi
  read_declared_services
}
