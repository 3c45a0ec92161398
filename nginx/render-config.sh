#!/bin/sh
# Render the nginx configuration to stdout from environment variables.
# Used by ./stack for the native stack and by the nginx image's entrypoint, so
# both deployments run the same configuration. Only the listed variables are
# replaced; nginx's own $variables are left as they are.
#
# Always:
#   LISTEN_PORT        port for plain HTTP (the site, or with TLS only the redirect to HTTPS)
#   LISTEN_ADDRESS     address nginx listens on (default: every address; the native stack gives STACK_BIND,
#                      while inside a container Docker's published port needs every address)
#   SERVER_NAMES       host names this site answers to; anything else is refused
#   SERVICES           the services, as services.toml names them, separated by spaces (default "a b"); a, which
#                      serves the login pages, among them. For each service NAME (NAME in capitals below):
#   UPSTREAM_NAME      host:port or unix:/path/to/socket of its gunicorn
#   STATIC_ROOT_NAME   its collected static files
#   MEDIA_ROOT_NAME    its uploads, served at /NAME/media/ (optional: a service without one has no such URL)
#   UNAVAILABLE_PAGES  folder of each service's page for when it does not answer, NAME.html, written by
#                      render-unavailable-pages.py beside this script (default: unavailable/ beside it, as the
#                      nginx image has it)
#   UPSTREAM_A_LOGIN   host:port or unix:/path/to/socket of System A's login workers (system_a/gunicorn_login.conf.py),
#                      where the POSTs of A's forms that check a password go
#   RUN_DIR            writable folder for the pid file and temporary files
#   ERROR_LOG          where errors go (default stderr)
#   ACCESS_LOG         where the access log goes (default /dev/stdout)
#   WORKER_USER        user (and group of that name) nginx's workers run as, for a master started as
#                      root (default: none given, nginx's own default or the user running it)
# The login throttle (docs/login-protection.md), on POSTs to A's login and both admin logins, per client address:
#   LOGIN_THROTTLE_RATE   login POSTs one address may send, nginx's NUMBERr/s or NUMBERr/m (default 2r/s)
#   LOGIN_THROTTLE_BURST  how many more it may send at once, at least 1 (default 20): the first half pass at once, the rest
#                         are held back to the rate; beyond that an address gets the 429 page (errors/)
#   LOGIN_REQUESTS_AT_ONCE  login POSTs in flight on System A's login workers, all addresses together, at least 1
#                         (default 64; beyond their 12 threads they wait in gunicorn's queue): beyond it the 429 page
#                         at once. System B's: 1, so a worker of B is always left for pages. Each address: 2 at once.
# HTTPS, when TLS_CERT and TLS_KEY are both set (HTTP only otherwise):
#   TLS_CERT           certificate file (with its intermediates), PEM, e.g. from the site's own CA
#   TLS_KEY            its private key, PEM
#   HTTPS_LISTEN_PORT  port nginx serves HTTPS on (default 443)
#   HTTPS_PUBLIC_PORT  port browsers reach HTTPS on, for the redirect (default HTTPS_LISTEN_PORT;
#                      differs behind a published Docker port)
#   HSTS_MAX_AGE       seconds browsers keep to HTTPS after a visit (default 31536000, one year)
# nginx's other own page, too many logins at once, is in the folder errors/ beside this script.
# Docker Swarm (compose.swarm.yaml), when UPSTREAM_RESOLVER is set:
#   UPSTREAM_RESOLVER  DNS server nginx asks, at request time, for the addresses of each UPSTREAM_NAME and of
#                      UPSTREAM_A_LOGIN (host:port each, e.g. tasks.system_a:8000); every answer is a replica
#
# Usage: render-config.sh [MAIN_TEMPLATE] > nginx.conf
set -eu

templates=$(dirname "$0")
main_template=${1:-$templates/sso.conf.template}

fail() {
  echo "render-config.sh: $*" >&2
  exit 2
}

