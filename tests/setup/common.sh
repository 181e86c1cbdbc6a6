# shellcheck shell=bash
# Shared helpers for the test/CI set-up scripts. Source it; do not execute it.
#
# Everything heavy (CPython 3.13, the Home Assistant venv) lives in a cache OUTSIDE the
# repository so that it survives `git clean` and is shared by all work trees:
#   RENTAL_WIFI_CACHE   default: $HOME/.cache/rental-wifi
set -euo pipefail

RW_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RENTAL_WIFI_CACHE="${RENTAL_WIFI_CACHE:-${HOME:-/root}/.cache/rental-wifi}"
export RENTAL_WIFI_CACHE
RW_PY_PREFIX="$RENTAL_WIFI_CACHE/python3.13"
RW_PY_BIN="$RW_PY_PREFIX/bin/python3.13"
RW_VENV="$RENTAL_WIFI_CACHE/venv-ha"
# Node >= 20 fetched by browser.sh when the system one is older (empty otherwise).
RW_NODE_BIN="$RENTAL_WIFI_CACHE/node/bin"
# CI has no stdin: never let apt/dpkg ask anything.
export DEBIAN_FRONTEND=noninteractive

rw_log()  { printf '[setup] %s\n' "$*" >&2; }
rw_warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
rw_die()  { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo -n when we are not root).
rw_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        rw_die "need root (or passwordless sudo) to run: $*"
    fi
}

# `apt-get update` at most once per script run (and not at all when nothing is missing).
RW_APT_UPDATED="${RW_APT_UPDATED:-0}"
rw_apt_update() {
    if [ "$RW_APT_UPDATED" != 1 ]; then
        rw_log "apt-get update"
        rw_as_root apt-get -y -q update >/dev/null
        RW_APT_UPDATED=1
        export RW_APT_UPDATED
    fi
}

# Install the Debian packages (by name) that are not installed yet.
rw_apt_install() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    rw_apt_update
    rw_log "apt-get install ${missing[*]}"
    rw_as_root apt-get -y -q install --no-install-recommends "${missing[@]}" >/dev/null
}

# Content hash of files (for cache keys).
rw_hash() { cat "$@" | sha256sum | cut -c1-16; }
