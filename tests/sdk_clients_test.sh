#!/usr/bin/env bash
# The real Segment and RudderStack server SDKs against `cdpctl serve`: tests/clients/sdk.test.mjs
# (node --test) with @segment/analytics-node and @rudderstack/rudder-sdk-node pinned in
# tests/clients/package.json and package-lock.json. npm installs them into
# tests/clients/node_modules when it is missing or older than the lock; without node or the npm
# registry the test prints SKIP and passes.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
clients="$source_dir/tests/clients"
work=$(mktemp -d /tmp/cdp-sdk-XXXXXX)
server_pid=
unset CDP_ROOT_KEY

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

skip_all() { echo "SKIP sdk clients: $1"; echo "0 passed, 0 failed"; exit 0; }
fail_all() { echo "FAIL $1"; [ -s "${2:-/dev/null}" ] && sed 's/^/  /' "$2" | tail -20; echo "0 passed, 1 failed"; exit 1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip_all "node/npm not installed"
fi

# ---- the SDKs: installed once per lock file ----------------------------------------------------

. "$(dirname "$0")/support/npm.sh" || exit 1
clients_npm_install "$clients" "$work"
case $? in
0) ;;
3) skip_all "npm registry unreachable (offline)" ;;
*) fail_all "npm install in tests/clients failed:" "$work/npm.log" ;;
esac

# ---- a server on a free port with keys for three sources ---------------------------------------

"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" 2>"$work/err" ||
    fail_all "cdpctl init" "$work/err"
create_key() { # role [source]
    "$cdpctl" keys create --data "$work/data" --role "$1" ${2:+--source "$2"} 2>"$work/err" ||
        fail_all "cdpctl keys create --role $1 ${2:-}" "$work/err"
}
CDP_KEY_WEB=$(create_key ingest web)
CDP_KEY_IOS=$(create_key ingest ios)
CDP_KEY_POS=$(create_key ingest pos)
CDP_KEY_PERSONALIZATION=$(create_key personalization)
export CDP_KEY_WEB CDP_KEY_IOS CDP_KEY_POS CDP_KEY_PERSONALIZATION

"$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 --threads 2 2>"$work/server.err" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.err")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
[ -n "$port" ] || fail_all "server did not start" "$work/server.err"
export CDP_BASE_URL="http://127.0.0.1:$port"
up=0
for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "$CDP_BASE_URL/healthz" && { up=1; break; }
    sleep 0.05
done
[ "$up" = 1 ] || fail_all "server not answering /healthz" "$work/server.err"

# ---- the tests ---------------------------------------------------------------------------------

# Human-readable results on stdout, TAP in a file for the counts.
(cd "$clients" && timeout 120 node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/tap" sdk.test.mjs)
node_status=$?
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/tap" 2>/dev/null)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/tap" 2>/dev/null)
passed=${passed:-0}
failed=${failed:-0}
# node exiting non-zero with no failing test counted: a crash or the timeout.
if [ "$node_status" != 0 ] && [ "$failed" = 0 ]; then
    echo "FAIL node --test exited with status $node_status"
    failed=1
fi

stop_server
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/server.err"; then
    echo "FAIL server_sanitizer_clean:"; cat "$work/server.err"
    failed=$((failed + 1))
elif grep -qE ': internal: ' "$work/server.err"; then
    echo "FAIL server_logged_no_internal_errors:"; grep ': internal: ' "$work/server.err" | head -5
    failed=$((failed + 1))
else
    passed=$((passed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
