#!/usr/bin/env bash
# The access matrix (issue 10): every route of the server's own table (`cdpctl serve
# --list-routes`, so a new route is covered the day it is added) × every role × a key of the
# person's region and of another region × a revoked key × a tampered key × no, garbled and
# wrong-scheme credentials → exactly the status the documentation gives:
#   - the roles allowed on each route are those of policies/roles.json (the operators' copy of
#     the table; /opendsr_requests and /opencompliance_requests are aliases of
#     /opengdpr_requests, API.md), and the server's table must say the same;
#   - no credentials, garbled credentials, an unknown scheme, HTTP Basic where only Bearer is
#     taken (every route but ingest and consent), a tampered or revoked key: 401 unauthorized;
#   - a valid key of a role not allowed on the route: 403 forbidden;
#   - an allowed role on a purpose route without X-CDP-Purpose: 403 purpose_required;
#   - an allowed role reading a person of its own region: the route's success (200); reading an
#     eu person with a us key for "personalization", which no transfer rule allows (eu->us is
#     support, fraud prevention and legal obligation only, policies/transfers.json): 451
#     residency_denied;
#   - other allowed calls: the route's documented answer for the probe sent (see probe()).
# Plus: the key comparison is constant-time (sodium_memcmp over BLAKE2b hashes, also for unknown
# key ids), checked in the source, as a timing measurement over HTTP would be noise.
set -u
. "$(dirname "$0")/support/server.sh"
srv_setup access-matrix

roles=(ingest personalization dpo auditor admin)
srv_init "$work/data"
declare -A key revoked_key
for role in "${roles[@]}"; do
    extra=()
    [ "$role" = ingest ] && extra=(--source web)
    for region in eu us; do
        key[$role.$region]=$(srv_key "$work/data" "$role" "$region" "${extra[@]}") ||
            srv_abort "key $role $region"
    done
    revoked_key[$role]=$(srv_key "$work/data" "$role" eu "${extra[@]}") || srv_abort "key $role"
    "$cdpctl" keys revoke --data "$work/data" --id "$(srv_key_id "${revoked_key[$role]}")" \
        >/dev/null 2>"$work/err" || srv_abort "revoke: $(cat "$work/err")"
done

# ---- the documented table --------------------------------------------------------------------

"$cdpctl" serve --list-routes >"$work/routes.json" 2>"$work/err" ||
    srv_abort "serve --list-routes: $(cat "$work/err")"
route_count=$(jq length "$work/routes.json")
[ "$route_count" -ge 20 ] && pass || fail routes_listed "only $route_count routes"

# documented_roles METHOD PATTERN: the roles policies/roles.json lists for the route (sorted,
# space-separated); "public" for its unauthenticated routes.
documented_roles() {
    local method=$1 pattern=$2
    pattern=$(sed -E 's#^/(opendsr|opencompliance)_requests#/opengdpr_requests#; s#\{[a-z_]+\}#{}#g' <<<"$pattern")
    jq -r --arg route "$method $pattern" '
        def norm: gsub("\\{[a-z_]+\\}"; "{}");
        if ([.unauthenticated_routes[] | norm] | index($route)) != null then "public"
        else [.roles | to_entries[] | select([.value.routes[] | norm] | index($route) != null)
              | .key] | sort | join(" ") end' "$source_dir/policies/roles.json"
}

# ---- a person to read, and the probes --------------------------------------------------------

