#!/usr/bin/env bash
# POST /v1/consent and GET /v1/profiles/{ref}/consent over HTTP with curl: roles (401, 403),
# refusals (400 bad TCF, unknown purpose, invalid JSON), Sec-GPC: 1 for a Californian and for a
# person whose regime does not honour it, the purpose header, and the consent view.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-consent-http-XXXXXX)
server_pid=
unset CDP_ROOT_KEY
passed=0
failed=0

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
    [ -s "$work/body" ] && sed 's/^/  body: /' "$work/body" | head -5
}
request() { # METHOD PATH [curl args...]
    local method=$1 path=$2
    shift 2
    status=$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" --max-time 20 "$@" "$base$path")
}
expect() { # name status [code]
    local name=$1 want=$2 code=${3:-}
    if [ "$status" != "$want" ]; then fail "$name" "status $status, expected $want"; return; fi
    if [ -n "$code" ] &&
        ! grep -qE "^\{\"error\": \{\"code\": \"$code\", \"message\": \".+\"\}\}$" "$work/body"; then
        fail "$name" "body is not an error with code $code"
        return
    fi
    pass
}
expect_body() { # name fixed-text
    if grep -qF -- "$2" "$work/body"; then pass; else fail "$1" "'$2' not in the body"; fi
}

"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" 2>/dev/null ||
    { echo "FAIL init"; echo "0 passed, 1 failed"; exit 1; }
for role in ingest personalization dpo auditor; do
    key=$("$cdpctl" keys create --data "$work/data" --role "$role" --region us --source web 2>"$work/err")
    [ -n "$key" ] || { echo "FAIL keys create $role"; cat "$work/err"; }
    printf -v "key_$role" '%s' "$key"
done

"$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 --threads 2 2>"$work/server.err" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.err")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
base="http://127.0.0.1:$port"
up=0
for _ in $(seq 100); do curl -s -o /dev/null --max-time 1 "$base/healthz" && { up=1; break; }; sleep 0.05; done
[ "$up" = 1 ] || { echo "FAIL server did not start"; cat "$work/server.err"; echo "0 passed, 1 failed"; exit 1; }

json=(-H 'Content-Type: application/json')
tcf=$(sed -n 's/^ *"tc_string": "\([^"]*\)",$/\1/p' "$source_dir/tests/data/tcf_vectors.json" | head -1)
[ -n "$tcf" ] && pass || fail tcf_vector_found "no tc_string in tests/data/tcf_vectors.json"

# ---- POST /v1/consent ----------------------------------------------------------------------------

body='{"identity": {"type": "email", "value": "ann@example.com"}, "purposes": {"marketing": "granted"}}'
request POST /v1/consent "${json[@]}" -d "$body"
expect consent_without_key_is_401 401 unauthorized
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_personalization" -d "$body"
expect consent_with_personalization_key_is_403 403 forbidden
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_auditor" -d "$body"
expect consent_with_auditor_key_is_403 403 forbidden
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_ingest" \
    -d '{"identity": {"type": "email", "value": "ann@example.com"}, "purposes": {"foo": "granted"}}'
expect unknown_purpose_is_400 400 bad_request
expect_body unknown_purpose_names_it 'purposes.foo: unknown purpose'
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_ingest" \
    -d '{"identity": {"type": "email", "value": "ann@example.com"}, "tcf": "CPXw==AA"}'
expect bad_tcf_is_400 400 bad_request
expect_body bad_tcf_says_why 'tcf: not base64url'
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_ingest" -d '{"identity": '
expect bad_json_is_400 400 invalid_json
request GET "/v1/profiles/email:ann%40example.com/consent" -H "Authorization: Bearer $key_personalization" \
    -H 'X-CDP-Purpose: analytics'
expect refusals_made_nobody 404 not_found

