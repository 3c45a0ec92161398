#!/usr/bin/env bash
# Entry point of the db image: create the cluster once, (re)apply roles and
# databases on every start while listening on the local socket only (so no
# service can connect half-way), then run PostgreSQL in the foreground.
#   sso-db provision   (re)apply them to the running server (./stack restore does, after a restore)
set -euo pipefail

read_secret() {
  local name=$1 file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; else printf '%s' "${!name:-}"; fi
}

require() {
  local name=$1
  [ -n "$(read_secret "$name")" ] || {
    echo "sso-db: $name is not set. Run ./stack env --force to write fresh random secrets into .env." >&2
    exit 1
  }
}

init_cluster() {
  [ -s "$PGDATA/PG_VERSION" ] && return 0
  echo "sso-db: creating the cluster in $PGDATA"
  local pwfile
  pwfile=$(mktemp)
  read_secret POSTGRES_PASSWORD >"$pwfile"
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" -E UTF8 --no-locale \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
}

# Who may connect to what, rewritten on every start so an older volume gets it too: the
# superuser only over the local socket (provisioning, the empty databases of a restore); the
# migration role only the shared database, over the socket in MIGRATE_SOCKET_DIR (a volume
# only the migrate job and the maintenance container mount) or from inside this container
# (backups), as the OS user sso_migrator (uid 10003, the migrate job's); the maintenance role
# likewise, as sso_maintenance (uid 10004, the maintenance container's); each declared service's
# role (SSO_SERVICES) only the site's database (and its own one of the layout before), from the
# network. The provisioning's grants agree. The *_restoring databases exist only during ./stack restore, which fills each as its owner
# (scripts/database-owners.sh).
write_pg_hba() {
  local service
  {
    cat <<'HBA'
# Written by the db image's entrypoint on every start (docker/db-entrypoint.sh).
local   all                                   postgres                  peer
local   sso,sso_restoring,sso_auth            sso_migrator              peer
local   sso                                   sso_maintenance           peer
HBA
    for service in $SSO_SERVICES; do
      printf 'host    sso,sso_restoring,system_%-15s system_%-8s all       scram-sha-256\n' "$service" "$service"
    done
  } >"$PGDATA/pg_hba.conf"
}

# The site's roles, database and shared schema, then each service's role and schema. The
# passwords reach psql through its environment (provision-service.sql reads it with \getenv).
# run_provision_sql [DATABASE]: the site's database, or another one (a restore's copy).
run_provision_sql() {
  local service
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -U postgres -d postgres \
    -v site_database="${1:-sso}" -f /usr/local/share/sso/provision.sql
  for service in $SSO_SERVICES; do
    SERVICE_DB_PASSWORD=$(read_secret "SYSTEM_${service^^}_DB_PASSWORD") \
      PGOPTIONS="-c client_min_messages=warning" psql -X -q -U postgres -d postgres \
      -v site_database="${1:-sso}" -v service="$service" -f /usr/local/share/sso/provision-service.sql
  done
}

provision() {
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  run_provision_sql
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
}

# The declared services (services.toml), by name: compose.yaml gives them.
SSO_SERVICES=${SSO_SERVICES:?SSO_SERVICES is not set: the declared services, as services.toml names them}
case "$SSO_SERVICES" in *[!a-z0-9\ ]* | " "* | "")
  echo "sso-db: SSO_SERVICES='$SSO_SERVICES' must be services' names separated by spaces" >&2
  exit 1
  ;;
esac

if [ "${1:-}" = provision ]; then
  run_provision_sql "${2:-}"
  exit 0
fi

require POSTGRES_PASSWORD
for service in $SSO_SERVICES; do require "SYSTEM_${service^^}_DB_PASSWORD"; done
init_cluster
write_pg_hba
provision
echo "sso-db: roles and databases ready; starting PostgreSQL"
exec postgres -D "$PGDATA" -c listen_addresses='*' \
  -c unix_socket_directories="/var/run/postgresql,${MIGRATE_SOCKET_DIR:-/run/postgresql-migrate}"
