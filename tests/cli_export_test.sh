#!/usr/bin/env bash
# cdpctl import / profile / export-subject end to end: the import summary (accepted, duplicates,
# rejected with line numbers, blank lines skipped, a non-JSON line not stopping the import) and
# its exit codes; profile as a purpose sees it; the subject export in JSON (parsed by jq and
# python3, every event there, nobody else's data, mode 0600, audited) and Avro (read by npm avsc,
# counts checked); and every refusal with its exit code (2 usage, 1 not found / runtime).
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-cli-export-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset CDP_ROOT_KEY
passed=0
failed=0

. "$(dirname "$0")/support/cli.sh" || exit 1 # check, expect_text, expect_eq, expect

data="$work/data"
check init 0 "$cdpctl" init --data "$data" --policies "$source_dir/policies"

# ---- import ---------------------------------------------------------------------------------
# Line numbers matter: 1 good (a web visitor), 2 blank, 3 good (a signed-in user), 4 not JSON, 5 duplicate of 1, 6 a JSON array,
# 7 no identifier, 8 whitespace only, 9 good (links the web visitor to the user: a merge),
# 10 a message of another type than it says, 11 good (someone else).
cat >"$work/web.jsonl" <<'EOF'
{"type":"identify","anonymousId":"web-kari","messageId":"w1","traits":{"email":"Kari@Example.NO","first_name":"Kari"}}

