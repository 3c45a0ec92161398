#!/bin/sh
# Render nginx/sso.conf.template to stdout from environment variables.
# Used by ./stack for the native stack and by the nginx image's entrypoint, so
# both deployments run the same configuration. Only the listed variables are
# replaced; nginx's own $variables are left as they are.
set -eu

: "${LISTEN_PORT:?}" "${SERVER_NAMES:?}" "${UPSTREAM_A:?}" "${UPSTREAM_B:?}"
: "${STATIC_ROOT_A:?}" "${STATIC_ROOT_B:?}" "${RUN_DIR:?}"
: "${ERROR_LOG:=stderr}" "${ACCESS_LOG:=/dev/stdout}"
export LISTEN_PORT SERVER_NAMES UPSTREAM_A UPSTREAM_B STATIC_ROOT_A STATIC_ROOT_B RUN_DIR ERROR_LOG ACCESS_LOG

template=${1:-$(dirname "$0")/sso.conf.template}
# shellcheck disable=SC2016 # the variable names are for envsubst, not the shell
envsubst '${LISTEN_PORT} ${SERVER_NAMES} ${UPSTREAM_A} ${UPSTREAM_B} ${STATIC_ROOT_A} ${STATIC_ROOT_B} ${RUN_DIR} ${ERROR_LOG} ${ACCESS_LOG}' <"$template"
