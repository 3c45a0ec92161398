#!/usr/bin/env bash
# Entry point of the app image: one image, three roles.
#   sso serve NAME        wait until the migrate job has migrated, then run service NAME under
#                         gunicorn, which registers its fingerprint first (A: and its login workers)
#   sso migrate           migrate the shared schema and each service's own, under the lock
#                         (as the migration role, over the db's migrate socket: compose.yaml)
#   sso manage NAME ARGS  run manage.py of service NAME
#   sso housekeeping [--once]  run manage.py sso_housekeeping now and every SSO_HOUSEKEEPING_INTERVAL
#                         seconds (--once: now only), as the maintenance role over the db's local socket
# The services are those the image's services.toml declares (SSO_SERVICES_FILE). Each connects
# with its own role: SYSTEM_NAME_DB_PASSWORD (or its *_FILE, as compose.yaml gives it) becomes
# DB_USER/DB_PASSWORD(_FILE) for that service only.
set -euo pipefail

# The declared services and their project folders under /app (the reader says what is wrong).
SERVICES=()
declare -A SERVICE_PROJECT=() SERVICE_SETTINGS=()
declared=$(python -m sso_shared.environment.services table) || exit 1
while IFS=$'\t' read -r name project settings _kind _requirements; do
  SERVICES+=("$name")
  SERVICE_PROJECT[$name]=$project
  SERVICE_SETTINGS[$name]=$settings
done <<<"$declared"