: "${LISTEN_PORT:?}" "${SERVER_NAMES:?}" "${UPSTREAM_A_LOGIN:?}" "${RUN_DIR:?}" "${SERVICES:=a b}"
: "${ERROR_LOG:=stderr}" "${ACCESS_LOG:=/dev/stdout}" "${LISTEN_ADDRESS:=}" "${WORKER_USER:=}"
: "${TLS_CERT:=}" "${TLS_KEY:=}" "${HTTPS_LISTEN_PORT:=443}" "${HTTPS_PUBLIC_PORT:=$HTTPS_LISTEN_PORT}"
: "${HSTS_MAX_AGE:=31536000}" "${UPSTREAM_RESOLVER:=}"
: "${LOGIN_THROTTLE_RATE:=2r/s}" "${LOGIN_THROTTLE_BURST:=20}" "${LOGIN_REQUESTS_AT_ONCE:=64}"
rate_refused() { fail "LOGIN_THROTTLE_RATE must be requests per second or minute, like 2r/s or 30r/m; not '$LOGIN_THROTTLE_RATE'"; }
case "$LOGIN_THROTTLE_RATE" in *r/s | *r/m) ;; *) rate_refused ;; esac
case "${LOGIN_THROTTLE_RATE%r/?}" in '' | 0* | *[!0-9]*) rate_refused ;; esac
case "$LOGIN_THROTTLE_BURST" in
  '' | *[!0-9]* | 0*) fail "LOGIN_THROTTLE_BURST must be a whole number of at least 1, not '$LOGIN_THROTTLE_BURST'" ;;
esac
case "$LOGIN_REQUESTS_AT_ONCE" in
  '' | *[!0-9]* | 0*) fail "LOGIN_REQUESTS_AT_ONCE must be a whole number of at least 1, not '$LOGIN_REQUESTS_AT_ONCE'" ;;
esac
# Half the burst passes at once (nginx refuses delay=0: then all of it is held back, nginx's default).
LOGIN_THROTTLE_DELAY=""
[ "$LOGIN_THROTTLE_BURST" -lt 2 ] || LOGIN_THROTTLE_DELAY=" delay=$((LOGIN_THROTTLE_BURST / 2))"

# envsubst cannot choose, so the choice is made here: which server blocks go in.
if [ -z "$TLS_CERT" ] && [ -z "$TLS_KEY" ]; then
  site_template=$templates/site-http.conf.template
else
  if [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; then fail "TLS_CERT and TLS_KEY must be given together"; fi
  [ -r "$TLS_CERT" ] || fail "cannot read the certificate TLS_CERT=$TLS_CERT"
  [ -r "$TLS_KEY" ] || fail "cannot read the key TLS_KEY=$TLS_KEY"
  site_template=$templates/site-https.conf.template
fi
ERROR_PAGES=$(cd "$templates" && pwd)/errors
: "${UNAVAILABLE_PAGES:=$templates/unavailable}"
UNAVAILABLE_PAGES=$(cd "$UNAVAILABLE_PAGES" 2>/dev/null && pwd) ||
  fail "UNAVAILABLE_PAGES: no folder ${UNAVAILABLE_PAGES}; write it with render-unavailable-pages.py"
# listen takes ADDRESS:PORT, an IPv6 address in brackets, or the port alone (every address).
listen_on() {
  case "$LISTEN_ADDRESS" in
    "") echo "$1" ;;
    \[*) echo "$LISTEN_ADDRESS:$1" ;;
    *:*) echo "[$LISTEN_ADDRESS]:$1" ;;
    *) echo "$LISTEN_ADDRESS:$1" ;;
  esac
}
if [ -n "$UPSTREAM_RESOLVER" ]; then
  upstreams_template=$templates/upstreams-resolved.conf.template
else
  upstreams_template=$templates/upstreams-fixed.conf.template
fi
HTTP_LISTEN=$(listen_on "$LISTEN_PORT")
HTTPS_LISTEN=$(listen_on "$HTTPS_LISTEN_PORT")
if [ -n "$WORKER_USER" ]; then WORKER_USER_DIRECTIVE="user $WORKER_USER $WORKER_USER;"; else WORKER_USER_DIRECTIVE=""; fi
# The redirect to HTTPS names the port only when it is not the default one.
if [ "$HTTPS_PUBLIC_PORT" = 443 ]; then HTTPS_PORT_SUFFIX=""; else HTTPS_PORT_SUFFIX=":$HTTPS_PUBLIC_PORT"; fi

export LISTEN_PORT SERVER_NAMES UPSTREAM_A_LOGIN RUN_DIR ERROR_LOG ACCESS_LOG
export ERROR_PAGES UNAVAILABLE_PAGES UPSTREAM_RESOLVER TLS_CERT TLS_KEY HTTPS_LISTEN_PORT HTTPS_PORT_SUFFIX HSTS_MAX_AGE HTTP_LISTEN HTTPS_LISTEN WORKER_USER_DIRECTIVE

