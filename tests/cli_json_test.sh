#!/usr/bin/env bash
# cdpctl for scripts: every verb has --help (exit 0, a usage on stdout); every verb a script
# reads takes --json and prints exactly one line of JSON on stdout (parsed by python3), with
# progress lines going to stderr only: on a terminal (script -qc) or with CDP_PROGRESS=1, never
# when stderr is redirected, never with CDP_PROGRESS=0, never on stdout. And import streams:
# an 80 MB file of 200,000 lines is read in the same memory as a tenth of it, a line with no end
# is rejected without being held, and bad lines are reported with their numbers.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
cdpctl_abs=$(cd "$(dirname "$cdpctl")" && pwd)/$(basename "$cdpctl")
work=$(mktemp -d /tmp/cdp-cli-json-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset CDP_ROOT_KEY CDP_PROGRESS
passed=0
failed=0

. "$(dirname "$0")/support/cli.sh" || exit 1 # check, expect_text, expect_eq, expect

# stdout is exactly one line, a JSON object; prints the value of the python expression on it
# (the parsed object is `j`), or "NOT JSON".
json_field() { # file expression
    python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
lines = text.splitlines()
try:
    assert len(lines) == 1, "%d lines" % len(lines)
    j = json.loads(lines[0])
    print(eval(sys.argv[2]))
except Exception as e:
    print("NOT JSON (%s): %r" % (e, text[:200]))
PY
}

has_cr() { grep -q $'\r' "$1"; }
no_cr() { ! grep -q $'\r' "$1"; }
not_grep() { ! grep -q "$1" "$2"; }

# ---- --help for every verb, exit 0, usage on stdout -----------------------------------------
verbs=("init" "keys" "keys create" "keys list" "keys revoke" "keys rotate" "serve" "audit"
    "audit export" "audit pubkey" "audit verify" "restrict" "rectify" "dsr" "dsr list" "import"
    "profile" "export-subject" "erase" "erase verify" "erase lift" "backup" "restore" "policy"
    "policy check" "stats")
for verb in "${verbs[@]}"; do
    # shellcheck disable=SC2086
    check "help_$verb" 0 "$cdpctl" $verb --help
    expect "help_${verb}_usage_on_stdout" grep -q "usage: cdpctl" "$work/out"
done
check help_main 0 "$cdpctl" --help
expect main_help_names_stats grep -q "stats --data DIR \[--json\]" "$work/out"
# Verbs a script reads document --json in their --help.
for verb in "init" "keys create" "keys list" "keys revoke" "keys rotate" "audit export" \
    "audit pubkey" "audit verify" "restrict" "rectify" "dsr list" "import" "profile" \
    "export-subject" "erase" "erase verify" "erase lift" "backup" "restore" "policy check" \
    "stats"; do
    # shellcheck disable=SC2086
    "$cdpctl" $verb --help >"$work/help" 2>&1
    expect "help_${verb}_documents_json" grep -q -- "--json" "$work/help"
done

# ---- --json on the verbs, progress on stderr only ---------------------------------------------
data="$work/data"
check init_json 0 "$cdpctl" init --data "$data" --json
expect_eq init_json_regions "$(json_field "$work/out" 'j["regions"][0]')" eu

check keys_create_json 0 "$cdpctl" keys create --data "$data" --role ingest --source web --json
expect_eq keys_create_json_role "$(json_field "$work/out" 'j["role"]')" ingest
key_id=$(json_field "$work/out" 'j["key_id"]')
expect_eq keys_create_json_key "$(json_field "$work/out" 'j["key"].startswith("cdp_")')" True
check keys_revoke_json 0 "$cdpctl" keys revoke --data "$data" --id "$key_id" --json
expect_eq keys_revoke_json "$(json_field "$work/out" 'j["revoked"]')" True
check keys_list_json 0 "$cdpctl" keys list --data "$data" --json
expect_eq keys_list_json "$(json_field "$work/out" 'j[0]["revoked"]')" True

# No country: the people live in the default region (us), where the local operator reads.
{
    echo "{\"type\":\"identify\",\"userId\":\"p-1\",\"messageId\":\"i1\",\"traits\":{\"email\":\"p1@example.com\",\"first_name\":\"Pia\"}}"
    for i in $(seq 2 40); do
        echo "{\"type\":\"track\",\"userId\":\"p-$((i % 4 + 1))\",\"messageId\":\"i$i\",\"event\":\"Viewed\"}"
    done
} >"$work/small.jsonl"

# Forced progress: the line on stderr, the summary alone on stdout.
check import_progress_forced 0 env CDP_PROGRESS=1 "$cdpctl" import --data "$data" --source web \
    --json "$work/small.jsonl"
expect_eq import_json_accepted "$(json_field "$work/out" 'j["accepted"]')" 40
expect import_progress_forced_on_stderr has_cr "$work/err"
expect import_progress_names_lines grep -q "cdpctl import: 40 lines, .*kB" "$work/err"
expect import_progress_not_on_stdout no_cr "$work/out"
# Redirected stderr, nothing forced: quiet.
check import_redirected_quiet 0 "$cdpctl" import --data "$data" --source web "$work/small.jsonl"
expect import_redirected_no_progress no_cr "$work/err"
# A terminal (script gives the command a pty): the progress line is there; CDP_PROGRESS=0 off.
script -qec "$cdpctl_abs import --data $data --source web --json $work/small.jsonl" /dev/null \
    >"$work/tty" 2>&1
expect import_tty_progress grep -q $'\rcdpctl import: 40 lines' "$work/tty"
CDP_PROGRESS=0 script -qec "$cdpctl_abs import --data $data --source web $work/small.jsonl" \
    /dev/null >"$work/tty0" 2>&1
expect import_tty_progress_off not_grep $'\rcdpctl import:' "$work/tty0"
expect import_tty_off_still_summarises grep -q "40 lines: 0 accepted, 40 duplicates" "$work/tty0"

check profile_json 0 "$cdpctl" profile --data "$data" --purpose personalization --id user_id:p-1 \
    --json
expect_eq profile_json_region "$(json_field "$work/out" 'j["region"]')" us
check restrict_json 0 "$cdpctl" restrict --data "$data" --id user_id:p-2 --json
expect_eq restrict_json "$(json_field "$work/out" 'j["restricted"]')" True
check rectify_json 0 "$cdpctl" rectify --data "$data" --id user_id:p-1 \
    --traits '{"first_name":"Pia Maria"}' --json
expect_eq rectify_json "$(json_field "$work/out" '"profile_id" in j')" True

check export_subject_json 0 env CDP_PROGRESS=1 "$cdpctl" export-subject --data "$data" \
    --id user_id:p-1 --format json --out "$work/subject.json" --json
expect_eq export_subject_json_bytes "$(json_field "$work/out" 'j["bytes"]')" \
    "$(stat -c %s "$work/subject.json")"
expect export_subject_progress grep -q $'\rcdpctl export-subject: .* kB' "$work/err"
check export_subject_json_stdout_refused 2 "$cdpctl" export-subject --data "$data" \
    --id user_id:p-1 --format json --out - --json

check erase_json 0 env CDP_PROGRESS=1 "$cdpctl" erase --data "$data" --id user_id:p-3 --json
expect_eq erase_json_receipt "$(json_field "$work/out" '"signature" in json.dumps(j)')" True
cp "$work/out" "$work/receipt.json"
expect erase_progress grep -q $'\rcdpctl erase: 1/1 people erased' "$work/err"
expect erase_progress_not_on_stdout no_cr "$work/out"
check audit_pubkey_json 0 "$cdpctl" audit pubkey --data "$data" --region us --json
pubkey=$(json_field "$work/out" 'j["pubkey"]')
expect_eq audit_pubkey_json_hex "${#pubkey}" 64
check erase_verify_json 0 "$cdpctl" erase verify --pubkey "$pubkey" --json "$work/receipt.json"
expect_eq erase_verify_json "$(json_field "$work/out" 'j["valid"]')" True
sed 's/"region"/"regiox"/' "$work/receipt.json" >"$work/bad-receipt.json"
check erase_verify_json_bad 2 "$cdpctl" erase verify --pubkey "$pubkey" --json \
    "$work/bad-receipt.json"
expect_eq erase_verify_json_bad "$(json_field "$work/out" 'j["valid"]')" False
check erase_lift_json 0 "$cdpctl" erase lift --data "$data" --id user_id:p-3 --json
expect_eq erase_lift_json "$(json_field "$work/out" 'j["suppressed"]')" False
check dsr_list_json 0 "$cdpctl" dsr list --data "$data" --json
expect_eq dsr_list_json "$(json_field "$work/out" '"requests" in j')" True

check audit_export_json 0 env CDP_PROGRESS=1 "$cdpctl" audit export --data "$data" --region us \
    --format jsonl --out "$work/audit.jsonl" --json
expect_eq audit_export_json_records "$(json_field "$work/out" 'j["records"] > 5')" True
expect audit_export_progress grep -q $'\rcdpctl audit export: ' "$work/err"
check audit_export_json_stdout_refused 2 "$cdpctl" audit export --data "$data" --format jsonl \
    --out - --json
check audit_verify_json 0 "$cdpctl" audit verify --pubkey "$pubkey" --json "$work/audit.jsonl"
expect_eq audit_verify_json "$(json_field "$work/out" 'j["intact"]')" True

check stats_json 0 "$cdpctl" stats --data "$data" --json
expect_eq stats_json_people "$(json_field "$work/out" 'j["totals"]["people"]')" 3

check keys_rotate_json 0 env CDP_PROGRESS=1 "$cdpctl" keys rotate --data "$data" --region us \
    --json
# p-1, p-2, p-4: p-3 was erased.
expect_eq keys_rotate_json "$(json_field "$work/out" 'j["rewrapped"]')" 3
expect keys_rotate_progress grep -q $'\rcdpctl keys rotate: 3/3 data keys re-wrapped' "$work/err"

check backup_json 0 env CDP_PROGRESS=1 "$cdpctl" backup --data "$data" --out "$work/backup" --json
expect_eq backup_json_bytes "$(json_field "$work/out" 'j["bytes"] > 0 and j["files"] > 0')" True
expect backup_progress grep -q $'\rcdpctl backup: ' "$work/err"
cp "$data/root.key" "$work/root.key"
mkdir "$work/restored" && cp "$data/root.key" "$work/restored/root.key"
check restore_json 0 env CDP_PROGRESS=1 "$cdpctl" restore --from "$work/backup" \
    --data "$work/restored" --json
expect_eq restore_json "$(json_field "$work/out" 'j["from"]')" "$work/backup"
expect restore_progress grep -q $'\rcdpctl restore: ' "$work/err"
# Not on a terminal and not forced: no progress, whatever the verb.
check backup_quiet 0 "$cdpctl" backup --data "$data" --out "$work/backup2"
expect backup_quiet_no_progress no_cr "$work/err"

check policy_json_ok 0 "$cdpctl" policy check --json "$source_dir/policies"
expect_eq policy_json_ok "$(json_field "$work/out" 'j["ok"]')" True
cp -r "$source_dir/policies" "$work/bad-policies"
sed -i 's/"regions"/"regionz"/' "$work/bad-policies/regions.json"
check policy_json_bad 2 "$cdpctl" policy check "$work/bad-policies" --json
expect_eq policy_json_bad "$(json_field "$work/out" 'j["ok"]')" False
expect_eq policy_json_bad_names_file \
    "$(json_field "$work/out" 'any("regions.json" in p for p in j["problems"])')" True

# ---- import streams in bounded memory ---------------------------------------------------------
# 200,000 lines, 80 MB: one event every 100 lines (2,000 people's events), the rest lines of 400
# blanks; line 7 not JSON, line 150,001 without any identifier, and a 40 KB line last. The same
# shape at 20,000 lines must peak within 24 MB of it: a reader that held the file would not.
gen() { # lines file
    python3 - "$1" "$2" <<'PY'
import sys
lines, path = int(sys.argv[1]), sys.argv[2]
pad = " " * 400 + "\n"
with open(path, "w") as f:
    for n in range(1, lines):
        if n == 7:
            f.write("{not json\n")
        elif n == 150001:
            f.write('{"type":"track","messageId":"none","event":"X"}\n')
        elif n % 100 == 0:
            f.write('{"type":"track","userId":"u%d","messageId":"m%d","event":"Viewed"}\n'
                    % (n % 997, n))
        else:
            f.write(pad)
    f.write('{"type":"track","userId":"big","messageId":"big","event":"X","properties":{"p":"'
            + "x" * 40000 + '"}}')  # last line, no newline at the end
PY
}
gen 20000 "$work/small-big.jsonl"
gen 200000 "$work/large.jsonl"
# In a sanitized build, ASan keeps freed memory in a quarantine (256 MB by default) that would
# count as growth here: a small one measures the program, not the sanitizer. No effect otherwise.
rss_env=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1")
check import_small_file 2 /usr/bin/time -f "%M" -o "$work/rss-small" "${rss_env[@]}" "$cdpctl" import \
    --data "$data" --source web "$work/small-big.jsonl"
check import_large_file 2 /usr/bin/time -f "%M" -o "$work/rss-large" "${rss_env[@]}" "$cdpctl" import \
    --data "$data" --source web --json "$work/large.jsonl"
expect_eq large_lines "$(json_field "$work/out" 'j["lines"]')" 200000
# The 199 events of the smaller file were stored already: duplicates now.
expect_eq large_accepted "$(json_field "$work/out" 'j["accepted"]')" 1800
expect_eq large_duplicates "$(json_field "$work/out" 'j["duplicates"]')" 199
expect_eq large_rejected_lines "$(json_field "$work/out" '[r["line"] for r in j["rejected_lines"]]')" \
    "[7, 150001, 200000]"
expect_eq large_rejected_codes "$(json_field "$work/out" '[r["code"] for r in j["rejected_lines"]]')" \
    "['invalid_json', 'bad_request', 'payload_too_large']"
expect large_stderr_line_7 grep -q "line 7: invalid_json" "$work/err"
expect large_stderr_line_150001 grep -q "line 150001: bad_request" "$work/err"
expect large_stderr_last_line grep -q "line 200000: payload_too_large: line: 400[0-9][0-9] bytes" \
    "$work/err"
small_kb=$(tail -1 "$work/rss-small")
large_kb=$(tail -1 "$work/rss-large")
file_kb=$(($(stat -c %s "$work/large.jsonl") / 1024))
expect "import_rss_bounded (${small_kb} KB at 20k lines, ${large_kb} KB at 200k, file ${file_kb} KB)" \
    test "$large_kb" -lt $((small_kb + 24 * 1024))
expect import_file_larger_than_growth test "$file_kb" -gt $((3 * 24 * 1024))

echo "cli_json_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