# Compose writes no file for a secret whose variable is empty (SECRET_KEY= in .env), yet names it
# in SECRET_KEY_FILE: such a secret is simply not set, and the settings then say what to do.
for secret_file_var in SECRET_KEY_FILE SECRET_KEY_FALLBACKS_FILE; do
  case "${!secret_file_var:-}" in
    /run/secrets/*) [ -e "${!secret_file_var}" ] || unset "$secret_file_var" ;;
  esac
done

with_service_env() {
  local service=$1
  shift
  if [ -z "${SERVICE_PROJECT[$service]:-}" ]; then
    echo "unknown service '$service' (services.toml declares: ${SERVICES[*]})" >&2
    exit 2
  fi
  local password_var="SYSTEM_${service^^}_DB_PASSWORD" password_file_var="SYSTEM_${service^^}_DB_PASSWORD_FILE"
  cd "/app/${SERVICE_PROJECT[$service]}"
  # The settings it runs with, as services.toml says (gunicorn's start check reads them too).
  export SSO_SERVICE=$service DJANGO_SETTINGS_MODULE=${SERVICE_SETTINGS[$service]}
  export DB_USER="system_$service" DB_NAME=${DB_NAME:-sso} DB_SCHEMA="system_$service"
  # The site's names (as nginx serves them), plus the loopback names the healthcheck uses.
  local names=${SERVER_NAMES:-127.0.0.1 localhost}
  export ALLOWED_HOSTS="127.0.0.1,localhost,${names// /,}"
  export SECURE_COOKIES=${SECURE_COOKIES:-false}
  if [ -n "${!password_file_var:-}" ]; then
    export DB_PASSWORD_FILE=${!password_file_var}
  else
    export DB_PASSWORD=${!password_var:-}
  fi
  "$@"
}

# A service may not change the shared tables' schema (db/provision.sql): it waits for the
# migrate job, which on an upgrade waits for the old containers to stop, which Compose does
# while it replaces them. docs/operations.md
serve() {
  (with_service_env "$1" python manage.py sso_wait_for_migrations --timeout "${SCHEMA_WAIT_SECONDS:-300}")
  local drain=${SSO_STOP_DRAIN_SECONDS:-0}
  if [ "$1" = a ]; then
    serve_with_login_workers "$drain"
  fi
  if [ "$drain" = 0 ]; then
    with_service_env "$1" exec gunicorn -c gunicorn.conf.py
  fi
  # Under Swarm (compose.swarm.yaml) a task told to stop leaves the service's DNS answer, but nginx
  # may still hold an answer that names it for a moment. gunicorn stops accepting at once on TERM,
  # and a request already queued on its socket is then reset: for a POST, a 502 nginx may not
  # retry. So TERM first waits SSO_STOP_DRAIN_SECONDS, still serving, then goes to gunicorn,
  # which finishes what it has (graceful_timeout). docs/swarm.md
  with_service_env "$1" gunicorn -c gunicorn.conf.py &
  local gunicorn_pid=$!
  trap 'sleep "$drain"; kill -TERM "$gunicorn_pid"' TERM
  trap 'kill -INT "$gunicorn_pid"' INT
  # The first wait returns when a signal's trap has run; the second one gets gunicorn's own status.
  wait "$gunicorn_pid" || true
  wait "$gunicorn_pid"
}

# System A runs two gunicorns side by side: its workers (port 8000) and its login workers (port 8001,
# system_a/gunicorn_login.conf.py), where nginx sends the POSTs of the forms that check a password,
# so logged-in users' pages never wait behind them (docs/login-protection.md, "Under a flood").
# A signal goes to both (after the drain, as above). One that ends by itself stops the other, and the
# container ends with a failure: its restart policy starts both again, as for any crashed service.
serve_with_login_workers() {
  local drain=$1 stopping="" status=0
  with_service_env a gunicorn -c gunicorn.conf.py &
  local pages_pid=$!
  with_service_env a gunicorn -c gunicorn_login.conf.py &
  local login_pid=$!
  trap 'stopping=1; sleep "$drain"; kill -TERM "$pages_pid" "$login_pid" 2>/dev/null || true' TERM
  trap 'stopping=1; kill -INT "$pages_pid" "$login_pid" 2>/dev/null || true' INT
  # Returns when a signal's trap has run, or when either gunicorn has ended.
  wait -n "$pages_pid" "$login_pid" || true
  if [ -z "$stopping" ]; then
    echo "sso: one of System A's gunicorns ended by itself; stopping the other" >&2
    kill -TERM "$pages_pid" "$login_pid" 2>/dev/null || true
    status=1
  fi
  wait "$pages_pid" || status=$?
  wait "$login_pid" || status=$?
  exit "$status"
}

# Each service's own database as that service's role; the shared one as the migration role.
migrate() {
  local service
  export AUTH_DB_USER=sso_migrator AUTH_DB_HOST=${MIGRATE_SOCKET_DIR:-/run/postgresql-migrate} AUTH_DB_ROLE=sso_auth
  for service in "${SERVICES[@]}"; do
    (with_service_env "$service" python manage.py sso_migrate --noinput --wait "${MIGRATE_WAIT_SECONDS:-120}")
  done
}

# The maintenance container (compose.yaml): expired sessions, old audit and lockout rows removed
# on a schedule. The shared database as the maintenance role (the one besides the owner that may
# delete audit events), over the db's local socket, as the OS user PostgreSQL lets in as it (uid
# 10004); System A's settings and role otherwise. /tmp/housekeeping-ok (its healthcheck) says the
# last run worked.
housekeeping() {
  local interval=${SSO_HOUSEKEEPING_INTERVAL:-3600}
  export AUTH_DB_USER=sso_maintenance AUTH_DB_HOST=${MIGRATE_SOCKET_DIR:-/run/postgresql-migrate}
  if [ "${1:-}" = --once ]; then
    with_service_env a python manage.py sso_housekeeping
    return
  fi
  (with_service_env a python manage.py sso_wait_for_migrations --timeout "${SCHEMA_WAIT_SECONDS:-300}")
  while true; do
    if (with_service_env a python manage.py sso_housekeeping); then
      touch /tmp/housekeeping-ok
    else
      rm -f /tmp/housekeeping-ok
      echo "housekeeping failed (see above); trying again in $interval s" >&2
    fi
    # In the background, so the TERM of `docker compose stop` ends the wait at once.
    sleep "$interval" &
    wait $!
  done
}

manage() {
  local service=${1:?usage: sso manage NAME ARGS...}
  shift
  with_service_env "$service" exec python manage.py "$@"
}

case "${1:-help}" in
  serve) serve "${2:?usage: sso serve NAME}" ;;
  migrate) migrate ;;
  housekeeping) housekeeping "${2:-}" ;;
  manage)
    shift
    manage "$@"
    ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' ;;
esac
