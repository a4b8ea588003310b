#!/usr/bin/env bash
# The web console end to end: Debian's Chromium (headless) driven by playwright-core
# (tests/clients/package.json) through tests/console/e2e.mjs against `cdpctl serve` with a few
# people, a consent history, a denied read and a backdated request. Screenshots of every view go
# to $CDP_BUILD_DIR/artifacts/console/. Then the JSONL export the console downloaded is compared
# with `cdpctl audit export` of the same range and verified with `cdpctl audit verify`.
# Skips (77) only when chromium is absent and cannot be installed (not root); fails otherwise.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
build=$(cd "$build" && pwd)
source_dir=$(cd "$source_dir" && pwd)
cdpctl="$build/cdpctl"
clients="$source_dir/tests/clients"
artifacts="$build/artifacts/console"
work=$(mktemp -d /tmp/cdp-console-XXXXXX)
server_pid=
unset CDP_ROOT_KEY

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT
fail_all() { echo "FAIL $1"; [ -s "${2:-/dev/null}" ] && sed 's/^/  /' "$2" | tail -30; exit 1; }

# ---- Chromium and playwright-core ----------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP console e2e: /usr/bin/chromium is not installed (run tools/deps.sh as root)"
        exit 77
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
        >"$work/apt.log" 2>&1 || fail_all "apt-get install chromium" "$work/apt.log"
fi
command -v node >/dev/null || fail_all "node is not installed"
. "$source_dir/tests/support/npm.sh" || exit 1
# The console must be tested: an unreachable registry with nothing installed fails.
clients_npm_install "$clients" "$work" || fail_all "npm install in tests/clients" "$work/npm.log"
[ -d "$clients/node_modules/playwright-core" ] || fail_all "playwright-core is not installed"

# ---- a data directory with people, consent history, a denial and requests ------------------------
"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" 2>"$work/err" ||
    fail_all "cdpctl init" "$work/err"
key() { "$cdpctl" keys create --data "$work/data" --region eu "$@" 2>>"$work/err" || fail_all "keys create $*" "$work/err"; }
CDP_KEY_DPO=$(key --role dpo)
CDP_KEY_AUDITOR=$(key --role auditor)
CDP_KEY_INGEST=$(key --role ingest --source web)
PERSONALIZATION=$(key --role personalization)
CDP_PUBKEY=$("$cdpctl" audit pubkey --data "$work/data" --region eu)
CDP_OTHER_PUBKEY=$("$cdpctl" audit pubkey --data "$work/data" --region us)
export CDP_KEY_DPO CDP_KEY_AUDITOR CDP_KEY_INGEST CDP_PUBKEY CDP_OTHER_PUBKEY

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

post() { # key path body
    curl -fsS -o /dev/null -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        "$CDP_BASE_URL$2" -d "$3" || fail_all "POST $2" "$work/server.err"
}
for i in 1 2 3 4 5 6; do
    post "$CDP_KEY_INGEST" /v1/identify \
        "{\"userId\":\"u$i\",\"traits\":{\"email\":\"person$i@example.com\"},\"context\":{\"location\":{\"country\":\"FR\"}}}"
    post "$CDP_KEY_INGEST" /v1/track "{\"userId\":\"u$i\",\"event\":\"Viewed\",\"context\":{\"location\":{\"country\":\"FR\"}}}"
done
post "$CDP_KEY_INGEST" /v1/identify \
    '{"userId":"erin","traits":{"email":"erin@example.com"},"context":{"location":{"country":"FR"}}}'
post "$CDP_KEY_INGEST" /v1/consent \
    '{"identity":{"type":"email","value":"erin@example.com"},"purposes":{"marketing":"granted"},"source":"web","timestamp":"2026-01-02T10:00:00Z"}'
post "$CDP_KEY_INGEST" /v1/consent \
    '{"identity":{"type":"email","value":"erin@example.com"},"purposes":{"marketing":"withdrawn"},"source":"web","timestamp":"2026-02-03T10:00:00Z"}'
# Reads without consent: denials in the log.
for i in 1 2 3; do
    curl -s -o /dev/null -H "Authorization: Bearer $PERSONALIZATION" -H 'X-CDP-Purpose: marketing' \
        "$CDP_BASE_URL/v1/profiles/user_id:u$i"
