#!/usr/bin/env bash
# Build a local stand-in for `debian:bookworm-slim` without any container
# registry: Docker Hub is unreachable here, Debian's apt mirror is not.
#
#   debootstrap --variant=minbase bookworm  ->  trim like the slim image
#   ->  tar | docker import  ->  $BASE_IMAGE
#
# Every Dockerfile of the stack starts `FROM ${BASE_IMAGE}` instead of
# `FROM debian:bookworm-slim`.  Safe to run many times: if the tag already
# exists in the engine, nothing is done (delete the image to rebuild it).
#
# Usage: build-base-image.sh [--verify]
#   --verify   also check that a container of the image can apt-get install
#              python3 from the mirror and reach PyPI over HTTPS (needs
#              container networking; works on the default bridge here).
#
# Environment knobs (all optional):
#   BASE_IMAGE        tag to create   (default sso-base/debian:bookworm-slim)
#   DEBIAN_MIRROR     apt mirror      (default http://deb.debian.org/debian)
#   SECURITY_MIRROR   security mirror (default http://security.debian.org/debian-security)
#   VERIFY_NETWORK    `docker run --network` for --verify (default: engine default bridge)
#   HOST_CA_DIR       extra CA certs (*.crt) of this host (default /usr/local/share/ca-certificates)
#   BAKE_HOST_CAS     auto|1|0: copy those CAs into the base image, and so into every image built
#                     FROM it (default 0: the base stays a plain slim equivalent; the Dockerfile
#                     takes extra CAs as the build secret extra_ca, which no layer keeps)
set -euo pipefail

readonly SUITE=bookworm
readonly BASE_IMAGE="${BASE_IMAGE:-sso-base/debian:bookworm-slim}"
readonly DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR="${SECURITY_MIRROR:-http://security.debian.org/debian-security}"
readonly VERIFY_NETWORK="${VERIFY_NETWORK:-}"
readonly HOST_CA_DIR="${HOST_CA_DIR:-/usr/local/share/ca-certificates}"
BAKE_HOST_CAS="${BAKE_HOST_CAS:-0}"
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# docker import records no PATH.  docker run falls back to a default, but a
# Dockerfile line like `ENV PATH=/opt/venv/bin:$PATH` would expand $PATH to
# nothing and lose /usr/bin: set it explicitly, as debian:bookworm-slim does.
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ROOTFS=""   # temp dir of the chroot; set by make_rootfs_dir, removed by cleanup

log() { printf '[build-base-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() {
    # debootstrap creates device nodes and chowns files: root only.
    [[ "$(id -u)" -eq 0 ]] || die "must run as root (debootstrap needs it)"
}

require_engine() {
    docker info >/dev/null 2>&1 ||
        die "docker engine not answering; run docker/install-engine.sh first"
}

image_exists() { docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; }

