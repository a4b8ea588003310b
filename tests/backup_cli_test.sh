#!/usr/bin/env bash
# cdpctl backup / restore end to end: a backup never holds the root key; after backup → erase →
# restore the erased person stays erased (profile not found, re-import refused as suppressed,
# no byte of theirs in the restored directory), the bystander and the audit log survive and
# verify; a restore into a new directory with the live ledger does the same; and the refusals
# with API.md's exit codes (existing backup dir, missing or altered manifest, wrong root key,
# running data directory, bad usage).
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-backup-cli-XXXXXX)
unset CDP_ROOT_KEY CDP_TEST_CRASH_AT
failed=0
passed=0
trap 'rm -rf "$work"' EXIT

check() { # name command...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}
code_of() { "$@" >/dev/null 2>"$work/last.err"; echo $?; }
no_bytes() { ! grep -rqa -- "$1" "$2"; }

cat >"$work/events.jsonl" <<'JSON'
{"type":"identify","userId":"ola-1","messageId":"m1","timestamp":"2026-11-01T10:00:00Z","traits":{"email":"ola.nordmann@example.org","first_name":"Olaunique"}}
{"type":"track","userId":"ola-1","event":"Order Completed","messageId":"m2","timestamp":"2026-11-01T11:00:00Z","properties":{"note":"OLA-SECRET-NOTE"}}
{"type":"identify","userId":"kari-1","messageId":"m3","timestamp":"2026-11-01T10:00:00Z","traits":{"email":"kari@example.org","first_name":"Kari"}}
JSON

"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" >/dev/null 2>&1 ||
    { echo "FAIL init"; exit 1; }
"$cdpctl" import --data "$work/data" --source web "$work/events.jsonl" 2>/dev/null ||
    { echo "FAIL import"; exit 1; }

check backup_ok test "$(code_of "$cdpctl" backup --data "$work/data" --out "$work/b1")" = 0
check backup_has_manifest test -f "$work/b1/manifest.json"
check backup_has_no_root_key test ! -e "$work/b1/root.key"
check backup_holds_no_root_key_bytes no_bytes "$(head -c 32 "$work/data/root.key" | od -An -tx1 | tr -d ' \n' | head -c 16)" "$work/b1"
check backup_refuses_existing_dir test "$(code_of "$cdpctl" backup --data "$work/data" --out "$work/b1")" = 2
check backup_usage test "$(code_of "$cdpctl" backup --data "$work/data")" = 2

# Erase after the backup, then restore the backup into the live (stopped) directory.
check erase_ok test "$(code_of "$cdpctl" erase --data "$work/data" --id email:ola.nordmann@example.org --request-id dsr-7)" = 0
check restore_ok test "$(code_of "$cdpctl" restore --from "$work/b1" --data "$work/data")" = 0
check erased_stays_erased test "$(code_of "$cdpctl" profile --data "$work/data" --purpose legal_obligation --id user_id:ola-1)" = 1
check bystander_restored test "$(code_of "$cdpctl" profile --data "$work/data" --purpose legal_obligation --id user_id:kari-1)" = 0
echo '{"type":"identify","userId":"ola-1","messageId":"m9","timestamp":"2026-11-03T10:00:00Z"}' >"$work/again.jsonl"
"$cdpctl" import --data "$work/data" --source web "$work/again.jsonl" >/dev/null 2>"$work/again.err"
check reimport_suppressed grep -q suppressed "$work/again.err"
check no_email_bytes no_bytes ola.nordmann@example.org "$work/data"
check no_name_bytes no_bytes Olaunique "$work/data"
check no_note_bytes no_bytes OLA-SECRET-NOTE "$work/data"
check ledger_kept grep -q '"request_id":"dsr-7"' "$work/data/erasures.ledger"
# The audit log of the restored region verifies, with the replay recorded in it.
pub=$("$cdpctl" audit pubkey --data "$work/data" --region us)
"$cdpctl" audit export --data "$work/data" --region us --format jsonl --out "$work/audit.jsonl" 2>/dev/null
check audit_has_replay grep -q erasure.replay "$work/audit.jsonl"
check audit_has_restore grep -q admin.restore "$work/audit.jsonl"
check audit_verifies test "$(code_of "$cdpctl" audit verify --pubkey "$pub" "$work/audit.jsonl")" = 0

# A new directory: the operator brings the root key and the live ledger.
mkdir -m 700 "$work/fresh"
cp "$work/data/root.key" "$work/data/erasures.ledger" "$work/fresh/"
chmod 600 "$work/fresh/root.key"
check restore_fresh test "$(code_of "$cdpctl" restore --from "$work/b1" --data "$work/fresh")" = 0
check fresh_erased test "$(code_of "$cdpctl" profile --data "$work/fresh" --purpose legal_obligation --id email:ola.nordmann@example.org)" = 1
check fresh_bystander test "$(code_of "$cdpctl" profile --data "$work/fresh" --purpose legal_obligation --id email:kari@example.org)" = 0

# Refusals.
check restore_usage test "$(code_of "$cdpctl" restore --data "$work/data")" = 2
check restore_no_backup test "$(code_of "$cdpctl" restore --from "$work/nothing" --data "$work/data")" = 2
cp -r "$work/b1" "$work/b2" && rm "$work/b2/manifest.json"
check restore_missing_manifest test "$(code_of "$cdpctl" restore --from "$work/b2" --data "$work/data")" = 2
cp -r "$work/b1" "$work/b3" && sed -i 's/"position": [0-9]*/"position": 999/' "$work/b3/manifest.json"
check restore_altered_manifest test "$(code_of "$cdpctl" restore --from "$work/b3" --data "$work/data")" = 2
check altered_manifest_message grep -q "mac" "$work/last.err"
mkdir -m 700 "$work/otherkey"
head -c 32 /dev/urandom >"$work/otherkey/root.key" && chmod 600 "$work/otherkey/root.key"
check restore_wrong_root_key test "$(code_of "$cdpctl" restore --from "$work/b1" --data "$work/otherkey")" = 1
check wrong_key_message grep -q bad_key "$work/last.err"
check wrong_key_changed_nothing test "$(ls "$work/otherkey")" = root.key
check data_still_opens test "$(code_of "$cdpctl" profile --data "$work/data" --purpose legal_obligation --id user_id:kari-1)" = 0

echo "backup_cli_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