srv_start "$work/data" --threads 4 || { cat "$work/server.err"; srv_abort "server start"; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
request POST /v1/identify -u "${key[ingest.eu]}:" -H 'Content-Type: application/json' \
    -d "{\"userId\":\"mx-eu\",\"messageId\":\"mx-seed\",\"timestamp\":\"$now\",\"traits\":{\"email\":\"mx-eu@example.org\",\"first_name\":\"Matrix\"},\"context\":{\"location\":{\"country\":\"DE\"}}}"
[ "$status" = 200 ] || srv_abort "seed identify: HTTP $status $(cat "$work/body")"
request POST /v1/consent -H "Authorization: Bearer ${key[dpo.eu]}" -H 'Content-Type: application/json' \
    -d "{\"identity\":{\"type\":\"user_id\",\"value\":\"mx-eu\"},\"purposes\":{\"personalization\":\"granted\",\"marketing\":\"granted\",\"analytics\":\"granted\"},\"source\":\"web\",\"notice_version\":\"v1\",\"timestamp\":\"$now\"}"
[ "$status" = 200 ] || srv_abort "seed consent: HTTP $status $(cat "$work/body")"

probe_number=0
# probe METHOD PATTERN REGION: sets probe_path, probe_args (curl arguments besides auth) and
# probe_want (the status API.md gives an allowed role's key of REGION for this request).
probe() {
    local method=$1 pattern=$2 region=$3 body=
    probe_number=$((probe_number + 1))
    local n=$probe_number user="mx-ingest-$probe_number"
    probe_args=()
    probe_want=200
    probe_path=$pattern
    local event="\"messageId\":\"mx-m$n\",\"timestamp\":\"$now\",\"context\":{\"location\":{\"country\":\"DE\"}}"
    case "$method $pattern" in
    "POST /v1/identify") body="{\"userId\":\"$user\",$event,\"traits\":{\"first_name\":\"P$n\"}}" ;;
    "POST /v1/track") body="{\"userId\":\"$user\",$event,\"event\":\"Matrix Probe\"}" ;;
    "POST /v1/page" | "POST /v1/screen") body="{\"userId\":\"$user\",$event,\"name\":\"Home\"}" ;;
    "POST /v1/group") body="{\"userId\":\"$user\",$event,\"groupId\":\"g-$n\"}" ;;
    "POST /v1/alias") body="{\"userId\":\"$user\",$event,\"previousId\":\"mx-prev-$n\"}" ;;
    "POST /v1/batch") body="{\"batch\":[{\"type\":\"track\",\"userId\":\"$user\",$event,\"event\":\"Matrix Probe\"}]}" ;;
    "POST /v1/consent")
        body="{\"identity\":{\"type\":\"user_id\",\"value\":\"$user\"},\"purposes\":{\"analytics\":\"denied\"},\"source\":\"web\",\"notice_version\":\"v1\",\"timestamp\":\"$now\"}" ;;
    "POST /v1/profiles/{ref}/unmerge")
        # Nobody holds this id: 404 not_found once the caller is let through.
        probe_path=/v1/profiles/user_id:mx-nobody/unmerge
        body='{"identity":{"type":"email","value":"mx-nobody@example.org"}}'
        probe_want=404 ;;
    "GET /v1/profiles/{ref}"*)
        probe_path=${pattern/\{ref\}/user_id:mx-eu}
        probe_args=(-H 'X-CDP-Purpose: personalization')
        [ "$region" = eu ] || probe_want=451 ;;
    "GET /v1/audit") probe_path="/v1/audit?region=eu&format=jsonl" ;;
    "GET /v1/audit/pubkey") probe_path="/v1/audit/pubkey?region=eu" ;;
    "POST /"*_requests)
        body="{\"subject_request_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"subject_request_type\":\"access\",\"submitted_time\":\"$now\",\"subject_identities\":[{\"identity_type\":\"email\",\"identity_value\":\"mx-eu@example.org\",\"identity_format\":\"raw\"}],\"api_version\":\"0.1\"}"
        probe_want=202 ;;
    *_requests/\{ref\}*)
        # An id no request has: 404 not_found once the caller is let through.
        probe_path=${pattern/\{ref\}/$(cat /proc/sys/kernel/random/uuid)}
        probe_want=404 ;;
    "GET /healthz" | "GET /metrics" | "GET /discovery") ;;
    "GET /console") probe_want=308 ;; # to /console/
    "GET /console/") ;;
    "GET /console/{ref}") probe_path=/console/app.js ;;
    "GET /v1/whoami" | "GET /v1/dsr" | "GET /v1/dsr/timeliness" | "GET /v1/suppressions") ;;
    "POST /v1/subjects/lookup")
        # A DPO of either region may look a person up (legal obligation crosses borders).
        body='{"identity":{"type":"user_id","value":"mx-eu"}}' ;;
    "POST /v1/suppressions/lift")
        # Nobody suppressed has this id: 404 not_found once the caller is let through.
        body='{"identity":{"type":"email","value":"mx-nobody@example.org"},"reason":"fresh_consent"}'
        probe_want=404 ;;
    *)
        probe_want=unknown ;;
    esac
    [ -n "$body" ] && probe_args+=(-H 'Content-Type: application/json' --data-binary "$body")
    return 0
}

# try NAME WANT [CODE] METHOD PATH [curl args]: one cell of the matrix.
cells=0
try() {
    local name=$1 want=$2 code=$3 method=$4 path=$5
    shift 5
    cells=$((cells + 1))
    request "$method" "$path" "$@"
    expect "$name" "$want" "$code"
}

