#!/usr/bin/env bash
# Make a self-signed certificate for trying HTTPS out (never for a real site: use
# a certificate from the site's own CA there).
#
#   nginx/make-test-cert.sh OUTDIR [HOST...]
#
# Writes OUTDIR/cert.pem and OUTDIR/key.pem, valid for the given host names and
# IP addresses (default: 127.0.0.1 localhost) for 30 days. Existing files are
# kept, so a running nginx never has its certificate swapped underneath it.
set -euo pipefail

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# subjectAltName entries: IP:... for addresses, DNS:... for names.
subject_alt_names() {
  local host entries=()
  for host in "$@"; do
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then entries+=("IP:$host"); else entries+=("DNS:$host"); fi
  done
  local IFS=,
  echo "${entries[*]}"
}

main() {
  [ $# -ge 1 ] || usage
  local outdir=$1
  shift
  [ $# -gt 0 ] || set -- 127.0.0.1 localhost
  if [ -e "$outdir/cert.pem" ] || [ -e "$outdir/key.pem" ]; then
    echo "$outdir/cert.pem or key.pem exists; keeping it (delete both to make new ones)." >&2
    return 0
  fi
  mkdir -p "$outdir"
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=$1" -addext "subjectAltName=$(subject_alt_names "$@")" \
      -addext "extendedKeyUsage=serverAuth" \
      -keyout "$outdir/key.pem" -out "$outdir/cert.pem" 2>/dev/null
  )
  chmod 644 "$outdir/cert.pem"
  echo "$outdir/cert.pem"
}

main "$@"
