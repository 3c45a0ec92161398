#!/usr/bin/env bash
# Entry point of the nginx image: render the one config template, then run nginx
# in the foreground. The config lives in /run (a tmpfs): the root filesystem is read-only.
set -euo pipefail

export LISTEN_PORT=${LISTEN_PORT:-8080} SERVER_NAMES=${SERVER_NAMES:-127.0.0.1 localhost}
# The services the image was built for (its services.toml, written at build time), each one's
# gunicorn at the container of the same name (system_NAME:8000; Swarm prefixes "tasks." to reach
# every replica), its static files in the image. UPSTREAM_NAME in the environment wins.
SERVICES=$(paste -sd " " /etc/nginx/sso/services)
export SERVICES
for service in $SERVICES; do
  upper=$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')
  upstream_variable=UPSTREAM_$upper
  export "$upstream_variable=${!upstream_variable:-${UPSTREAM_HOST_PREFIX:-}system_$service:8000}"
  export "STATIC_ROOT_$upper=/srv/static/$service"
done
# System A's login workers run in A's container, beside its workers (docker/app-entrypoint.sh).
export UPSTREAM_A_LOGIN=${UPSTREAM_A_LOGIN:-${UPSTREAM_HOST_PREFIX:-}system_a:8001}
# (Swarm mounts its tmpfs folders owned by root: compose.swarm.yaml gives NGINX_RUN_DIR=/tmp/nginx.)
export RUN_DIR=${NGINX_RUN_DIR:-/run/nginx}
export ERROR_LOG=stderr ACCESS_LOG=/dev/stdout
# HTTPS when compose mounts a certificate and key (STACK_TLS_CERT/STACK_TLS_KEY in .env); see render-config.sh.
export TLS_CERT=${TLS_CERT:-} TLS_KEY=${TLS_KEY:-} HTTPS_LISTEN_PORT=${HTTPS_LISTEN_PORT:-8443}
export HTTPS_PUBLIC_PORT=${HTTPS_PUBLIC_PORT:-$HTTPS_LISTEN_PORT}
# nginx runs as the image's user nginx, not root: the key must be readable by it.
if [ -n "$TLS_KEY" ] && [ -e "$TLS_KEY" ] && [ ! -r "$TLS_KEY" ]; then
  echo "sso-nginx: cannot read the TLS key (STACK_TLS_KEY): nginx runs as uid $(id -u)." \
    "Make the key readable by it, e.g. chown $(id -u) KEYFILE (keep mode 0600)." >&2
  exit 1
fi
mkdir -p "$RUN_DIR"
/etc/nginx/sso/render-config.sh /etc/nginx/sso/sso.conf.template >"$RUN_DIR/nginx.conf"
# -e: errors to stderr from the start, not to /var/log/nginx (which this user cannot write).
nginx -e stderr -t -q -c "$RUN_DIR/nginx.conf"
exec nginx -e stderr -c "$RUN_DIR/nginx.conf" -g 'daemon off;'
