#!/usr/bin/env bash
# OpenGDPR / OpenDSR over HTTP with curl: /discovery, both body shapes, the route aliases,
# status, result (receipt, export), cancel, and the refusals 401, 403, 400, 404, 409.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-dsr-http-XXXXXX)
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
for role in ingest personalization dpo auditor admin; do
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
dpo=(-H "Authorization: Bearer $key_dpo")

request POST /v1/identify "${json[@]}" -u "$key_ingest:" \
    -d '{"userId": "u-ann", "traits": {"email": "ann@example.com", "last_name": "Old"}}'
expect ingest_ann 200
request POST /v1/identify "${json[@]}" -u "$key_ingest:" \
    -d '{"userId": "u-ben", "traits": {"email": "ben@example.com"}}'
expect ingest_ben 200

# ---- discovery ----------------------------------------------------------------------------------
request GET /discovery
expect discovery_without_key_is_401 401 unauthorized
request GET /discovery -H "Authorization: Bearer $key_personalization"
expect discovery_as_personalization_is_403 403 forbidden
request GET /discovery "${dpo[@]}"
expect discovery_is_200 200
expect_body discovery_types '"supported_subject_request_types":["erasure","access","portability","rectification","restriction","objection"]'
expect_body discovery_sha256 '"identity_type":"email","identity_format":"sha256"'

# ---- submission ---------------------------------------------------------------------------------
id1=a1b2c3d4-0000-4000-8000-000000000001
id2=a1b2c3d4-0000-4000-8000-000000000002
id3=a1b2c3d4-0000-4000-8000-000000000003
id4=a1b2c3d4-0000-4000-8000-000000000004
access_body='{"subject_request_id": "'$id1'", "subject_request_type": "access", "submitted_time": "2024-05-01T10:00:00Z", "subject_identities": [{"identity_type": "email", "identity_value": "ann@example.com", "identity_format": "raw"}], "api_version": "0.1"}'
request POST /opengdpr_requests "${json[@]}" -d "$access_body"
expect submit_without_key_is_401 401 unauthorized
request POST /opengdpr_requests "${json[@]}" -H "Authorization: Bearer $key_ingest" -d "$access_body"
expect submit_as_ingest_is_403 403 forbidden
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d '{"subject_request_id": '
expect submit_bad_json_is_400 400 invalid_json
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d '{"subject_request_id": "x"}'
expect submit_bad_id_is_400 400 bad_request
expect_body submit_bad_id_names_field 'subject_request_id'
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d "$access_body"
expect submit_opengdpr_is_202 202
expect_body submit_answer_id "\"subject_request_id\":\"$id1\""
expect_body submit_answer_due '"expected_completion_time":"2024-05-31T10:00:00.000Z"'
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d "$access_body"
expect resubmit_identical_is_202 202
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d "${access_body/access/erasure}"
expect resubmit_different_is_409 409 conflict

# OpenDSR v3 body on the alias, CCPA due date, sha256 identity.
ann_sha=$(printf '%s' ann@example.com | sha256sum | cut -d' ' -f1)
request POST /opendsr_requests "${json[@]}" "${dpo[@]}" -d '{"subject_request_id": "'$id2'", "subject_request_type": "erasure", "submitted_time": "2024-05-01T10:00:00Z", "regulation": "ccpa", "subject_identities": {"email": {"value": "ben@example.com", "format": "raw"}}}'
expect submit_opendsr_alias_is_202 202
expect_body submit_ccpa_due '"expected_completion_time":"2024-06-15T10:00:00.000Z"'
request POST /opencompliance_requests "${json[@]}" "${dpo[@]}" -d '{"subject_request_id": "'$id3'", "subject_request_type": "rectification", "submitted_time": "2024-05-01T10:00:00Z", "subject_identities": [{"identity_type": "email", "identity_value": "'$ann_sha'", "identity_format": "sha256"}], "api_version": "0.1", "extensions": {"cdp": {"traits": {"last_name": "New"}}}}'
expect submit_opencompliance_alias_is_202 202
request POST /opengdpr_requests "${json[@]}" "${dpo[@]}" -d '{"subject_request_id": "'$id4'", "subject_request_type": "restriction", "submitted_time": "2024-05-01T10:00:00Z", "subject_identities": [{"identity_type": "email", "identity_value": "ann@example.com"}], "api_version": "0.1"}'
expect submit_restriction_is_202 202

