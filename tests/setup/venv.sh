#!/usr/bin/env bash
# Ensure the Home Assistant test venv ($RENTAL_WIFI_CACHE/venv-ha) built with the cached
# CPython 3.13 from tests/requirements.txt. Rebuilt from scratch whenever requirements.txt
# (or the interpreter) changes. Idempotent; quiet when up to date.
# Prints the venv directory on stdout (its interpreter is <venv>/bin/python).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

py="$("$(dirname "${BASH_SOURCE[0]}")/python.sh")"
req="$RW_REPO_ROOT/tests/requirements.txt"
[ -f "$req" ] || rw_die "missing $req"
want="$( { cat "$req"; "$py" --version; } | sha256sum | cut -c1-16)"
stamp="$RW_VENV/.rental-wifi-requirements.sha256"

rw_venv_ok() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$RW_VENV/bin/python" -c '' 2>/dev/null; }

if ! rw_venv_ok; then
    mkdir -p "$RENTAL_WIFI_CACHE"
    exec 9>"$RENTAL_WIFI_CACHE/.venv-ha.lock"
    flock 9
    if ! rw_venv_ok; then
        start=$SECONDS
        log="$RENTAL_WIFI_CACHE/venv-ha-install.log"
        rw_log "creating $RW_VENV from tests/requirements.txt (first time takes a few minutes; log: $log)"
        rm -rf "$RW_VENV"
        "$py" -m venv "$RW_VENV"
        {
            "$RW_VENV/bin/python" -m pip install --upgrade pip &&
                "$RW_VENV/bin/python" -m pip install -r "$req"
        } >"$log" 2>&1 || { tail -n 40 "$log" >&2; rw_die "pip install failed (full log: $log)"; }
        # Only a complete install gets the stamp, so an interrupted one is redone next time.
        echo "$want" >"$stamp"
        rw_log "venv ready in $((SECONDS - start))s"
    fi
fi
echo "$RW_VENV"
