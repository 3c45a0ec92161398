# Sourced (`. /mnt/use-extra-ca.sh`) at the start of every Dockerfile step that reaches the
# network, with the optional build secret extra_ca (compose.yaml: one PEM file of extra CA
# certificates, e.g. a TLS-intercepting proxy's) and this folder mounted at /mnt:
#   RUN --mount=type=secret,id=extra_ca --mount=type=bind,source=docker/build-ca,target=/mnt \
#       . /mnt/use-extra-ca.sh && apt-get ...
# apt and pip then trust Debian's CAs plus the extra ones, for this one step only. The
# combined bundle is a temporary file deleted when the step's shell exits; a step that fails
# before then commits no layer (nor does one where this fails). Without the secret (or with an
# empty one) nothing changes.
if [ -s /run/secrets/extra_ca ]; then
  EXTRA_CA_BUNDLE=$(mktemp /tmp/extra-ca.XXXXXX) || return 1
  trap 'rm -f "$EXTRA_CA_BUNDLE" "$EXTRA_CA_BUNDLE.apt"' EXIT
  # apt fetches as the user _apt; certificates are public, only the file is temporary.
  chmod 0644 "$EXTRA_CA_BUNDLE" || return 1
  # Debian's bundle is there once ca-certificates is installed (the base stage's first step
  # installs it, so there only the extra CAs are trusted while apt fetches it).
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cat /etc/ssl/certs/ca-certificates.crt >"$EXTRA_CA_BUNDLE" || return 1
  fi
  cat /run/secrets/extra_ca >>"$EXTRA_CA_BUNDLE" || return 1
  # APT_CONFIG is read besides /etc/apt/apt.conf.d, so the image's own apt settings still count.
  printf 'Acquire::https::CAInfo "%s";\n' "$EXTRA_CA_BUNDLE" >"$EXTRA_CA_BUNDLE.apt" || return 1
  export APT_CONFIG="$EXTRA_CA_BUNDLE.apt" PIP_CERT="$EXTRA_CA_BUNDLE"
fi
