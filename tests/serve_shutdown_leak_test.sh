#!/usr/bin/env bash
# cdpd (`cdpctl serve`) stops on SIGTERM, after serving real traffic (ingest of one event and a
# batch, gzip too, a profile read, an OpenGDPR request, bad bodies), with exit status 0 and no
# leak: under the sanitizer build (make test SANITIZE=1) LeakSanitizer checks at exit; with
# CDP_MEMCHECK=1 (make memcheck) the same run happens under valgrind memcheck (definite and
# indirect leaks and any memory error fail it). Other builds skip it.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-serve-leak-XXXXXX)
server_pid=
trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
unset CDP_ROOT_KEY
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

runner=()
if grep -q '^CDP_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    mode=lsan
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
elif [ "${CDP_MEMCHECK:-0}" = 1 ] && command -v valgrind >/dev/null; then
    mode=valgrind # tools/memcheck.sh (make memcheck): minutes under valgrind, so not in ctest
    runner=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30
        --suppressions="$source_dir/tests/valgrind.supp")
else
    echo "SKIP: the leak check on shutdown runs in the sanitizer build (make test SANITIZE=1)"
    echo "      and under valgrind in make memcheck"
    exit 0
fi

"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" 2>/dev/null ||
    { echo "FAIL init"; echo "0 passed, 1 failed"; exit 1; }
key_ingest=$("$cdpctl" keys create --data "$work/data" --role ingest --region eu 2>/dev/null)
key_dpo=$("$cdpctl" keys create --data "$work/data" --role dpo --region eu 2>/dev/null)
key_read=$("$cdpctl" keys create --data "$work/data" --role personalization --region eu 2>/dev/null)

"${runner[@]}" "$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 --threads 2 \
    2>"$work/server.err" &
server_pid=$!
port=
for _ in $(seq 1200); do # valgrind starts slowly
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.err")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "FAIL server did not start ($mode):"
    cat "$work/server.err"
    echo "0 passed, 1 failed"
    exit 1
fi
base="http://127.0.0.1:$port"
post() { # expected-status path key body [curl args]
    local expected=$1 path=$2 key=$3 body=$4
    shift 4
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST "$base$path" \
        -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@" \
        --data-binary "$body")
    [ "$got" = "$expected" ] && pass || fail "POST $path" "status $got, expected $expected"
}
post 200 /v1/identify "$key_ingest" '{"userId":"u1","traits":{"email":"Alice@Example.com","phone":"+47 22 33 44 55"},"context":{"location":{"country":"DE"}}}'
post 200 /v1/batch "$key_ingest" '{"batch":[{"type":"track","userId":"u1","event":"Order Completed"},{"type":"identify"}]}'
printf '%s' '{"anonymousId":"a1","event":"Viewed"}' | gzip -c >"$work/event.gz"
post 200 /v1/track "$key_ingest" "@$work/event.gz" -H 'Content-Encoding: gzip'
post 400 /v1/track "$key_ingest" 'not gzip' -H 'Content-Encoding: gzip'
post 400 /v1/track "$key_ingest" '{"event":'
post 202 /opengdpr_requests "$key_dpo" '{"subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "access", "submitted_time": "2024-05-01T10:00:00Z", "api_version": "0.1", "subject_identities": [{"identity_type": "email", "identity_value": "alice@example.com"}]}'
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$base/v1/profiles/email:alice@example.com" \
    -H "Authorization: Bearer $key_read" -H 'X-CDP-Purpose: personalization')
# 403: GDPR personalization needs consent this person never gave; the read path ran either way.
case $got in 200 | 403) pass ;; *) fail "GET profile" "status $got" ;; esac

kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=
[ "$code" = 0 ] && pass || fail "exit_on_sigterm" "exit status $code ($mode)"
if grep -E 'LeakSanitizer|AddressSanitizer|runtime error:|^==[0-9]+== ' "$work/server.err" |
    grep -qv 'Warning: unimplemented fcntl'; then
    fail "no_leak_on_shutdown" "$mode reported:"
    # Not the words ctest's FAIL_REGULAR_EXPRESSION looks for: the status above already fails.
    grep -E '^==[0-9]+==|#[0-9]+ |SUMMARY' "$work/server.err" | head -40 | sed 's/^/  /'
else
    pass
fi
echo "shutdown checked with $mode"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
