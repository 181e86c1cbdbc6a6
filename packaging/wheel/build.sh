#!/usr/bin/env bash
# Build the rental-wifi-sidecar wheel (the sidecar binary packaged for Home Assistant's
# requirement mechanism, maturin `bindings = "bin"`) for this machine's platform.
#
#   packaging/wheel/build.sh            release build → dist/rental_wifi_sidecar-<v>-py3-none-<platform>.whl
#   packaging/wheel/build.sh --dev      the debug profile of `cargo build` (tests/run: reuses its build)
#   packaging/wheel/build.sh --out DIR  put the wheel in DIR (default: dist/)
#
# maturin comes from PyPI into $RENTAL_WIFI_CACHE/venv-maturin (default ~/.cache/rental-wifi),
# pinned below; the Rust toolchain is the machine's. The release matrix (manylinux and
# musllinux, x86_64 and aarch64) is built by .github/workflows/release.yml.
# Prints the wheel's path on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MATURIN_VERSION=1.16.0
CACHE="${RENTAL_WIFI_CACHE:-${HOME:-/root}/.cache/rental-wifi}"
VENV="$CACHE/venv-maturin"

profile=release
out="$ROOT/dist"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --dev) profile=dev ;;
        --out) out="$(realpath -m "$2")"; shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if ! "$VENV/bin/maturin" --version 2>/dev/null | grep -qx "maturin $MATURIN_VERSION"; then
    py="$CACHE/python3.13/bin/python3.13"
    [ -x "$py" ] || py="$(command -v python3)"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.venv-maturin.lock"
    flock 9
    if ! "$VENV/bin/maturin" --version 2>/dev/null | grep -qx "maturin $MATURIN_VERSION"; then
        echo "[wheel] installing maturin $MATURIN_VERSION into $VENV" >&2
        rm -rf "$VENV"
        "$py" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2
    fi
    exec 9>&-
fi

mkdir -p "$out"
rm -f "$out"/rental_wifi_sidecar-*.whl
args=(build --out "$out" --profile "$profile")
# The debug binary is large (debug info) and only goes into a local test environment:
# storing it uncompressed saves most of the packaging time.
[ "$profile" = dev ] && args+=(--compression-method stored)
(cd "$ROOT/packaging/wheel" && "$VENV/bin/maturin" "${args[@]}" >&2)
ls "$out"/rental_wifi_sidecar-*.whl