{"type":"track","userId":"kari-1","messageId":"w2","event":"Product Viewed","properties":{"sku":"SKU-1","price":99.5}}
this is not json {
{"type":"identify","anonymousId":"web-kari","messageId":"w1","traits":{"email":"Kari@Example.NO","first_name":"Kari"}}
["type", "track"]
{"type":"track","messageId":"w7","event":"Nobody"}
   
{"type":"track","userId":"kari-1","messageId":"w3","event":"Signed In","context":{"traits":{"email":"kari@example.no"}}}
{"type":"launch","userId":"kari-1","messageId":"w10"}
{"type":"identify","userId":"ola-2","messageId":"o1","traits":{"email":"ola@example.com","first_name":"Ola"}}
EOF
check import_with_bad_lines_exits_2 2 "$cdpctl" import --data "$data" --source web \
    --progress 4 "$work/web.jsonl"
cp "$work/out" "$work/summary.json"
expect_eq import_lines "$(jq .lines "$work/summary.json")" 11
expect_eq import_blank "$(jq .blank "$work/summary.json")" 2
expect_eq import_accepted "$(jq .accepted "$work/summary.json")" 4
expect_eq import_duplicates "$(jq .duplicates "$work/summary.json")" 1
expect_eq import_rejected "$(jq .rejected "$work/summary.json")" 4
expect_eq import_rejected_line_numbers "$(jq -c '[.rejected_lines[].line]' "$work/summary.json")" \
    "[4,6,7,10]"
expect_eq import_not_json_code "$(jq -r '.rejected_lines[0].code' "$work/summary.json")" \
    invalid_json
expect_eq import_no_identifier_code "$(jq -r '.rejected_lines[2].code' "$work/summary.json")" \
    bad_request
expect_text import_no_identifier_names_the_field "$work/summary.json" "userId"
expect_text import_reports_line_on_stderr "$work/err" "line 4: invalid_json"
expect_text import_reports_line_7_on_stderr "$work/err" "line 7: bad_request"
expect_text import_progress_on_stderr "$work/err" "8 lines read"
expect_text import_final_summary_on_stderr "$work/err" \
    "11 lines: 4 accepted, 1 duplicates, 4 rejected, 2 blank"

# In-store events from standard input, as another channel; all good: exit 0.
cat >"$work/pos.jsonl" <<'EOF'
{"type":"track","userId":"kari-1","messageId":"p1","event":"Order Completed","properties":{"revenue":250,"currency":"NOK"}}
{"type":"identify","userId":"kari-1","messageId":"p2","traits":{"phone":"+47 22 33 44 55","loyalty_tier":"gold"}}
EOF
check import_stdin_all_good_exits_0 0 "$cdpctl" import --data "$data" --source pos - \
    <"$work/pos.jsonl"
expect_eq import_stdin_accepted "$(jq .accepted "$work/out")" 2
check import_again_is_all_duplicates 0 "$cdpctl" import --data "$data" --source pos \
    "$work/pos.jsonl"
expect_eq import_again_duplicates "$(jq .duplicates "$work/out")" 2

check import_needs_source 2 "$cdpctl" import --data "$data" "$work/pos.jsonl"
check import_bad_source 2 "$cdpctl" import --data "$data" --source "Web Shop" "$work/pos.jsonl"
expect_text import_bad_source_names_field "$work/err" "source"
check import_needs_file 2 "$cdpctl" import --data "$data" --source web
check import_one_file_only 2 "$cdpctl" import --data "$data" --source web a b
check import_missing_file 2 "$cdpctl" import --data "$data" --source web "$work/none.jsonl"
check import_bad_batch 2 "$cdpctl" import --data "$data" --source web --batch 501 \
    "$work/pos.jsonl"
check import_missing_data_dir 2 "$cdpctl" import --data "$work/nowhere" --source web \
    "$work/pos.jsonl"
check import_help 0 "$cdpctl" import --help
expect_text import_help_documents_exit_codes "$work/out" "Exit 0"

# ---- profile --------------------------------------------------------------------------------
check profile_prints_traits 0 "$cdpctl" profile --data "$data" --purpose personalization \
    --id email:kari@example.no
expect_eq profile_first_name "$(jq -r .traits.first_name "$work/out")" Kari
expect_eq profile_loyalty_tier "$(jq -r .traits.loyalty_tier "$work/out")" gold
expect_eq profile_merged "$(jq -r .merged_profiles "$work/out")" 1
expect_eq profile_channels "$(jq -c '.channels | keys' "$work/out")" '["pos","web"]'
profile_id=$(jq -r .profile_id "$work/out")
region=$(jq -r .region "$work/out")
check profile_by_another_identifier 0 "$cdpctl" profile --data "$data" --purpose analytics \
    --id anonymous_id:web-kari
expect_eq profile_same_person "$(jq -r .profile_id "$work/out")" "$profile_id"
check profile_by_profile_id 0 "$cdpctl" profile --data "$data" --purpose analytics \
    --id "profile:$profile_id"
check profile_needs_purpose 2 "$cdpctl" profile --data "$data" --id email:kari@example.no
expect_text profile_needs_purpose_says_so "$work/err" "--purpose"
check profile_unknown_person_exits_1 1 "$cdpctl" profile --data "$data" --purpose analytics \
    --id email:nobody@example.no
expect_text profile_unknown_person_not_found "$work/err" "not found"
check profile_malformed_id 2 "$cdpctl" profile --data "$data" --purpose analytics --id kari
check profile_needs_id 2 "$cdpctl" profile --data "$data" --purpose analytics

# ---- cdpctl restrict: the same exit codes (an unknown person is 1, a malformed id 2) ----------
check restrict_sets 0 "$cdpctl" restrict --data "$data" --id email:kari@example.no
# the local operator reads as the DPO, whose own access a restriction does not stop
check restricted_read_by_the_dpo 0 "$cdpctl" profile --data "$data" --purpose analytics \
    --id email:kari@example.no
check restrict_lifts 0 "$cdpctl" restrict --data "$data" --id email:kari@example.no --lift
check restrict_unknown_person_exits_1 1 "$cdpctl" restrict --data "$data" \
    --id email:nobody@example.no
expect_text restrict_unknown_person_not_found "$work/err" "not found"
check restrict_malformed_id 2 "$cdpctl" restrict --data "$data" --id kari
check restrict_needs_id 2 "$cdpctl" restrict --data "$data"
check profile_missing_data_dir 2 "$cdpctl" profile --data "$work/nowhere" --purpose analytics \
    --id email:kari@example.no

# ---- export-subject: JSON -------------------------------------------------------------------
check export_json 0 "$cdpctl" export-subject --data "$data" --id email:kari@example.no \
    --format json --out "$work/kari.json"
expect_eq export_json_mode_0600 "$(stat -c %a "$work/kari.json")" 600
expect export_json_parses_with_jq jq -e . "$work/kari.json" >/dev/null
expect_eq export_json_profile "$(jq -r .profile_id "$work/kari.json")" "$profile_id"
# Kari's events: w1, w2, w3 (web) and p1, p2 (pos) — from both merged profiles.
expect_eq export_json_events "$(jq -c '[.events[].message_id] | sort' "$work/kari.json")" \
    '["p1","p2","w1","w2","w3"]'
expect_eq export_json_counts_events "$(jq .counts.events "$work/kari.json")" 5
expect_eq export_json_event_properties \
    "$(jq -r '.events[] | select(.message_id == "w2") | .properties.sku' "$work/kari.json")" SKU-1
expect_eq export_json_merged_from "$(jq '.subject.merged_from | length' "$work/kari.json")" 1
expect_eq export_json_merge_recorded \
    "$(jq '[.merges[] | select(.kind == "merge")] | length' "$work/kari.json")" 1
expect_eq export_json_identities \
    "$(jq -c '[.identities[] | .type] | sort' "$work/kari.json")" \
    '["anonymous_id","email","phone","user_id"]'
expect_eq export_json_trait_source \
    "$(jq -r '.traits[] | select(.name == "loyalty_tier") | .source' "$work/kari.json")" pos
expect_eq export_json_audits_the_export \
    "$(jq '[.audit[] | select(.operation == "subject.export")] | length' "$work/kari.json")" 1
expect_eq export_json_audit_has_no_email "$(jq -c .audit "$work/kari.json" | grep -c @)" 0
expect_eq export_json_consent_is_a_list "$(jq -r '.consent | type' "$work/kari.json")" array
if command -v python3 >/dev/null; then
    check export_json_parses_with_python 0 python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert len(doc["events"]) == doc["counts"]["events"] == 5, doc["counts"]
assert len(doc["audit"]) == doc["counts"]["audit"]
assert {e["message_id"] for e in doc["events"]} == {"w1", "w2", "w3", "p1", "p2"}
' "$work/kari.json"
fi
# Nobody else's data: Ola's e-mail, name and user id are not in Kari's export.
expect_eq export_json_no_other_email "$(grep -c 'ola@example.com' "$work/kari.json")" 0
expect_eq export_json_no_other_user "$(grep -c 'ola-2' "$work/kari.json")" 0
# The audit log has the export, under the person's pseudonymous id.
check audit_lists_the_export 0 "$cdpctl" audit export --data "$data" --region "$region" \
    --operation subject.export --profile "$profile_id" --format jsonl --out "$work/audit.jsonl"
expect_text audit_export_record "$work/audit.jsonl" '"operation":"subject.export"'

# ---- export-subject: Avro -------------------------------------------------------------------
check export_avro 0 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 --format avro \
    --out "$work/kari.avro"
expect_eq export_avro_mode_0600 "$(stat -c %a "$work/kari.avro")" 600
expect export_avro_magic test "$(head -c 3 "$work/kari.avro")" = "Obj"

# ---- export-subject: refusals ---------------------------------------------------------------
check export_needs_args 2 "$cdpctl" export-subject --data "$data" --id user_id:kari-1
check export_needs_out 2 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 \
    --format json
check export_bad_format 2 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 \
    --format xml --out "$work/x"
check export_unknown_person_exits_1 1 "$cdpctl" export-subject --data "$data" \
    --id email:nobody@example.no --format json --out "$work/nobody.json"
expect_text export_unknown_person_not_found "$work/err" "not found"
expect export_unknown_person_leaves_no_file test ! -e "$work/nobody.json"
check export_malformed_id 2 "$cdpctl" export-subject --data "$data" --id kari --format json \
    --out "$work/x"
check export_missing_data_dir 2 "$cdpctl" export-subject --data "$work/nowhere" \
    --id user_id:kari-1 --format json --out "$work/x"
expect export_refusals_leave_no_file test ! -e "$work/x"
before=$(sha256sum "$work/kari.json")
check export_refuses_existing_out 2 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 \
    --format avro --out "$work/kari.json"
expect_text export_existing_out_says_so "$work/err" "exists"
expect_eq export_existing_out_unchanged "$(sha256sum "$work/kari.json")" "$before"
check export_force_replaces 0 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 \
    --format json --out "$work/kari.json" --force
expect_eq export_force_mode_0600 "$(stat -c %a "$work/kari.json")" 600
expect export_force_is_a_fresh_export jq -e '.counts.audit >= 2' "$work/kari.json"
check export_into_missing_directory 2 "$cdpctl" export-subject --data "$data" \
    --id user_id:kari-1 --format json --out "$work/no/such/dir/x.json"
expect_eq no_partial_files_left "$(find "$work" -name '*.partial-*' | wc -l)" 0
check export_to_stdout 0 "$cdpctl" export-subject --data "$data" --id user_id:kari-1 \
    --format json --out -
expect_eq export_to_stdout_parses "$(jq .counts.events "$work/out")" 5

# ---- the Avro export read by an independent reader (npm avsc) --------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP subject_avro_read_by_avsc: node/npm not installed"
else
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/cdp-test-clients/$(sha256sum "$source_dir/tests/clients/package.json" | cut -c1-16)"
    if [ ! -d "$cache/node_modules/avsc" ]; then
        mkdir -p "$cache"
        cp "$source_dir/tests/clients/package.json" "$cache/"
        (cd "$cache" && timeout 120 npm install --no-audit --no-fund --loglevel=error) \
            >"$work/npm.log" 2>&1 || rm -rf "$cache/node_modules"
    fi
    if [ ! -d "$cache/node_modules/avsc" ]; then
        echo "SKIP subject_avro_read_by_avsc: npm could not install avsc (offline?):"
        sed 's/^/  npm: /' "$work/npm.log" | tail -5
    else
        cp "$source_dir/tests/clients/subject_read.mjs" "$cache/"
        check subject_avro_read_by_avsc 0 node "$cache/subject_read.mjs" "$work/kari.avro" 5 \
            w1,w2,w3,p1,p2
        expect_eq avsc_identities "$(jq .identities "$work/out")" 4
        expect_eq avsc_events "$(jq .events "$work/out")" 5
        expect_eq avsc_profile "$(jq -r .profile_id "$work/out")" "$profile_id"
        expect avsc_audit_entries test "$(jq .audit "$work/out")" -ge 6
        check subject_avro_wrong_event_count_fails 1 node "$cache/subject_read.mjs" \
            "$work/kari.avro" 6
        size=$(stat -c %s "$work/kari.avro")
        head -c $((size - 40)) "$work/kari.avro" >"$work/cut.avro"
        check subject_avro_cut_file_fails 1 node "$cache/subject_read.mjs" "$work/cut.avro"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