for index in $(seq 0 $((route_count - 1))); do
    method=$(jq -r ".[$index].method" "$work/routes.json")
    pattern=$(jq -r ".[$index].pattern" "$work/routes.json")
    table_roles=$(jq -r ".[$index].roles | sort | join(\" \")" "$work/routes.json")
    purpose=$(jq -r ".[$index].purpose" "$work/routes.json")
    basic=$(jq -r ".[$index].basic_auth" "$work/routes.json")
    doc=$(documented_roles "$method" "$pattern")
    route="$method $pattern"
    tag=$(tr -c 'a-zA-Z0-9\n' _ <<<"${method}_$pattern" | tr -s _)
    probe "$method" "$pattern" eu
    if [ "$probe_want" = unknown ]; then
        fail "${tag}_has_a_probe" "no probe for $route: add one to access_matrix_test.sh"
        continue
    fi
    if [ "$doc" = public ]; then
        [ -z "$table_roles" ] && pass || fail "${tag}_public_in_table" "table roles: $table_roles"
        try "${tag}_without_credentials" "$probe_want" "" "$method" "$probe_path" "${probe_args[@]}"
        try "${tag}_with_garbage_credentials" "$probe_want" "" "$method" "$probe_path" "${probe_args[@]}" \
            -H 'Authorization: Bearer garbage'
        continue
    fi
    if [ -z "$doc" ]; then
        fail "${tag}_documented" "$route is not in policies/roles.json"
        continue
    fi
    [ "$doc" = "$table_roles" ] && pass ||
        fail "${tag}_table_matches_roles_json" "server: [$table_roles], roles.json: [$doc]"
    allowed=" $doc "
    first=${doc%% *}

    # Credentials that are not a valid key.
    try "${tag}_no_credentials" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}"
    try "${tag}_garbled_bearer" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}" \
        -H 'Authorization: Bearer not-a-key'
    try "${tag}_empty_bearer" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}" \
        -H 'Authorization: Bearer '
    try "${tag}_unknown_scheme" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}" \
        -H "Authorization: Digest ${key[$first.eu]}"
    valid=${key[$first.eu]}
    tampered="${valid:0:63}$([ "${valid:63:1}" = A ] && echo B || echo A)"
    try "${tag}_tampered_key" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}" \
        -H "Authorization: Bearer $tampered"
    unknown_id="cdp_0123456789abcdef${valid:20}"
    try "${tag}_unknown_key_id" 401 unauthorized "$method" "$probe_path" "${probe_args[@]}" \
        -H "Authorization: Bearer $unknown_id"
    if [ "$basic" != true ]; then
        try "${tag}_basic_where_bearer_only" 401 unauthorized "$method" "$probe_path" \
            "${probe_args[@]}" -u "$valid:"
    fi

    for role in "${roles[@]}"; do
        if [[ "$allowed" == *" $role "* ]]; then
            try "${tag}_${role}_revoked" 401 unauthorized "$method" "$probe_path" \
                "${probe_args[@]}" -H "Authorization: Bearer ${revoked_key[$role]}"
            for region in eu us; do
                probe "$method" "$pattern" "$region"
                code=
                [ "$probe_want" = 451 ] && code=residency_denied
                [ "$probe_want" = 404 ] && code=not_found
                try "${tag}_${role}_${region}" "$probe_want" "$code" "$method" "$probe_path" \
                    "${probe_args[@]}" -H "Authorization: Bearer ${key[$role.$region]}"
                if [ "$basic" = true ] && [ "$region" = eu ]; then
                    probe "$method" "$pattern" "$region"
                    try "${tag}_${role}_write_key" "$probe_want" "$code" "$method" "$probe_path" \
                        "${probe_args[@]}" -u "${key[$role.$region]}:"
                fi
            done
            if [ "$purpose" = true ]; then
                try "${tag}_${role}_without_purpose" 403 purpose_required "$method" \
                    "${pattern/\{ref\}/user_id:mx-eu}" -H "Authorization: Bearer ${key[$role.eu]}"
            fi
        else
            for region in eu us; do
                probe "$method" "$pattern" "$region"
                try "${tag}_${role}_${region}_forbidden" 403 forbidden "$method" "$probe_path" \
                    "${probe_args[@]}" -H "Authorization: Bearer ${key[$role.$region]}"
            done
        fi
    done
done
echo "access_matrix: $cells cells over $route_count routes"

# Every documented route is served (roles.json does not describe routes that do not exist).
jq -r '(.unauthenticated_routes[]), (.roles[].routes[])' "$source_dir/policies/roles.json" |
    sort -u | while read -r method pattern; do
        norm=$(sed -E 's#\{[a-z_]+\}#{}#g' <<<"$pattern")
        jq -e --arg m "$method" --arg p "$norm" \
            'any(.[]; .method == $m and (.pattern | gsub("\\{[a-z_]+\\}"; "{}")) == $p)' \
            "$work/routes.json" >/dev/null || echo "$method $pattern"
    done >"$work/undocumented"
[ -s "$work/undocumented" ] && fail roles_json_routes_exist "$(cat "$work/undocumented")" || pass

# Refusals were audited and nothing leaked: a refused read returns no personal data.
grep -l 'mx-eu@example.org' "$work/body" >/dev/null 2>&1 && fail last_body_clean "leak" || pass

srv_stop

# ---- constant-time key comparison (by inspection of the one verifier) ------------------------
apikeys="$source_dir/cdp/api/apikeys.c"
verify_body=$(sed -n '/^cdp_status cdp_apikey_verify(/,/^}/p' "$apikeys")
grep -q 'sodium_memcmp(hash, found ? entry.hash : no_hash, KEY_HASH_BYTES)' <<<"$verify_body" &&
    pass || fail key_compare_is_sodium_memcmp "cdp_apikey_verify no longer uses sodium_memcmp"
grep -qE '(^|[^_])(memcmp|strcmp|strncmp)\(' <<<"$verify_body" &&
    fail key_compare_no_early_exit_compare "a non-constant-time comparison in cdp_apikey_verify" ||
    pass
grep -q 'crypto_generichash(hash, KEY_HASH_BYTES' "$apikeys" && pass ||
    fail key_compare_over_hashes "keys are no longer compared as BLAKE2b hashes"
srv_summary
