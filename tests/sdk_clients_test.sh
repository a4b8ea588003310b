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

# node_modules is fresh when the hash of package.json + package-lock.json matches the one stamped
# at the last install. One install at a time: two builds' ctest runs may share the source tree.
stamp=$(cat "$clients/package.json" "$clients/package-lock.json" 2>/dev/null | sha256sum | cut -c1-32)
exec 9>"/tmp/cdp-sdk-clients-npm.lock"
flock -w 300 9 || fail_all "another npm install in $clients holds the lock for 5 minutes"
if [ "$(cat "$clients/node_modules/.cdp-stamp" 2>/dev/null)" != "$stamp" ]; then
    if ! timeout 20 npm ping --fetch-retries=0 --fetch-timeout=15000 --loglevel=error >"$work/npm.log" 2>&1; then
        skip_all "npm registry unreachable (offline)"
    fi
    # --ignore-scripts: nothing here needs a build step (msgpackr-extract, a native speed-up
    # under rudder-sdk-node's optional Redis queue, falls back to JavaScript).
    npm_flags=(--no-audit --no-fund --ignore-scripts --loglevel=error)
    if [ ! -f "$clients/package-lock.json" ]; then
        (cd "$clients" && timeout 300 npm install "${npm_flags[@]}") >"$work/npm.log" 2>&1 ||
            fail_all "npm install in tests/clients failed:" "$work/npm.log"
    elif ! (cd "$clients" && timeout 300 npm ci "${npm_flags[@]}") >"$work/npm.log" 2>&1; then
        # npm ci refuses a lock that lacks other platforms' optional packages (darwin, win32
        # builds of msgpackr-extract), which is what a registry mirror serving only Linux
        # packages produces. npm install installs the same locked versions; the lock is kept
        # byte for byte.
        if grep -q 'EUSAGE' "$work/npm.log"; then
            cp "$clients/package-lock.json" "$work/package-lock.json"
            (cd "$clients" && timeout 300 npm install "${npm_flags[@]}") >"$work/npm.log" 2>&1 ||
                fail_all "npm install in tests/clients failed:" "$work/npm.log"
            cmp -s "$work/package-lock.json" "$clients/package-lock.json" ||
                cp "$work/package-lock.json" "$clients/package-lock.json"
        else
            fail_all "npm ci in tests/clients failed:" "$work/npm.log"
        fi
    fi
    echo "$stamp" >"$clients/node_modules/.cdp-stamp"
fi
flock -u 9

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