# ---- status, cancel, result -------------------------------------------------------------------
request GET /opengdpr_requests/$id4 "${dpo[@]}"
expect status_is_200 200
expect_body status_pending '"request_status":"pending"'
request DELETE /opengdpr_requests/$id4 "${dpo[@]}"
expect cancel_pending_is_200 200
expect_body cancel_state '"request_status":"cancelled"'
request DELETE /opengdpr_requests/$id4 "${dpo[@]}"
expect cancel_again_is_409 409 conflict
request GET /opengdpr_requests/00000000-0000-4000-8000-000000000000 "${dpo[@]}"
expect status_unknown_is_404 404 not_found
request GET /opengdpr_requests/$id1/result "${dpo[@]}"
if [ "$status" = 409 ]; then pass; else expect result_before_completion_is_409_or_ready 200; fi

# The server's upkeep (every 5 s) runs the worker.
done_all=0
for _ in $(seq 150); do
    request GET /opendsr_requests/$id2 "${dpo[@]}"
    if grep -q '"request_status":"completed"' "$work/body"; then
        request GET /opengdpr_requests/$id3 "${dpo[@]}"
        grep -q '"request_status":"completed"' "$work/body" && { done_all=1; break; }
    fi
    sleep 0.1
done
[ "$done_all" = 1 ] && pass || fail worker_completes "requests not completed in 15 s"
request DELETE /opengdpr_requests/$id2 "${dpo[@]}"
expect cancel_completed_is_409 409 conflict

request GET /opengdpr_requests/$id2/result "${dpo[@]}"
expect erasure_result_is_200 200
expect_body erasure_result_is_receipt '"signature"'
request GET /v1/profiles/email:ben%40example.com "${dpo[@]}" -H 'X-CDP-Purpose: legal_obligation'
expect erased_person_is_404 404 not_found

request GET /opengdpr_requests/$id1/result "${dpo[@]}"
expect access_result_is_200 200
expect_body access_result_holds_data 'ann@example.com'
expect_body access_result_rectified '"New"'
if grep -q '"Old"' "$work/body"; then fail rectified_old_gone "old value still exported"; else pass; fi
request GET "/opengdpr_requests/$id1/result?format=avro" "${dpo[@]}"
expect access_avro_is_400 400 bad_request
request GET /opengdpr_requests/$id1/result -H "Authorization: Bearer $key_auditor"
expect result_as_auditor_is_403 403 forbidden

request GET /metrics -H "Authorization: Bearer $key_admin"
expect metrics_is_200 200
expect_body metrics_total 'cdp_dsr_requests_total{type="erasure"} 1'
expect_body metrics_overdue 'cdp_dsr_overdue 0'

stop_server

# ---- cdpctl dsr list / rectify ---------------------------------------------------------------
out=$("$cdpctl" dsr list --data "$work/data" 2>"$work/err")
[ $? = 0 ] && pass || fail cli_dsr_list "exit $?: $(cat "$work/err")"
case "$out" in *"\"subject_request_id\":\"$id2\""*'"request_status":"completed"'*) pass ;;
    *) fail cli_dsr_list_content "$out" ;; esac
case "$out" in *ann@example.com*|*ben@example.com*) fail cli_dsr_list_no_identifiers "$out" ;; *) pass ;; esac
"$cdpctl" dsr --data "$work/data" >/dev/null 2>&1; [ $? = 2 ] && pass || fail cli_dsr_usage "exit not 2"
out=$("$cdpctl" rectify --data "$work/data" --id email:ann@example.com --traits '{"last_name": "Newer"}' 2>"$work/err")
case "$out" in *'"rectified":["last_name"]'*) pass ;; *) fail cli_rectify "$out $(cat "$work/err")" ;; esac
"$cdpctl" rectify --data "$work/data" --id email:ann@example.com --traits '{"last_name": null}' >/dev/null 2>"$work/err"
[ $? = 2 ] && grep -q 'traits.last_name' "$work/err" && pass || fail cli_rectify_null "$(cat "$work/err")"
"$cdpctl" rectify --data "$work/data" --id email:nobody@example.com --traits '{"last_name": "X"}' >/dev/null 2>"$work/err"
[ $? = 1 ] && grep -q "not found" "$work/err" && pass || fail cli_rectify_unknown_person_exits_1 "$(cat "$work/err")"
"$cdpctl" rectify --data "$work/data" --id email:ann@example.com >/dev/null 2>&1
[ $? = 2 ] && pass || fail cli_rectify_usage "exit not 2"

if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|: internal: ' "$work/server.err"; then
    fail server_clean "see below"; cat "$work/server.err"
else pass; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
