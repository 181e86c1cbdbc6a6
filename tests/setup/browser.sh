#!/usr/bin/env bash
# Ensure the browser-test stack: Debian's chromium (/usr/bin/chromium, driven by the npm
# package playwright-core; `npx playwright install` is NOT used) and the npm dependencies of
# tests/browser, installed with `npm ci` from the committed package-lock.json whenever
# node_modules is missing or the lock file changed. Idempotent; silent when all is in place.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHROMIUM="${RENTAL_WIFI_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    [ "$CHROMIUM" = /usr/bin/chromium ] || rw_die "RENTAL_WIFI_CHROMIUM=$CHROMIUM is not executable"
    start=$SECONDS
    rw_apt_install chromium fonts-liberation
    [ -x "$CHROMIUM" ] || rw_die "apt installed chromium but $CHROMIUM is missing"
    rw_log "chromium installed in $((SECONDS - start))s"
fi

# Node >= 20 (playwright-core needs it). Debian 12's own nodejs is 18: then fetch the official
# Node binary that the npm registry carries (package node-linux-<arch>) into the cache and put
# it first on PATH (tests/run does the same with $RW_NODE_BIN). RENTAL_WIFI_NODE_FROM_NPM=1 forces it.
RW_NODE_VERSION=20.20.2
rw_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$RW_NODE_BIN/node" ]; then PATH="$RW_NODE_BIN:$PATH"; fi
if ! command -v npm >/dev/null 2>&1; then
    rw_apt_install nodejs npm
fi
if [ "$(rw_node_major)" -lt 20 ] || { [ "${RENTAL_WIFI_NODE_FROM_NPM:-0}" = 1 ] && [ ! -x "$RW_NODE_BIN/node" ]; }; then
    case "$(uname -m)" in
        x86_64) arch=x64 ;;
        aarch64) arch=arm64 ;;
        *) rw_die "node >= 20 is required and there is no node-linux-$(uname -m) package" ;;
    esac
    rw_log "system node: $(node --version 2>/dev/null || echo none) (need >= 20): installing node-linux-$arch@$RW_NODE_VERSION from the npm registry"
    rm -rf "$RENTAL_WIFI_CACHE/node"
    npm install --prefix "$RENTAL_WIFI_CACHE/node" --no-save --no-package-lock --no-audit --no-fund \
        --loglevel=error "node-linux-$arch@$RW_NODE_VERSION" >&2
    mkdir -p "$RW_NODE_BIN"
    ln -sf "$RENTAL_WIFI_CACHE/node/node_modules/node-linux-$arch/bin/node" "$RW_NODE_BIN/node"
    PATH="$RW_NODE_BIN:$PATH"
fi
[ "$(rw_node_major)" -ge 20 ] || rw_die "node >= 20 is required for the browser tests (found $(node --version))"

dir="$RW_REPO_ROOT/tests/browser"
stamp="$dir/node_modules/.rental-wifi-lock.sha256"
[ -f "$dir/package-lock.json" ] || rw_die "tests/browser/package-lock.json is missing (create it with: npm install --package-lock-only)"
want="$(rw_hash "$dir/package.json" "$dir/package-lock.json")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    start=$SECONDS
    rw_log "npm ci in tests/browser"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
    echo "$want" >"$stamp"
    rw_log "npm ci done in $((SECONDS - start))s"
fi
