# Sourceable helper for the shell tests that drive `cdpctl serve` over HTTP: a work directory
# cleaned up on exit, a data directory, API keys, a server on a free loopback port (started,
# stopped gracefully or killed -9), `request` capturing status and body, and pass/fail counters
# with a summary whose exit status is the test's. Usage:
#   . "$(dirname "$0")/support/server.sh"
#   srv_setup faults            # $work, $cdpctl; cleanup trap
#   srv_init "$work/data"       # cdpctl init with the shipped policies
#   key=$(srv_key "$work/data" ingest eu --source web)
#   srv_start "$work/data"      # $server_pid, $port, $base; waits for /healthz
#   request POST /v1/track -u "$key:" -d '{...}'   # $status, $work/body
#   expect name 200 [code]
#   srv_stop; srv_summary
# Every variable it sets is documented above; functions are prefixed srv_ except the test verbs
# (request, expect, check, pass, fail, skip).

build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
server_pid=
port=
base=
status=
passed=0
failed=0
skipped=0
unset CDP_ROOT_KEY CDP_TEST_CRASH_AT

# srv_setup TAG: makes $work (removed on exit with the server stopped). Extra cleanup can be
# added by defining srv_cleanup_hook.
srv_setup() {
    work=$(mktemp -d "/tmp/cdp-${1:-test}-XXXXXX")
    trap 'srv_stop; if declare -F srv_cleanup_hook >/dev/null; then srv_cleanup_hook; fi; rm -rf "$work"' EXIT
}

pass() { passed=$((passed + 1)); }
fail() { # name message
    failed=$((failed + 1))
    echo "FAIL $1: $2"
    [ -s "$work/body" ] && sed 's/^/  body: /' "$work/body" | head -3
    return 0
}
skip() { skipped=$((skipped + 1)); echo "SKIP $1: $2"; }
check() { # name command...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then pass; else fail "$name" "command failed: $*"; fi
}

# srv_summary: prints the counts and exits 0 only when nothing failed (and something passed).
srv_summary() {
    echo "$(basename "$0" .sh): $passed passed, $failed failed, $skipped skipped"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

# srv_abort MESSAGE: a set-up step failed; the test cannot go on.
srv_abort() {
    echo "FAIL $1"
    failed=$((failed + 1))
    srv_summary
}

srv_init() { # DATA_DIR
    "$cdpctl" init --data "$1" --policies "$source_dir/policies" >/dev/null 2>"$work/init.err" ||
        { cat "$work/init.err"; srv_abort "cdpctl init $1"; }
}

# srv_key DATA_DIR ROLE REGION [cdpctl keys create args...]: prints the new key.
srv_key() {
    local data=$1 role=$2 region=$3
    shift 3
    "$cdpctl" keys create --data "$data" --role "$role" --region "$region" "$@" 2>"$work/key.err" ||
        { cat "$work/key.err" >&2; return 1; }
}

# srv_key_id KEY: the key id (the 16 hex digits after "cdp_").
srv_key_id() { local key=$1; printf '%s' "${key:4:16}"; }

# srv_start DATA_DIR [serve args...]: starts the server in the background with stderr in
# $work/server.err; sets $server_pid, $port and $base once /healthz answers. Returns 1 when the
# server exits or never answers (its stderr is left in $work/server.err).
srv_start() {
    local data=$1
    shift
    "$cdpctl" serve --data "$data" --listen 127.0.0.1:0 "$@" 2>"$work/server.err" &
    server_pid=$!
    port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.err")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        wait "$server_pid" 2>/dev/null
        server_exit=$?
        server_pid=
        return 1
    fi
    base="http://127.0.0.1:$port"
    for _ in $(seq 200); do
        curl -s -o /dev/null --max-time 1 "$base/healthz" && return 0
        sleep 0.05
    done
    return 1
}

# srv_stop: SIGTERM, up to 10 s to finish, then SIGKILL. Sets $server_exit.
srv_stop() {
    server_exit=
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    if [ -n "$server_pid" ]; then
        wait "$server_pid" 2>/dev/null
        server_exit=$?
    fi
    server_pid=
}

# srv_kill9: kill -9, as a crash or the OOM killer would.
srv_kill9() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    server_pid=
}

# request METHOD PATH [curl args...]: sets $status; body in $work/body, headers in
# $work/headers. A connection failure gives status 000.
request() {
    local method=$1 path=$2
    shift 2
    status=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" \
        --max-time 30 "$@" "$base$path")
}

# expect NAME STATUS [CODE]: the last request's status and, for errors, the error code of the
# body {"error": {"code": CODE, "message": ...}}.
expect() {
    local name=$1 want=$2 code=${3:-}
    if [ "$status" != "$want" ]; then
        fail "$name" "status $status, expected $want"
        return 0
    fi
    if [ -n "$code" ] &&
        ! grep -qE "^\{\"error\": \{\"code\": \"$code\", \"message\": \".+\"\}\}$" "$work/body"; then
        fail "$name" "body is not an error with code $code"
        return 0
    fi
    pass
}

expect_body() { # name fixed-text
    if grep -qF -- "$2" "$work/body"; then pass; else fail "$1" "'$2' not in the body"; fi
}