# Segment write key (HTTP Basic) as for ingest; a TC string grants the mapped purposes.
request POST /v1/consent "${json[@]}" -u "$key_ingest:" \
    -d "{\"identity\": {\"type\": \"email\", \"value\": \"ann@example.com\"}, \"purposes\": {\"marketing\": \"granted\"}, \"tcf\": \"$tcf\", \"notice_version\": \"n1\"}"
expect consent_is_200 200
expect_body consent_records_marketing '"marketing":"granted"'
expect_body consent_records_tcf_purposes '"advertising":"granted"'
expect_body consent_without_gpc '"gpc":"absent"'
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_dpo" \
    -d '{"identity": {"type": "email", "value": "ann@example.com"}, "purposes": {"analytics": "withdrawn"}}'
expect consent_by_dpo_is_200 200

# ---- GET /v1/profiles/{ref}/consent ------------------------------------------------------------

ref="/v1/profiles/email:ann%40example.com/consent"
request GET "$ref" -H "Authorization: Bearer $key_personalization"
expect consent_view_needs_purpose 403 purpose_required
request GET "$ref" -H "Authorization: Bearer $key_ingest" -H 'X-CDP-Purpose: analytics'
expect consent_view_by_ingest_is_403 403 forbidden
request GET "$ref" -H 'X-CDP-Purpose: analytics'
expect consent_view_without_key_is_401 401 unauthorized
request GET "$ref" -H "Authorization: Bearer $key_personalization" -H 'X-CDP-Purpose: analytics'
expect consent_view_is_200 200
expect_body consent_view_marketing '"marketing":{"state":"granted"'
expect_body consent_view_analytics '"analytics":{"state":"withdrawn"'
expect_body consent_view_tcf_proof "\"tcf\":\"$tcf\""
expect_body consent_view_notice '"notice_version":"n1"'
expect_body consent_view_gpc '"gpc":{"signal":false,"honoured":false'

# ---- Sec-GPC: 1 ---------------------------------------------------------------------------------

request POST /v1/identify "${json[@]}" -u "$key_ingest:" \
    -d '{"userId": "cal-9", "traits": {"address": {"state": "CA", "country": "US"}}}'
expect californian_identified 200
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_ingest" -H 'Sec-GPC: 1' \
    -d '{"identity": {"type": "user_id", "value": "cal-9"}, "purposes": {"analytics": "granted"}}'
expect gpc_consent_is_200 200
expect_body gpc_honoured_for_californian '"gpc":"honoured"'
expect_body gpc_denies_advertising '"advertising":"denied"'
expect_body gpc_keeps_first_party '"analytics":"granted"'
request GET /v1/profiles/user_id:cal-9/consent -H "Authorization: Bearer $key_dpo" -H 'X-CDP-Purpose: analytics'
expect gpc_view_is_200 200
expect_body gpc_view_shows_honoured '"gpc":{"signal":true,"honoured":true,"regime":"ccpa"}'
request POST /v1/consent "${json[@]}" -H "Authorization: Bearer $key_ingest" -H 'Sec-GPC: 1' \
    -d '{"identity": {"type": "user_id", "value": "tx-less-9"}}'
expect gpc_for_us_default_is_200 200
expect_body gpc_not_applicable_for_us_default '"gpc":"not_applicable"'
expect_body gpc_records_nothing_for_us_default '"recorded":{}'
# On ingest: Sec-GPC records the opt-out with the event.
request POST /v1/identify "${json[@]}" -u "$key_ingest:" -H 'Sec-GPC: 1' \
    -d '{"userId": "cal-10", "traits": {"address": {"state": "CA", "country": "US"}}}'
expect gpc_ingest_is_200 200
request GET /v1/profiles/user_id:cal-10/consent -H "Authorization: Bearer $key_dpo" -H 'X-CDP-Purpose: analytics'
expect_body gpc_ingest_denied_advertising '"advertising":{"state":"denied"'

stop_server
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|: internal: ' "$work/server.err"; then
    fail server_clean "see below"; cat "$work/server.err"
else pass; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
