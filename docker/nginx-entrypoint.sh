#!/usr/bin/env bash
# Entry point of the nginx image: render the one config template, then run nginx
# in the foreground. The config lives in /run (a tmpfs): the root filesystem is read-only.
set -euo pipefail

export LISTEN_PORT=${LISTEN_PORT:-8080} SERVER_NAMES=${SERVER_NAMES:-127.0.0.1 localhost}
export UPSTREAM_A=${UPSTREAM_A:-system_a:8000} UPSTREAM_B=${UPSTREAM_B:-system_b:8000}
export STATIC_ROOT_A=/srv/static/a STATIC_ROOT_B=/srv/static/b RUN_DIR=/run/nginx
export ERROR_LOG=stderr ACCESS_LOG=/dev/stdout
mkdir -p "$RUN_DIR"
/etc/nginx/sso/render-config.sh /etc/nginx/sso/sso.conf.template >"$RUN_DIR/nginx.conf"
nginx -t -q -c "$RUN_DIR/nginx.conf"
exec nginx -c "$RUN_DIR/nginx.conf" -g 'daemon off;'
