#!/usr/bin/env bash
# cdpctl erase end to end: a person ingested over HTTP (cdpctl serve) is erased by the CLI, the
# receipt verifies offline with `cdpctl audit pubkey`'s key and fails once altered, erasing again
# prints the same receipt, the server refuses the old identifiers (451 suppressed) until
# `cdpctl erase lift`, and the exit codes of API.md: unknown person 1, bad ref or usage 2.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-erase-cli-XXXXXX)
server_pid=
unset CDP_ROOT_KEY CDP_TEST_CRASH_AT
failed=0
passed=0

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

check() { # name command...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}

start_server() {
    "$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 2>"$work/server.err" &
    server_pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.err")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "FAIL server did not start"; cat "$work/server.err"; exit 1; }
}

post_identify() { # message id, user id, email -> HTTP status
    curl -s -o "$work/body" -w '%{http_code}' --max-time 20 -u "$ingest_key:" \
        -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$port/v1/identify" \
        -d "{\"userId\":\"$2\",\"messageId\":\"$1\",\"timestamp\":\"2026-11-01T10:00:00Z\",\"traits\":{\"email\":\"$3\",\"first_name\":\"Ola\"}}"
}

"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" >/dev/null 2>&1 ||
    { echo "FAIL init"; exit 1; }
ingest_key=$("$cdpctl" keys create --data "$work/data" --role ingest --region eu --source web)
start_server
check ingest_person test "$(post_identify m1 ola-1 ola@example.org)" = 200
check ingest_other test "$(post_identify m2 kari-1 kari@example.org)" = 200
stop_server

"$cdpctl" erase --data "$work/data" --id email:Ola@Example.org --request-id dsr-1 \
    >"$work/receipt.json" 2>"$work/err"
check erase_exit_0 test $? = 0
check receipt_names_request grep -q '"request_id":"dsr-1"' "$work/receipt.json"
check receipt_has_no_email sh -c "! grep -q 'ola@example.org' '$work/receipt.json'"
pubkey=$("$cdpctl" audit pubkey --data "$work/data" --region eu)
"$cdpctl" erase verify --pubkey "$pubkey" "$work/receipt.json" >/dev/null 2>&1
check receipt_verifies test $? = 0
sed 's/"events":1/"events":0/' "$work/receipt.json" >"$work/altered.json"
check altered_differs sh -c "! cmp -s '$work/receipt.json' '$work/altered.json'"
"$cdpctl" erase verify --pubkey "$pubkey" "$work/altered.json" >/dev/null 2>"$work/err"
check altered_fails test $? = 2
check altered_says_signature grep -q signature "$work/err"

"$cdpctl" erase --data "$work/data" --id user_id:ola-1 >"$work/again.json" 2>/dev/null
check erase_again_exit_0 test $? = 0
check erase_again_same_receipt cmp -s "$work/receipt.json" "$work/again.json"

"$cdpctl" erase --data "$work/data" --id email:nobody@example.org >/dev/null 2>"$work/err"
check unknown_exit_1 test $? = 1
check unknown_says_not_found grep -q "not found" "$work/err"
"$cdpctl" erase --data "$work/data" --id no-colon >/dev/null 2>&1
check bad_ref_exit_2 test $? = 2
"$cdpctl" erase --data "$work/data" --id email:x@example.org --request-id 'a b' >/dev/null 2>&1
check bad_request_id_exit_2 test $? = 2
"$cdpctl" erase --data "$work/data" >/dev/null 2>&1
check missing_id_exit_2 test $? = 2

start_server
check reingest_suppressed test "$(post_identify m3 ola-1 ola@example.org)" = 451
check reingest_code grep -q '"suppressed"' "$work/body"
check other_person_still_ingests test "$(post_identify m4 kari-1 kari@example.org)" = 200
stop_server
"$cdpctl" erase lift --data "$work/data" --id email:ola@example.org >/dev/null 2>&1
check lift_exit_0 test $? = 0
"$cdpctl" erase lift --data "$work/data" --id email:ola@example.org >/dev/null 2>&1
check lift_again_exit_1 test $? = 1
start_server
check email_comes_back test "$(post_identify m5 ola-2 ola@example.org)" = 200
check user_id_still_suppressed test "$(post_identify m6 ola-1 other@example.org)" = 451
stop_server
"$cdpctl" erase --data "$work/data" --id email:ola@example.org >"$work/second.json" 2>/dev/null
check second_person_erased test $? = 0
check second_receipt_is_new sh -c "! cmp -s '$work/receipt.json' '$work/second.json'"

echo "erase_cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
