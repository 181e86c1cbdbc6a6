#!/usr/bin/env bash
# Ensure CPython 3.13 (needed by Home Assistant 2026.2) is built in the cache:
#   $RENTAL_WIFI_CACHE/python3.13/bin/python3.13
# Debian 12 has no python3.13 package, so we fetch the CPython source that Debian trixie
# ships (apt-get source, with a private apt config that touches nothing system-wide; apt
# checks the tarball against trixie's signed Sources index) and build it once (~2-3 min on
# 2 cores). Idempotent and silent when the interpreter is already there.
# Prints the interpreter path on stdout.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_python_ok() {
    [ -x "$RW_PY_BIN" ] && "$RW_PY_BIN" --version >/dev/null 2>&1 &&
        "$RW_PY_BIN" -c 'import ssl, sqlite3, ctypes, zlib, bz2, lzma, uuid, venv' >/dev/null 2>&1
}

if rw_python_ok; then
    echo "$RW_PY_BIN"
    exit 0
fi

mkdir -p "$RENTAL_WIFI_CACHE"
# Serialise concurrent runs (two work trees / CI jobs sharing one cache).
exec 9>"$RENTAL_WIFI_CACHE/.python3.13.lock"
flock 9
if rw_python_ok; then
    echo "$RW_PY_BIN"
    exit 0
fi

start=$SECONDS
rw_log "building CPython 3.13 into $RW_PY_PREFIX (one-off, a few minutes)"

rw_apt_install build-essential pkg-config xz-utils ca-certificates debian-archive-keyring \
    libssl-dev libffi-dev zlib1g-dev libsqlite3-dev libbz2-dev liblzma-dev \
    libreadline-dev libncurses-dev uuid-dev libgdbm-dev libexpat1-dev

# --- fetch the source via a private apt configuration (Debian trixie deb-src) ---
aptdir="$RENTAL_WIFI_CACHE/apt-trixie-src"
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/src"
cat >"$aptdir/sources.list" <<'SRC'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
apt_opts=(
    -o "Dir::Etc::SourceList=$aptdir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::Cache::Archives=$aptdir/archives"
    -o "APT::Sandbox::User=$(id -un)"
    -o "Debug::NoLocking=1"
    -q -y
)
rw_log "apt-get update (private trixie deb-src index)"
apt-get "${apt_opts[@]}" update >"$aptdir/update.log" 2>&1 ||
    { cat "$aptdir/update.log" >&2; rw_die "apt-get update for trixie deb-src failed"; }
rm -f "$aptdir/src/"python3.13_*
(cd "$aptdir/src" && apt-get "${apt_opts[@]}" source --download-only python3.13) \
    >"$aptdir/source.log" 2>&1 ||
    { cat "$aptdir/source.log" >&2; rw_die "apt-get source python3.13 failed"; }
orig="$(ls "$aptdir/src/"python3.13_*.orig.tar.* 2>/dev/null | head -n1)"
[ -n "$orig" ] || rw_die "no python3.13 .orig tarball downloaded (see $aptdir/source.log)"
rw_log "source: $(basename "$orig")"

# --- build ---
build="$RENTAL_WIFI_CACHE/build-python3.13"
rm -rf "$build" "$RW_PY_PREFIX"
mkdir -p "$build"
tar -xf "$orig" -C "$build" --strip-components=1
log="$RENTAL_WIFI_CACHE/python3.13-build.log"
rw_log "configure + make -j$(nproc) (log: $log)"
(
    cd "$build"
    ./configure --prefix="$RW_PY_PREFIX" --with-ensurepip=install
    make -j"$(nproc)"
    make install
) >"$log" 2>&1 || { tail -n 60 "$log" >&2; rw_die "CPython build failed (full log: $log)"; }

rw_python_ok || rw_die "built $RW_PY_BIN but it is missing modules (ssl/sqlite3/ctypes/...); see $log"
rm -rf "$build" "$aptdir/src"
rw_log "CPython $("$RW_PY_BIN" -c 'import platform; print(platform.python_version())') ready in $((SECONDS - start))s"
echo "$RW_PY_BIN"
