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
# likewise, as sso_maintenance (uid 10004, the maintenance container's); each service role only
# its own database and the shared one, from the network. provision.sql's grants agree. The
# *_restoring databases exist only during ./stack restore, which fills each as its owner
# (scripts/database-owners.sh).
write_pg_hba() {
  cat >"$PGDATA/pg_hba.conf" <<'HBA'
# Written by the db image's entrypoint on every start (docker/db-entrypoint.sh).
local   all                                   postgres                  peer
local   sso,sso_restoring,sso_auth            sso_migrator              peer
local   sso                                   sso_maintenance           peer
host    sso,sso_restoring,system_a            system_a        all       scram-sha-256
host    sso,sso_restoring,system_b            system_b        all       scram-sha-256
HBA
}

# The passwords reach psql through its environment (provision.sql reads them with \getenv).
# run_provision_sql [DATABASE]: the site's database, or another one (a restore's copy).
run_provision_sql() {
  SYSTEM_A_DB_PASSWORD=$(read_secret SYSTEM_A_DB_PASSWORD) SYSTEM_B_DB_PASSWORD=$(read_secret SYSTEM_B_DB_PASSWORD) \
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -U postgres -d postgres \
    -v site_database="${1:-sso}" -f /usr/local/share/sso/provision.sql
}

provision() {
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  run_provision_sql
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
}

if [ "${1:-}" = provision ]; then
  run_provision_sql "${2:-}"
  exit 0
fi

require POSTGRES_PASSWORD
require SYSTEM_A_DB_PASSWORD
require SYSTEM_B_DB_PASSWORD
init_cluster
write_pg_hba
provision
echo "sso-db: roles and databases ready; starting PostgreSQL"
exec postgres -D "$PGDATA" -c listen_addresses='*' \
  -c unix_socket_directories="/var/run/postgresql,${MIGRATE_SOCKET_DIR:-/run/postgresql-migrate}"
