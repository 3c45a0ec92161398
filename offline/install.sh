#!/usr/bin/env bash
# Offline installer: run as root from the unpacked bundle. It makes no network call
# at all: it copies the bundle into a private folder, checks the signature of its
# SHA256SUMS with the site's public key and every file against it (refusing any file
# it does not list), loads the images, installs the files into a prefix (owned by
# root), writes .env with fresh random secrets once, and starts the deployment with
# no pulls and no builds. Running it again (or with a newer bundle) is an upgrade: it
# first backs up all three databases into $PREFIX/backups/, then keeps the database
# volume and .env, migrations run under the lock, sessions stay valid.
# The install is one deployment with a name of its own (SSO_DEPLOYMENT in .env: its Compose
# project, images and volumes carry it): the environment's SSO_DEPLOYMENT for a new install, else
# one made from the prefix's folder name; an install of the previous release keeps the project
# it ran under.
#
#   ./install.sh --public-key FILE [--prefix DIR]   (prefix: $SSO_HOME or /opt/sso)
#   The key is pinned in the prefix: later installs there may leave --public-key out.
set -euo pipefail

BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${SSO_HOME:-/opt/sso}
PUBLIC_KEY=
# Signed by the builder: the signature covers SHA256SUMS, and SHA256SUMS every other file.
SIGNED_FILES=(SHA256SUMS SHA256SUMS.minisig)
PROJECT=     # the deployment's name: choose_deployment
RECORD_NAME= # set when an install of the previous release gets its name recorded
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
      --public-key) PUBLIC_KEY=${2:?--public-key needs a public key file} && shift ;;
      -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
      *) die "unknown option $1 (usage: ./install.sh --public-key FILE [--prefix DIR])" ;;
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

pinned_key() { echo "$PREFIX/bundle-signing.pub"; }

# The key that decides what may be installed: the one given, or the one the first
# install pinned. A different key than the pinned one is refused: replacing the site's
# key is a decision someone makes by removing the pinned one.
choose_public_key() {
  local pinned
  pinned=$(pinned_key)
  if [ -z "$PUBLIC_KEY" ]; then
    [ -f "$pinned" ] || die "no public key to check the bundle with. Give the site's bundle-signing public key: ./install.sh --public-key FILE (it was made with ./stack bundle-key on the build machine). Nothing was changed."
    PUBLIC_KEY=$pinned
    return 0
  fi
  [ -f "$PUBLIC_KEY" ] || die "no such public key file: $PUBLIC_KEY. Nothing was changed."
  if [ -f "$pinned" ] && ! cmp -s "$PUBLIC_KEY" "$pinned"; then
    die "$PUBLIC_KEY is not the key pinned in $pinned by an earlier install. If the site's signing key was replaced on purpose, remove $pinned first. Nothing was changed."
  fi
}

