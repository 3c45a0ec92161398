#!/usr/bin/env bash
# Entry point of the db image: create the cluster once, (re)apply roles and
# databases on every start while listening on the local socket only (so no
# service can connect half-way), then run PostgreSQL in the foreground.
set -euo pipefail

read_secret() {
  local name=$1 file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; else printf '%s' "${!name:-}"; fi
}

require() {
  local name=$1
  [ -n "$(read_secret "$name")" ] || {
    echo "sso-db: $name is not set. Run ./stack env to write .env with fresh random secrets." >&2
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
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
}

provision() {
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -U postgres -d postgres \
    -v a_password="$(read_secret SYSTEM_A_DB_PASSWORD)" -v b_password="$(read_secret SYSTEM_B_DB_PASSWORD)" \
    -f /usr/local/share/sso/provision.sql
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
}

require POSTGRES_PASSWORD
require SYSTEM_A_DB_PASSWORD
require SYSTEM_B_DB_PASSWORD
init_cluster
provision
echo "sso-db: roles and databases ready; starting PostgreSQL"
exec postgres -D "$PGDATA" -c listen_addresses='*'