done
# A backdated access request (past its 30-day due date) and one for a person nobody holds.
old=$(date -u -d '-40 days' +%Y-%m-%dT%H:%M:%SZ)
post "$CDP_KEY_DPO" /opengdpr_requests \
    "{\"subject_request_id\":\"0b7a3c1e-1111-4a4a-8a8a-000000000001\",\"subject_request_type\":\"access\",\"submitted_time\":\"$old\",\"api_version\":\"0.1\",\"subject_identities\":[{\"identity_type\":\"email\",\"identity_value\":\"person1@example.com\",\"identity_format\":\"raw\"}]}"
post "$CDP_KEY_DPO" /opengdpr_requests \
    "{\"subject_request_id\":\"0b7a3c1e-1111-4a4a-8a8a-000000000002\",\"subject_request_type\":\"restriction\",\"submitted_time\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"api_version\":\"0.1\",\"subject_identities\":[{\"identity_type\":\"email\",\"identity_value\":\"nobody@example.com\",\"identity_format\":\"raw\"}]}"
# Many reads so the audit browser has more than one page.
for i in $(seq 30); do
    curl -s -o /dev/null -H "Authorization: Bearer $PERSONALIZATION" -H 'X-CDP-Purpose: support' \
        "$CDP_BASE_URL/v1/profiles/user_id:u$(( (i % 6) + 1 ))"
done
sleep 0.2
CDP_AUDIT_TO=$(( $(date +%s%3N) ))
export CDP_AUDIT_TO
sleep 0.05

# ---- the browser -----------------------------------------------------------------------------------
rm -rf "$artifacts"
mkdir -p "$artifacts"
CDP_ARTIFACTS="$artifacts" CDP_WORK="$work" CDP_CLIENTS="$clients" \
    timeout 300 node "$source_dir/tests/console/e2e.mjs"
node_status=$?
failed=0
[ "$node_status" = 0 ] || failed=1

# ---- the console's downloads against the CLI --------------------------------------------------------
stop_server
passed=0
check() { if eval "$2"; then echo "ok - $1"; passed=$((passed + 1)); else echo "not ok - $1"; failed=$((failed + 1)); fi; }
if [ -f "$work/console-export.jsonl" ]; then
    "$cdpctl" audit export --data "$work/data" --region eu --to "$CDP_AUDIT_TO" --format jsonl \
        --out "$work/cli-export.jsonl" 2>"$work/err" || fail_all "cdpctl audit export" "$work/err"
    # The same range gives the same records, byte for byte; the header (export time, tree size)
    # and the end (seal) differ because every export is itself audited.
    check "console JSONL export has the records of cdpctl audit export, byte for byte" \
        'cmp -s <(grep "^{\"type\":\"record\"" "$work/console-export.jsonl") <(grep "^{\"type\":\"record\"" "$work/cli-export.jsonl")'
    check "the console JSONL export verifies with cdpctl audit verify" \
        '"$cdpctl" audit verify --pubkey "$CDP_PUBKEY" "$work/console-export.jsonl" >/dev/null 2>&1'
    check "the console Avro export verifies with cdpctl audit verify" \
        '"$cdpctl" audit verify --pubkey "$CDP_PUBKEY" "$work/console-export.avro" >/dev/null 2>&1'
    check "the downloaded erasure receipt verifies with cdpctl erase verify" \
        '"$cdpctl" erase verify --pubkey "$CDP_PUBKEY" "$work/receipt.json" >/dev/null 2>&1'
    check "the lift was audited with its reason" \
        'grep "\"operation\":\"suppression.lift\"" "$work/cli-export.jsonl" | grep -q "\"reason\":\"fresh_consent\"" ||
         { "$cdpctl" audit export --data "$work/data" --region eu --operation suppression.lift --format jsonl --out "$work/lift.jsonl" 2>/dev/null &&
           grep -q "\"reason\":\"fresh_consent\"" "$work/lift.jsonl"; }'
    check "no e-mail in the audit log" '! grep -q "@example.com" "$work/cli-export.jsonl"'
else
    echo "not ok - the console produced no export to compare"
    failed=$((failed + 1))
fi
for view in signin dpo-queue dpo-lookup dpo-new-request dpo-suppressions dpo-charts \
    auditor-audit-log auditor-integrity auditor-integrity-tampered auditor-charts; do
    check "screenshot $view.png saved" '[ -s "$artifacts/$view.png" ]'
done
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/server.err"; then
    echo "not ok - server sanitizer clean"; cat "$work/server.err"; failed=$((failed + 1))
fi
echo "shell checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