# shellcheck disable=SC2016 # the variable names are for envsubst, not the shell
variables='${LISTEN_PORT} ${SERVER_NAMES} ${UPSTREAM_A_LOGIN} ${SERVICE_LOCATIONS} ${SERVICE_UPSTREAMS}
${LOGIN_IN_FLIGHT_SERVICES} ${RUN_DIR} ${ERROR_LOG} ${ACCESS_LOG} ${TLS_CERT} ${TLS_KEY} ${HTTPS_LISTEN_PORT} ${HTTPS_PORT_SUFFIX}
${HSTS_MAX_AGE} ${SITE_LOCATIONS} ${SITE_SERVERS} ${HTTP_LISTEN} ${HTTPS_LISTEN} ${WORKER_USER_DIRECTIVE} ${ERROR_PAGES}
${UNAVAILABLE_PAGES} ${UPSTREAM_RESOLVER} ${UPSTREAMS}'

render() { envsubst "$variables" <"$1"; }

export LOGIN_THROTTLE_RATE LOGIN_THROTTLE_BURST LOGIN_THROTTLE_DELAY LOGIN_REQUESTS_AT_ONCE
# shellcheck disable=SC2016 # the variable names are for envsubst, not the shell
variables="$variables"' ${LOGIN_THROTTLE_RATE} ${LOGIN_THROTTLE_BURST} ${LOGIN_THROTTLE_DELAY} ${LOGIN_REQUESTS_AT_ONCE}'

# Each service's parts, from one template each (the login service, a, has its login locations in
# site-locations.conf.template and login workers of its own).
# shellcheck disable=SC2016 # the variable names are for envsubst, not the shell
service_variables='${SERVICE} ${SERVICE_UPSTREAM} ${SERVICE_STATIC_ROOT} ${SERVICE_MEDIA_ROOT} ${LOGIN_THROTTLE_BURST} ${LOGIN_THROTTLE_DELAY}'
render_service() { envsubst "$service_variables" <"$templates/$1"; }
if [ -n "$UPSTREAM_RESOLVER" ]; then service_upstream=service-upstream-resolved.conf.template; else service_upstream=service-upstream-fixed.conf.template; fi
SERVICE_LOCATIONS="" SERVICE_UPSTREAMS="" LOGIN_IN_FLIGHT_SERVICES=""
case " $SERVICES " in *" a "*) ;; *) fail "SERVICES='$SERVICES' must name a, which serves the login pages" ;; esac
for SERVICE in $SERVICES; do
  case "$SERVICE" in [a-z]*[!a-z0-9]* | [!a-z]*) fail "SERVICES: '$SERVICE' cannot name a service" ;; esac
  name=$(printf '%s' "$SERVICE" | tr 'a-z' 'A-Z')
  eval "SERVICE_UPSTREAM=\${UPSTREAM_$name:-}"
  eval "SERVICE_STATIC_ROOT=\${STATIC_ROOT_$name:-}"
  eval "SERVICE_MEDIA_ROOT=\${MEDIA_ROOT_$name:-}"
  [ -n "$SERVICE_UPSTREAM" ] || fail "UPSTREAM_$name is not set: where System $name's gunicorn listens"
  [ -n "$SERVICE_STATIC_ROOT" ] || fail "STATIC_ROOT_$name is not set: System $name's collected static files"
  [ -r "$UNAVAILABLE_PAGES/$SERVICE.html" ] ||
    fail "no $SERVICE.html in $UNAVAILABLE_PAGES: System $name's page for when it does not answer (render-unavailable-pages.py)"
  export SERVICE SERVICE_UPSTREAM SERVICE_STATIC_ROOT SERVICE_MEDIA_ROOT
  SERVICE_LOCATIONS="$SERVICE_LOCATIONS$(render_service service-locations.conf.template)
"
  if [ -n "$SERVICE_MEDIA_ROOT" ]; then
    SERVICE_LOCATIONS="$SERVICE_LOCATIONS$(render_service service-media-locations.conf.template)
"
  fi
  SERVICE_UPSTREAMS="$SERVICE_UPSTREAMS$(render_service "$service_upstream")
"
  [ "$SERVICE" = a ] && continue
  SERVICE_LOCATIONS="$SERVICE_LOCATIONS$(render_service service-admin-locations.conf.template)
"
  LOGIN_IN_FLIGHT_SERVICES="$LOGIN_IN_FLIGHT_SERVICES        \"~^POST:.*:/$SERVICE/\"  \"$SERVICE\";
"
done
export SERVICE_LOCATIONS SERVICE_UPSTREAMS LOGIN_IN_FLIGHT_SERVICES

# Inner parts first; envsubst does not look into a value it inserts, so the nginx
# $variables inside them survive the outer passes.
UPSTREAMS=$(render "$upstreams_template")
export UPSTREAMS
SITE_LOCATIONS=$(render "$templates/site-locations.conf.template")
export SITE_LOCATIONS
SITE_SERVERS=$(render "$site_template")
export SITE_SERVERS
render "$main_template"