# Everything below reads the bundle from a copy only root can change, so what was
# verified is what gets installed, whoever owns (and may still change) the unpacked bundle.
stage_bundle() {
  STAGE=$(mktemp -d "${TMPDIR:-/var/tmp}/sso-install.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder to remove is known now
  trap "rm -rf '$STAGE'" EXIT
  tar -C "$BUNDLE" -cf - . | tar -C "$STAGE" --no-same-owner --no-same-permissions -xf -
}

verify_signature() {
  command -v minisign >/dev/null ||
    die "checking the bundle's signature needs minisign: install the Debian package minisign (apt-get install minisign, from your site's Debian mirror or media). Nothing was changed."
  [ -f "$STAGE/SHA256SUMS.minisig" ] ||
    die "the bundle is not signed (no SHA256SUMS.minisig). Install only bundles made by ./stack bundle with the site's key. Nothing was changed."
  local output
  if ! output=$(minisign -V -q -p "$PUBLIC_KEY" -m "$STAGE/SHA256SUMS" -x "$STAGE/SHA256SUMS.minisig" 2>&1); then
    printf '%s\n' "$output" >&2
    die "the bundle's signature does not match the public key $PUBLIC_KEY: it was not signed with the site's key, or SHA256SUMS was changed. Nothing was changed."
  fi
  say "the signature of SHA256SUMS is good (key $PUBLIC_KEY)"
}

verify_checksums() {
  say "verifying $(wc -l <"$STAGE/SHA256SUMS") files against SHA256SUMS"
  local failures
  if ! failures=$(cd "$STAGE" && sha256sum --quiet --strict -c SHA256SUMS 2>&1); then
    printf '%s\n' "$failures" >&2
    die "the bundle is damaged (checksum failed above). Nothing was changed; copy the bundle again."
  fi
}

# sha256sum -c checks only what SHA256SUMS lists; anything else (a planted .env, a
# script, a symlink, an extra folder) would be installed unchecked, so it is refused.
listed_paths() {
  cut -c67- "$STAGE/SHA256SUMS"
  printf '%s\n' "${SIGNED_FILES[@]}"
}

listed_folders() {
  listed_paths | sed -n 's|/[^/]*$||p' | while IFS= read -r dir; do
    while [ -n "$dir" ]; do
      echo "$dir"
      [[ $dir == */* ]] && dir=${dir%/*} || dir=
    done
  done
}

refuse_unlisted_files() {
  local unlisted
  unlisted=$(
    cd "$STAGE"
    comm -13 <(listed_paths | LC_ALL=C sort -u) <(find . -mindepth 1 ! -type d -printf '%P\n' | LC_ALL=C sort)
    comm -13 <(listed_folders | LC_ALL=C sort -u) <(find . -mindepth 1 -type d -printf '%P\n' | LC_ALL=C sort)
  )
  if [ -n "$unlisted" ]; then
    sed 's/^/  not in SHA256SUMS: /' <<<"$unlisted" >&2
    die "the bundle holds files its signed SHA256SUMS does not list (above): someone added them after it was built. Nothing was changed; use an untouched copy of the bundle."
  fi
}

# The deployment's name (25-deployment.sh of ./stack says the same): the one .env records; an
# install of the previous release (no name in .env) keeps the project it ran under (recorded in
# .stack/dev/compose-project, else COMPOSE_PROJECT_NAME, else sso); a new one gets
# SSO_DEPLOYMENT from the environment, else a name made from the prefix's folder name.
choose_deployment() {
  # shellcheck source=scripts/deployment-name.sh
  source "$STAGE/deployment-name.sh"
  if [ -f "$PREFIX/.env" ]; then
    PROJECT=$(sed -n 's/^SSO_DEPLOYMENT=//p' "$PREFIX/.env" | tail -n 1)
    if [ -z "$PROJECT" ]; then
      PROJECT=$(cat "$PREFIX/.stack/dev/compose-project" 2>/dev/null || sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$PREFIX/.env" | tail -n 1)
      PROJECT=${PROJECT:-sso}
      RECORD_NAME=1
    fi
    [ -z "${SSO_DEPLOYMENT:-}" ] || [ "$SSO_DEPLOYMENT" = "$PROJECT" ] ||
      die "the install in $PREFIX is the deployment $PROJECT, not SSO_DEPLOYMENT=$SSO_DEPLOYMENT (your environment): unset it. Nothing was changed."
  else
    PROJECT=${SSO_DEPLOYMENT:-$(default_deployment_name "$PREFIX")}
  fi
  local problem
  problem=$(deployment_name_problem "$PROJECT")
  [ -z "$problem" ] || die "$PROJECT cannot name a deployment: $problem (SSO_DEPLOYMENT). Nothing was changed."
  say "deployment $PROJECT"
}

# Plain Compose in the prefix, as the deployment (COMPOSE_PROJECT_NAME too: releases of Compose
# before 2.27 interpolated it in compose.yaml from the environment only).
deployment_compose() { COMPOSE_PROJECT_NAME=$PROJECT docker compose -p "$PROJECT" "$@"; }

deployment_running() { [ -n "$(deployment_compose ps -q nginx 2>/dev/null)" ]; }

check_port() {
  local port=${STACK_PORT:-}
  [ -n "$port" ] || [ ! -f "$PREFIX/.env" ] || port=$(sed -n 's/^STACK_PORT=//p' "$PREFIX/.env" | tail -1)
  port=${port:-8080}
  deployment_running && return 0 # our own nginx holds it: an upgrade
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    # Another deployment on this host is named (scripts/port_holder.py, where python3 runs).
    local holder
    holder=$(python3 -I "$STAGE/scripts/port_holder.py" "$port" 2>/dev/null) || holder="another program"
    die "port $port is in use by ${holder:-another program}, not by the deployment $PROJECT ($PREFIX). Free it, or set STACK_PORT=<free port> in $PREFIX/.env. Nothing was changed."
  fi
}

load_images() {
  say "loading the images"
  docker load -q -i "$STAGE/images/sso-images.tar" >&2
}

# The bundle's images are sso/app:VERSION, ...; the deployment runs them as NAME/app:VERSION
# (compose.yaml names its images after the project). The bundle's own tags then go, unless its
# compose.yaml still runs them (a release before deployments had names) or a container does.
tag_images() {
  local image name
  while read -r image; do
    name="$PROJECT/${image#*/}"
    [ "$name" != "$image" ] || continue
    docker tag "$image" "$name"
    grep -qF '${COMPOSE_PROJECT_NAME}/' "$STAGE/compose.yaml" || continue
    docker ps -a --format '{{.Image}}' | grep -qxF "$image" || docker image rm "$image" >/dev/null
  done < <(sed -n 's/^image \([^ ]*\) .*/\1/p' "$STAGE/MANIFEST")
}

installed_before() { [ -f "$PREFIX/compose.yaml" ] && [ -f "$PREFIX/.env" ]; }

# An upgrade first dumps the site's data of the install it replaces (a dump per schema, or per
# database for a release before one database), with that install's own files and images, so the
# previous bundle plus this backup is a way back (docs/operations.md, "Rolling back an upgrade").
# Nothing is changed before. Each part is dumped as its owner, never as the superuser, as
# ./stack backup does (database-owners.sh, which sits beside this script in the bundle).
backup_databases() {
  installed_before || return 0
  local dir part
  dir="$PREFIX/backups/$(date -u +%Y%m%dT%H%M%SZ)"
  say "backing up the databases of the current install to $dir"
  (umask 077 && mkdir -p "$dir")
  (
    cd "$PREFIX"
    unset SSO_VERSION # the installed compose.yaml names its own images
    # (The installed release's services: compose.services.yaml, in a release that has one.)
    local files=(-f compose.yaml)
    [ ! -f compose.services.yaml ] || files+=(-f compose.services.yaml)
    compose() { deployment_compose "${files[@]}" --env-file .env "$@"; }
    # shellcheck source=../scripts/database-owners.sh
    source "$STAGE/database-owners.sh"
    compose up -d --wait --pull never --no-build db >&2
    # The layout the install has: the schemas of one database (shared.dump, system_a.dump,
    # system_b.dump), or the three databases of the releases before it. (The superuser only reads
    # the catalog here.)
    local has_site
    has_site=$(compose exec -T db psql -X -q -U postgres -d postgres -tA -c \
      "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = '$SITE_DATABASE'") ||
      die "could not ask the install's PostgreSQL which databases it holds; nothing was changed."
    if [ "$has_site" = 1 ]; then
      has_site=$(compose exec -T db psql -X -q -U postgres -d "$SITE_DATABASE" -tA -c \
        "SELECT pg_catalog.to_regclass('shared.sso_user') IS NOT NULL") || has_site=f
    fi
    if [ "$has_site" = t ]; then
      # The installed release's services (service-names; a release before it served a and b).
      local installed_services
      installed_services=$(cat service-names 2>/dev/null || echo a b)
      # shellcheck disable=SC2086 # the names, one word each
      for part in $(site_schemas $installed_services); do
        dump_schema compose "$part" >"$dir/$part.dump" || die "the backup of schema $part failed; nothing was changed."
      done
    else
      for part in "${LEGACY_DATABASES[@]}"; do
        dump_database compose "$part" >"$dir/$part.dump" || die "the backup of $part failed; nothing was changed."
      done
    fi
    sed -n 's/^bundle //p' MANIFEST >"$dir/FROM-BUNDLE" 2>/dev/null || true
  )
  BACKUP_DIR=$dir
}

# The prefix and the release in it belong to root and only root may change them
# (root runs them later), whoever owned the bundle; .env and backups/ keep their own modes.
install_files() {
  say "installing into $PREFIX"
  (umask 022 && mkdir -p "$PREFIX")
  chown root:root "$PREFIX" && chmod go-w "$PREFIX"
  tar -C "$STAGE" --exclude=./images --exclude=./SHA256SUMS.minisig -cf - . |
    (umask 022 && tar -C "$PREFIX" --no-same-owner --no-same-permissions -xf -)
  local entry
  for entry in "$STAGE"/* "$STAGE"/.[!.]*; do
    [ -e "$entry" ] || continue
    entry=${entry##*/}
    [ "$entry" = images ] || [ "$entry" = SHA256SUMS.minisig ] && continue
    chown -R root:root "$PREFIX/$entry" && chmod -R go-w "$PREFIX/$entry"
  done
  # The first install pins the key; later ones were checked against it (choose_public_key).
  [ -f "$(pinned_key)" ] || install -m 0644 -o root -g root "$PUBLIC_KEY" "$(pinned_key)"
  # A release without a file of its services (before services.toml) must not meet a newer one's.
  [ -f "$STAGE/compose.services.yaml" ] || rm -f "$PREFIX/compose.services.yaml" "$PREFIX/compose.base.yaml"
  # The release's services (service-names, from its services.toml when the bundle was made).
  SSO_DEPLOYMENT=$PROJECT SSO_SERVICE_NAMES=$(cat "$STAGE/service-names") \
    "$STAGE/write-env.sh" "$PREFIX/.env" "$PREFIX"
  record_deployment_name
  record_compose_files
}

# The Compose files this release runs (its services' file, the HTTPS one when .env names a
# certificate), in the order given; also in .env's COMPOSE_FILE for plain `docker compose`.
release_compose_files() {
  local files=compose.yaml
  [ ! -f "$PREFIX/compose.services.yaml" ] || files+=:compose.services.yaml
  ! grep -q '^STACK_TLS_CERT=.' "$PREFIX/.env" || files+=:compose.https.yaml
  echo "$files"
}

# .env's COMPOSE_FILE names them: written when missing, brought up to date when it names only
# files of this deployment's own (an earlier release's); another value is the site's, and is kept.
record_compose_files() {
  local wanted current
  wanted=$(release_compose_files)
  current=$(sed -n 's/^COMPOSE_FILE=//p' "$PREFIX/.env" | tail -n 1)
  case "$current" in
    "$wanted") ;;
    "")
      [ -z "$(tail -c 1 "$PREFIX/.env")" ] || echo >>"$PREFIX/.env"
      printf '# Recorded by install.sh: the Compose files of this release, for plain docker compose\nCOMPOSE_FILE=%s\n' \
        "$wanted" >>"$PREFIX/.env"
      ;;
    compose.yaml | compose.yaml:compose.https.yaml | compose.yaml:compose.services.yaml | compose.yaml:compose.services.yaml:compose.https.yaml)
      sed -i "s/^COMPOSE_FILE=.*/COMPOSE_FILE=$wanted/" "$PREFIX/.env"
      ;;
    *) say "note: .env says COMPOSE_FILE=$current; plain docker compose runs this release with COMPOSE_FILE=$wanted" ;;
  esac
}

