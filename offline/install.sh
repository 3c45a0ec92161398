#!/usr/bin/env bash
# Offline installer: run from the unpacked bundle. It makes no network call at all:
# it checks the bundle, loads its images, installs the files into a prefix, writes
# .env with fresh random secrets once, and starts the deployment with no pulls and
# no builds. Running it again (or with a newer bundle) is an upgrade: it first
# backs up all three databases into $PREFIX/backups/, then keeps the database
# volume and .env, migrations run under the lock, sessions stay valid.
#
#   ./install.sh [--prefix DIR]    (default: $SSO_HOME or /opt/sso)
set -euo pipefail

BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${SSO_HOME:-/opt/sso}
PROJECT=${STACK_COMPOSE_PROJECT:-sso}
MIN_DOCKER=20.10
MIN_COMPOSE=2.20

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() {
  printf 'install: %s\n' "$*" >&2
  exit 1
}
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

parse_arguments() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --prefix) PREFIX=${2:?--prefix needs a folder} && shift ;;
      -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
      *) die "unknown option $1 (usage: ./install.sh [--prefix DIR])" ;;
    esac
    shift
  done
}

require_docker() {
  command -v docker >/dev/null || die "Docker is not installed. Install Docker Engine >= $MIN_DOCKER and Compose v2 >= $MIN_COMPOSE."
  local engine compose
  engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null) ||
    die "the Docker engine does not answer (is dockerd running, and may this user use it?)."
  version_at_least "${engine%%[-+]*}" "$MIN_DOCKER" || die "Docker Engine $engine is too old: $MIN_DOCKER or newer is needed."
  compose=$(docker compose version --short 2>/dev/null) ||
    die "Docker Compose v2 is not installed (the 'docker compose' plugin, $MIN_COMPOSE or newer)."
  compose=${compose#v}
  version_at_least "${compose%%[-+]*}" "$MIN_COMPOSE" || die "Docker Compose $compose is too old: $MIN_COMPOSE or newer is needed."
}

verify_checksums() {
  say "verifying $(wc -l <"$BUNDLE/SHA256SUMS") files against SHA256SUMS"
  local failures
  if ! failures=$(cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS 2>&1); then
    printf '%s\n' "$failures" >&2
    die "the bundle is damaged (checksum failed above). Nothing was changed; copy the bundle again."
  fi
}

deployment_running() { [ -n "$(docker compose -p "$PROJECT" ps -q nginx 2>/dev/null)" ]; }

check_port() {
  local port=${STACK_PORT:-}
  [ -n "$port" ] || [ ! -f "$PREFIX/.env" ] || port=$(sed -n 's/^STACK_PORT=//p' "$PREFIX/.env" | tail -1)
  port=${port:-8080}
  deployment_running && return 0 # our own nginx holds it: an upgrade
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use by another program. Free it, or set STACK_PORT=<free port> in $PREFIX/.env. Nothing was changed."
  fi
}

load_images() {
  say "loading the images"
  docker load -q -i "$BUNDLE/images/sso-images.tar" >&2
}

installed_before() { [ -f "$PREFIX/compose.yaml" ] && [ -f "$PREFIX/.env" ]; }

# An upgrade first dumps all three databases of the install it replaces, with that
# install's own files and images, so the previous bundle plus this backup is a way
# back (docs/operations.md, "Rolling back an upgrade"). Nothing is changed before.
backup_databases() {
  installed_before || return 0
  local dir db
  dir="$PREFIX/backups/$(date -u +%Y%m%dT%H%M%SZ)"
  say "backing up the databases of the current install to $dir"
  (umask 077 && mkdir -p "$dir")
  (
    cd "$PREFIX"
    unset SSO_VERSION # the installed compose.yaml names its own images
    docker compose -f compose.yaml -p "$PROJECT" --env-file .env up -d --wait --pull never --no-build db >&2
    for db in sso_auth system_a system_b; do
      docker compose -f compose.yaml -p "$PROJECT" --env-file .env exec -T db pg_dump -U postgres -Fc "$db" \
        >"$dir/$db.dump" || die "the backup of $db failed; nothing was changed."
    done
    sed -n 's/^bundle //p' MANIFEST >"$dir/FROM-BUNDLE" 2>/dev/null || true
  )
  BACKUP_DIR=$dir
}

# Copy the release into the prefix; .env and local state there are never touched.
install_files() {
  say "installing into $PREFIX"
  mkdir -p "$PREFIX"
  tar -C "$BUNDLE" --exclude=./images -cf - . | tar -C "$PREFIX" -xf -
  "$BUNDLE/write-env.sh" "$PREFIX/.env"
}

start_deployment() {
  say "starting the deployment (no pulls, no builds)"
  cd "$PREFIX"
  # This bundle's images, whatever SSO_VERSION the calling shell may carry.
  local files=(-f compose.yaml)
  # HTTPS when .env names a certificate (README "HTTPS").
  grep -q '^STACK_TLS_CERT=.' .env && files+=(-f compose.https.yaml)
  SSO_VERSION=$(sed -n 's/^bundle [^ ]* //p' "$BUNDLE/MANIFEST") \
    docker compose "${files[@]}" -p "$PROJECT" --env-file .env up -d --wait --wait-timeout 300 --pull never --no-build || {
    docker compose -p "$PROJECT" --env-file .env logs --no-log-prefix --tail 5 migrate >&2 || true
    die "the deployment did not become healthy; see: cd $PREFIX && docker compose -p $PROJECT logs"
  }
  # So that ./stack manage / status / down work from the prefix.
  mkdir -p .stack/dev
  echo compose >.stack/dev/mode
  echo "$PROJECT" >.stack/dev/compose-project
}

print_next_steps() {
  local port
  port=${STACK_PORT:-$(sed -n 's/^STACK_PORT=//p' "$PREFIX/.env" | tail -1)}
  cat <<TEXT

Installed $(sed -n 's/^bundle //p' "$BUNDLE/MANIFEST") in $PREFIX; all services are healthy.${BACKUP_DIR:+
The databases as they were before this upgrade are in $BACKUP_DIR
(to roll back, see docs/operations.md in $PREFIX, "Rolling back an upgrade").}
Open http://127.0.0.1:${port:-8080}/a/  (set SERVER_NAMES and STACK_BIND in $PREFIX/.env to serve other names)
Create the first administrator:
    cd $PREFIX && ./stack manage a createsuperuser
TEXT
}

main() {
  parse_arguments "$@"
  require_docker
  verify_checksums
  check_port
  load_images
  backup_databases
  install_files
  start_deployment
  print_next_steps
}

main "$@"
