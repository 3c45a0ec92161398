# Install what is missing: Debian packages (as root) and the Python virtual environment.

NATIVE_PACKAGES=(python3-venv postgresql nginx gettext-base)

find_pg_bin() {
  local candidate
  if [ -n "${PG_BIN:-}" ]; then
    echo "$PG_BIN"
    return 0
  fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$candidate/initdb" ] && echo "$candidate" && return 0
  done
  return 1
}

native_tools_present() {
  find_pg_bin >/dev/null && command -v nginx >/dev/null && command -v envsubst >/dev/null &&
    command -v psql >/dev/null && "$(venv_python)" -c 'import ensurepip, venv' 2>/dev/null
}

apt_install() {
  say "installing Debian packages: $*"
  with_progress "apt-get update" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  with_progress "apt-get install" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ensure_native_packages() {
  native_tools_present && return 0
  if is_root && command -v apt-get >/dev/null; then
    apt_install "${NATIVE_PACKAGES[@]}"
    native_tools_present || die "installed ${NATIVE_PACKAGES[*]} but PostgreSQL, nginx or envsubst is still missing."
  else
    die "the native stack needs: ${NATIVE_PACKAGES[*]}. Install them with: sudo apt-get install -y ${NATIVE_PACKAGES[*]}"
  fi
}

# What ./stack test needs beyond the native stack: a browser for the walkthrough
# (Debian's, never a downloaded one), openssl for the test certificate and minisign
# for the signed offline bundle.
TEST_PACKAGES=(chromium fonts-dejavu-core openssl minisign)

ensure_test_packages() {
  command -v chromium >/dev/null && command -v openssl >/dev/null && command -v minisign >/dev/null && return 0
  if is_root && command -v apt-get >/dev/null; then
    apt_install "${TEST_PACKAGES[@]}"
  else
    die "the tests need: ${TEST_PACKAGES[*]}. Install them with: sudo apt-get install -y ${TEST_PACKAGES[*]}"
  fi
}

# The runtime pins: requirements.txt, or the file STACK_REQUIREMENTS names (the upgrade
# tests start a site on the previous Django patch release that way).
runtime_requirements() { echo "${STACK_REQUIREMENTS:-$ROOT/requirements.txt}"; }

requirements_digest() {
  cat "$(runtime_requirements)" "$ROOT/requirements-dev.txt" "$ROOT/shared/pyproject.toml" | sha256sum | cut -d' ' -f1
}

# A virtual environment with the pinned packages, rebuilt when a pin changes:
# "runtime" (requirements.txt: enough to run the native stack) or "dev" (plus
# the test and lint tools). With STACK_WHEELHOUSE set, packages come only from
# that folder (the offline bundle's wheels), never from an index.
# The interpreter the venv is made from. As root the services run as users of their
# own, who cannot reach a Python under root's home (pyenv, say): Debian's, then.
venv_python() {
  if [ -n "${STACK_PYTHON:-}" ]; then echo "$STACK_PYTHON"
  elif is_root && [ -x /usr/bin/python3 ]; then echo /usr/bin/python3
  else command -v python3; fi
}

ensure_python_env() {
  local kind=${1:-runtime} stamp="$VENV/.requirements" digest python recorded
  digest=$(requirements_digest)
  python=$(venv_python)
  recorded=$(cat "$stamp" 2>/dev/null || true)
  case "$recorded" in
    "dev:$digest:$python") return 0 ;;
    "runtime:$digest:$python") [ "$kind" = runtime ] && return 0 ;;
  esac
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    if is_root && command -v apt-get >/dev/null; then apt_install python3-venv; else
      die "Python's venv module is missing. Install it with: sudo apt-get install -y python3-venv"
    fi
  fi
  say "preparing the Python environment in $VENV ($kind packages, $python; a few minutes the first time)"
  local clear=()
  # Made from another interpreter (or before it was recorded): start it afresh.
  [ -z "$recorded" ] || [ "${recorded##*:}" = "$python" ] || clear=(--clear)
  "$python" -m venv "${clear[@]}" "$VENV"
  if [ -n "${STACK_WHEELHOUSE:-}" ]; then
    [ "$kind" = runtime ] || die "the wheelhouse holds runtime packages only; ./stack test needs an index."
    with_progress "pip install (wheelhouse)" "$PY" -m pip install --progress-bar off --no-index \
      --find-links "$STACK_WHEELHOUSE" -r "$(runtime_requirements)" sso-shared
  else
    local requirements
    requirements=$(runtime_requirements)
    [ "$kind" = dev ] && requirements="$ROOT/requirements-dev.txt"
    with_progress "pip install --upgrade pip" "$PY" -m pip install --progress-bar off --upgrade pip
    with_progress "pip install" "$PY" -m pip install --progress-bar off -r "$requirements" -e "$ROOT/shared"
  fi
  echo "$kind:$digest:$python" >"$stamp"
}

# The virtual environment of a project added with ./stack add-service: the site's pins and the shared
# package, and its own requirements with the site's pins as constraints (one Django, one sso_shared for
# every service), rebuilt when either changes. REQUIREMENTS is the project's file.
ensure_service_venv() {
  local service=$1 requirements=$2 dir stamp digest python
  dir=$(service_venv "$service")
  stamp="$dir/.requirements"
  python=$(venv_python)
  [ -f "$requirements" ] || die "no requirements file $requirements, which $SSO_SERVICES_FILE names for $service."
  digest=$(cat "$(runtime_requirements)" "$requirements" "$ROOT/shared/pyproject.toml" | sha256sum | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" != "$digest:$python" ] || return 0
  say "preparing the Python environment of $service in $dir (its requirements with the site's pins)"
  mkdir -p "$(dirname "$dir")"
  "$python" -m venv --clear "$dir"
  with_progress "pip install ($service)" "$dir/bin/python" -m pip install --progress-bar off \
    -c "$(runtime_requirements)" -r "$(runtime_requirements)" -r "$requirements" -e "$ROOT/shared" ||
    die "the requirements of $service ($requirements) could not be installed with the site's pins (above)."
  echo "$digest:$python" >"$stamp"
}