# An install of the previous release: its .env gets the name it ran under (./stack reads it there).
record_deployment_name() {
  [ -n "${RECORD_NAME:-}" ] || return 0
  [ -z "$(tail -c 1 "$PREFIX/.env")" ] || echo >>"$PREFIX/.env"
  printf '# Recorded by install.sh: the name this deployment ran under before deployments had names of their own; keep it\nSSO_DEPLOYMENT=%s\n' \
    "$PROJECT" >>"$PREFIX/.env"
}

start_deployment() {
  say "starting the deployment (no pulls, no builds)"
  cd "$PREFIX"
  # This bundle's images, whatever SSO_VERSION the calling shell may carry. HTTPS when .env names
  # a certificate (docs/docker.md, "HTTPS with Docker Compose").
  local files=() file
  for file in $(release_compose_files | tr ':' ' '); do files+=(-f "$file"); done
  # An install of a release before one database keeps its data in three databases: backed up (into
  # backups/) and moved into the schemas of one database first, as ./stack up does (55-backup.sh).
  SSO_VERSION=$(sed -n 's/^bundle [^ ]* //p' "$STAGE/MANIFEST") "$PREFIX/stack" _move-to-schemas ||
    die "the move of this install's data into the schemas of one database failed (above); the databases are as they were. Run this installer again to try again."
  SSO_VERSION=$(sed -n 's/^bundle [^ ]* //p' "$STAGE/MANIFEST") \
    deployment_compose "${files[@]}" --env-file .env up -d --wait --wait-timeout 300 --pull never --no-build || {
    deployment_compose --env-file .env logs --no-log-prefix --tail 5 migrate >&2 || true
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

Installed $(sed -n 's/^bundle //p' "$STAGE/MANIFEST") in $PREFIX; all services are healthy.${BACKUP_DIR:+
The databases as they were before this upgrade are in $BACKUP_DIR
(to roll back, see docs/operations.md in $PREFIX, "Rolling back an upgrade").}
Open http://127.0.0.1:${port:-8080}/a/  (set SERVER_NAMES and STACK_BIND in $PREFIX/.env to serve other names)
Create the first administrator:
    cd $PREFIX && ./stack manage a createsuperuser
TEXT
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run it as root (sudo ./install.sh ...): the installed files must belong to root."
}

# Root writes into the prefix (the release, .env, backups/, .stack/): only where no one else may
# write, or it could write through a link someone planted there. An existing prefix, and each of
# those folders in it, must be root's, no link, and closed to group and others' writes; one that
# is not is refused, not taken over.
require_root_only_prefix() {
  local path owner parent
  # (Nor may anyone else rename the prefix away: its folder is root's, or sticky like /tmp.)
  parent=$(dirname "$PREFIX")
  if [ -e "$parent" ] && { [ "$(stat -L -c %U "$parent")" != root ] || [ -n "$(find -L "$parent" -maxdepth 0 -perm /022 ! -perm -1000)" ]; }; then
    die "$parent, the folder of the prefix, may be changed by others than root (owner $(stat -L -c %U "$parent"), $(stat -L -c %A "$parent")): choose a prefix in a folder only root may change. Nothing was changed."
  fi
  for path in "$PREFIX" "$PREFIX/backups" "$PREFIX/.stack" "$PREFIX/.stack/dev"; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    owner=$(stat -c %U "$path")
    if [ -L "$path" ] || [ ! -d "$path" ] || [ "$owner" != root ] || [ -n "$(find "$path" -maxdepth 0 -perm /022)" ]; then
      die "$path is not a folder only root may write to (owner $owner, $(stat -c %A "$path")): root would write into it. Choose another --prefix, or make it root's (chown root:root, chmod go-w) if you trust everything in it. Nothing was changed."
    fi
  done
}

main() {
  parse_arguments "$@"
  require_root
  require_root_only_prefix
  choose_public_key
  stage_bundle
  verify_signature
  verify_checksums
  refuse_unlisted_files
  require_docker
  choose_deployment
  check_port
  load_images
  tag_images
  backup_databases
  install_files
  start_deployment
  print_next_steps
}

main "$@"