ensure_debootstrap() {
    local missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    # Ubuntu hosts do not ship Debian's signing keys by default; debootstrap
    # needs them to verify the bookworm Release file.
    [[ -r "$DEBIAN_KEYRING" ]] || missing+=(debian-archive-keyring)
    ((${#missing[@]} == 0)) && return
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# /var/tmp, not /tmp: /tmp is often a nodev tmpfs, where debootstrap's device
# nodes and ~150 MB of files do not belong.
make_rootfs_dir() {
    ROOTFS="$(mktemp -d /var/tmp/sso-base-rootfs.XXXXXX)"
    trap cleanup EXIT
}

# Remove the chroot even after a failure or Ctrl-C.  An interrupted debootstrap
# can leave /proc or /sys mounted inside it: unmount those first, and never let
# rm cross into another file system.
cleanup() {
    [[ -n "$ROOTFS" && -d "$ROOTFS" ]] || return 0
    local mnt
    while IFS= read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v root="$ROOTFS" 'index($2, root "/") == 1 {print $2}' /proc/mounts | sort -r)
    rm -rf --one-file-system "$ROOTFS"
}

run_debootstrap() {
    local start=$SECONDS extra=()
    # ca-certificates (not in the real slim image) only when host CAs are
    # baked in: update-ca-certificates is what makes them trusted.
    ((BAKE_HOST_CAS)) && extra=(--include=ca-certificates)
    log "debootstrap --variant=minbase ${extra[*]:+${extra[*]} }${SUITE} from ${DEBIAN_MIRROR} (log: ${ROOTFS}.debootstrap.log)"
    if ! debootstrap --variant=minbase "${extra[@]}" --keyring="$DEBIAN_KEYRING" \
        "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"${ROOTFS}.debootstrap.log" 2>&1; then
        tail -n 20 "${ROOTFS}.debootstrap.log" >&2
        die "debootstrap failed (full log: ${ROOTFS}.debootstrap.log)"
    fi
    rm -f "${ROOTFS}.debootstrap.log"
    log "debootstrap took $((SECONDS - start))s"
}

# debootstrap only writes the main suite.  Add -updates and -security so
# `apt-get upgrade` in images built FROM this one gets security fixes.
write_apt_sources() {
    cat >"${ROOTFS}/etc/apt/sources.list" <<EOF
deb ${DEBIAN_MIRROR} ${SUITE} main
deb ${DEBIAN_MIRROR} ${SUITE}-updates main
deb ${SECURITY_MIRROR} ${SUITE}-security main
EOF
}

# Some sandboxes and corporate networks intercept HTTPS with their own CA,
# which the host trusts (it sits in /usr/local/share/ca-certificates) but a
# fresh container does not: apt over http still works, yet `pip install` in a
# Dockerfile fails with CERTIFICATE_VERIFY_FAILED.  Decide here whether to
# copy those CAs into the image (auto: only if the host has any; a machine
# with none gets a plain slim-equivalent image).
decide_host_cas() {
    if [[ "$BAKE_HOST_CAS" == auto ]]; then
        if compgen -G "${HOST_CA_DIR}/*.crt" >/dev/null; then BAKE_HOST_CAS=1; else BAKE_HOST_CAS=0; fi
    fi
    [[ "$BAKE_HOST_CAS" == [01] ]] || die "BAKE_HOST_CAS must be auto, 1 or 0"
    if ((BAKE_HOST_CAS)); then
        log "baking host CA certs from ${HOST_CA_DIR} into the image (BAKE_HOST_CAS=0 to skip)"
    fi
}

# Copy the host's extra CAs in and rebuild the bundle inside the chroot, so
# OpenSSL, curl, apt and Debian's pip trust them.
bake_host_cas() {
    ((BAKE_HOST_CAS)) || return 0
    install -d "${ROOTFS}/usr/local/share/ca-certificates"
    install -m 0644 "${HOST_CA_DIR}"/*.crt "${ROOTFS}/usr/local/share/ca-certificates/"
    # (its "rehash: skipping ca-certificates.crt" warning is harmless noise)
    chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the chroot"
}

# The same apt/dpkg tweaks the official image carries (debuerreotype), so that
# Dockerfiles behave as they would on debian:bookworm-slim.
write_container_tweaks() {
    local root="$ROOTFS"
    # Never start services from maintainer scripts inside a build.
    cat >"${root}/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
    chmod 0755 "${root}/usr/sbin/policy-rc.d"
    # Slim: packages installed later do not unpack docs, man pages or
    # translations either (copyright files are kept, for licence compliance).
    cat >"${root}/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    # Keep layers small: no .deb cache, no translated package lists.
    cat >"${root}/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"${root}/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"${root}/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"${root}/etc/apt/apt.conf.d/docker-autoremove-suggests"
}

# Trim what the slim image does not carry.  C.UTF-8 lives in /usr/lib/locale
# (libc-bin) and is kept: the image sets LANG=C.UTF-8.
trim_rootfs() {
    local root="$ROOTFS"
    rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/*.bin \
        "${root}"/var/cache/apt/archives/*.deb "${root}"/var/cache/debconf/*-old
    find "${root}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "${root}/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "${root}"/usr/share/man/* "${root}"/usr/share/info/* "${root}"/usr/share/groff/* \
        "${root}"/usr/share/lintian/* "${root}"/usr/share/linda/* "${root}"/usr/share/locale/*
    find "${root}/usr/lib/locale" -mindepth 1 -maxdepth 1 -not -name 'C.*' -exec rm -rf {} + 2>/dev/null || true
    # Logs of the bootstrap itself, and host identity debootstrap copied in:
    # docker bind-mounts fresh resolv.conf/hostname/hosts at run time.
    find "${root}/var/log" -type f -delete
    rm -f "${root}/var/cache/ldconfig/aux-cache"
    : >"${root}/etc/resolv.conf"
    : >"${root}/etc/hostname"
    rm -f "${root}/etc/machine-id" "${root}/var/lib/dbus/machine-id"
}

import_image() {
    local start=$SECONDS ca_changes=()
    if ((BAKE_HOST_CAS)); then
        # Python tools that carry their own CA list (pip from PyPI in a venv,
        # requests/certifi) are pointed at the system bundle too.
        ca_changes=(--change "ENV SSL_CERT_FILE=${CA_BUNDLE}"
            --change "ENV PIP_CERT=${CA_BUNDLE}"
            --change "ENV REQUESTS_CA_BUNDLE=${CA_BUNDLE}"
            --change 'LABEL sso-base.host-cas-baked="true"')
    fi
    log "docker import -> ${BASE_IMAGE}"
    tar --numeric-owner -C "$ROOTFS" -c . |
        docker import \
            --change 'CMD ["bash"]' \
            --change 'ENV LANG=C.UTF-8' \
            --change "ENV PATH=${IMAGE_PATH}" \
            "${ca_changes[@]}" \
            --change "LABEL org.opencontainers.image.description=\"debian:${SUITE}-slim equivalent built locally by debootstrap\"" \
            --change "LABEL org.opencontainers.image.created=\"$(date -u +%FT%TZ)\"" \
            - "$BASE_IMAGE" >/dev/null
    log "import took $((SECONDS - start))s"
}

# Cheap check that the image runs at all (no network needed).  A broken image
# is removed again: otherwise the next run would see the tag and skip.
smoke_test() {
    if ! docker run --rm --network none "$BASE_IMAGE" \
        bash -c 'test "$LANG" = C.UTF-8 && test -n "$PATH" && grep -q "^deb .* ${0}-security" /etc/apt/sources.list' "$SUITE"; then
        docker image rm "$BASE_IMAGE" >/dev/null 2>&1 || true
        die "smoke test of ${BASE_IMAGE} failed; image removed"
    fi
}

# The real check: a container of the image reaches the Debian mirror and can
# install packages - exactly what the stack's Dockerfiles do.
verify_apt_in_container() {
    local net_args=()
    [[ -n "$VERIFY_NETWORK" ]] && net_args=(--network "$VERIFY_NETWORK")
    log "verify: apt-get install python3 in a container ${net_args[*]}"
    docker run --rm "${net_args[@]}" "$BASE_IMAGE" bash -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null && python3 --version'
    # HTTPS too (pip in Dockerfiles needs it): ca-certificates as a Dockerfile
    # would install it; this fails where HTTPS is intercepted and no CA was baked.
    log "verify: HTTPS to PyPI from a container"
    docker run --rm "${net_args[@]}" "$BASE_IMAGE" bash -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 ca-certificates >/dev/null &&
         python3 -c "import urllib.request as u; print(\"pypi https:\", u.urlopen(\"https://pypi.org/simple/pip/\", timeout=30).status)"'
}

print_summary() {
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' "$BASE_IMAGE"
}

main() {
    local verify=0
    case "${1:-}" in
        --verify) verify=1 ;;
        "") ;;
        *) die "usage: $0 [--verify]" ;;
    esac
    require_root
    require_engine
    if image_exists; then
        log "${BASE_IMAGE} already exists; nothing to build"
    else
        ensure_debootstrap
        decide_host_cas
        make_rootfs_dir
        run_debootstrap
        bake_host_cas
        write_apt_sources
        write_container_tweaks
        trim_rootfs
        import_image
        cleanup
        smoke_test
    fi
    if ((verify)); then
        verify_apt_in_container
    fi
    print_summary
}

main "$@"
