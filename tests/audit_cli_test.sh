#!/usr/bin/env bash
# cdpctl audit end to end: pubkey, export (JSON Lines and Avro, with filters), offline verify
# (intact, wrong key, tampered, truncated), exit codes 0 / 1 / 2, no personal data in exports,
# and the Avro export read by an independent reader (npm avsc, tests/clients/avro_read.mjs),
# which recomputes the Merkle root and checks the checkpoint signature with node's crypto.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-audit-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset CDP_ROOT_KEY
passed=0
failed=0

. "$(dirname "$0")/support/cli.sh" || exit 1 # check, expect_text, expect_eq, expect

"$cdpctl" audit --help >"$work/out" 2>"$work/err"
if [ $? = 2 ] && grep -q "unknown command" "$work/err"; then
    echo "SKIP: 'cdpctl audit' is not dispatched in tools/cdpctl/main.c yet"
    echo "0 passed, 0 failed"
    exit 0
fi

check audit_help_exits_0 0 "$cdpctl" audit --help
expect_text audit_help_lists_verify "$work/out" "verify --pubkey HEX FILE"
check audit_without_command_is_usage_error 2 "$cdpctl" audit
check audit_unknown_command_is_usage_error 2 "$cdpctl" audit frobnicate

data="$work/data"
check init 0 "$cdpctl" init --data "$data" --policies "$source_dir/policies"

# Events through the public CLI, when import is there: the enforcement point audits them.
if "$cdpctl" import --help >/dev/null 2>&1; then
    for i in 1 2 3 4 5; do
        printf '{"type":"identify","userId":"u%s","messageId":"m%s","traits":{"email":"person%s@example.com","name":"Person %s"},"context":{"location":{"country":"DE"}}}\n' \
            "$i" "$i" "$i" "$i"
    done >"$work/events.jsonl"
    "$cdpctl" import --data "$data" --source web "$work/events.jsonl" >/dev/null 2>&1
fi

check pubkey_prints_the_key 0 "$cdpctl" audit pubkey --data "$data" --region eu
pubkey=$(cat "$work/out")
expect pubkey_is_64_hex grep -qE '^[0-9a-f]{64}$' "$work/out"
check pubkey_needs_region 2 "$cdpctl" audit pubkey --data "$data"
check pubkey_unknown_region 2 "$cdpctl" audit pubkey --data "$data" --region mars
expect_text pubkey_unknown_region_says_so "$work/err" "unknown region"
check pubkey_missing_data_dir 2 "$cdpctl" audit pubkey --data "$work/nowhere" --region eu
check pubkey_of_another_region_differs 0 "$cdpctl" audit pubkey --data "$data" --region us
expect pubkey_regions_differ test "$(cat "$work/out")" != "$pubkey"

check export_jsonl 0 "$cdpctl" audit export --data "$data" --region eu --format jsonl \
    --out "$work/all.jsonl"
expect_text export_reports_the_tree "$work/err" "tree size"
check export_avro 0 "$cdpctl" audit export --data "$data" --region eu --format avro \
    --out "$work/all.avro"
check export_default_region 0 "$cdpctl" audit export --data "$data" --format jsonl \
    --out "$work/default.jsonl"
default_region=$(sed -n 's/^cdpctl audit export: region \([a-z0-9_-]*\):.*/\1/p' "$work/err")
expect export_names_the_default_region test -n "$default_region"
check export_filtered 0 "$cdpctl" audit export --data "$data" --region eu --format jsonl \
    --from 2020-01-01 --to 2100-01-01T00:00:00Z --actor local --operation profile.read \
    --decision allow --out "$work/filtered.jsonl"
check export_by_profile 0 "$cdpctl" audit export --data "$data" --region eu --format avro \
    --profile profile:0123456789abcdef0123456789abcdef --out "$work/person.avro"
check export_needs_format 2 "$cdpctl" audit export --data "$data" --out "$work/x"
check export_bad_format 2 "$cdpctl" audit export --data "$data" --format xml --out "$work/x"
check export_needs_out 2 "$cdpctl" audit export --data "$data" --format jsonl
check export_bad_time 2 "$cdpctl" audit export --data "$data" --format jsonl --from yesterday \
    --out "$work/x"
check export_reversed_times 2 "$cdpctl" audit export --data "$data" --format jsonl \
    --from 2024-02-01 --to 2024-01-01 --out "$work/x"
check export_bad_decision 2 "$cdpctl" audit export --data "$data" --format jsonl --decision maybe \
    --out "$work/x"
check export_refuses_an_email_as_profile 2 "$cdpctl" audit export --data "$data" --format jsonl \
    --profile person1@example.com --out "$work/x"
expect_text export_says_profile_is_pseudonymous "$work/err" "pseudonymous profile id"
check export_unknown_region 2 "$cdpctl" audit export --data "$data" --region mars --format jsonl \
    --out "$work/x"
check export_missing_data_dir 2 "$cdpctl" audit export --data "$work/nowhere" --format jsonl \
    --out "$work/x"
expect no_partial_file_left test ! -e "$work/x" -a ! -e "$work/x.partial"

check verify_jsonl 0 "$cdpctl" audit verify --pubkey "$pubkey" "$work/all.jsonl"
expect_text verify_says_intact "$work/out" '"intact": true'
check verify_avro 0 "$cdpctl" audit verify --pubkey "$pubkey" "$work/all.avro"
expect_text verify_detects_avro "$work/out" '"format": "avro"'
check verify_filtered 0 "$cdpctl" audit verify --pubkey "$pubkey" "$work/filtered.jsonl"
expect_text verify_filtered_mode "$work/out" '"mode": "filtered"'
check verify_by_profile 0 "$cdpctl" audit verify --pubkey "$pubkey" "$work/person.avro"
check verify_default_region 0 "$cdpctl" audit verify \
    --pubkey "$("$cdpctl" audit pubkey --data "$data" --region "${default_region:-eu}")" \
    "$work/default.jsonl"

other=$("$cdpctl" audit pubkey --data "$data" --region us)
check verify_wrong_key_fails 1 "$cdpctl" audit verify --pubkey "$other" "$work/all.jsonl"
expect_text verify_wrong_key_names_line "$work/err" "line 1"
check verify_bad_key_is_usage_error 2 "$cdpctl" audit verify --pubkey 1234 "$work/all.jsonl"
check verify_missing_file 2 "$cdpctl" audit verify --pubkey "$pubkey" "$work/none.jsonl"
check verify_needs_a_file 2 "$cdpctl" audit verify --pubkey "$pubkey"

# Tampering: a changed byte, a dropped last line, a cut Avro file.
sed '0,/"tree_size":/s//"tree_size":7/' "$work/all.jsonl" >"$work/changed.jsonl"
check verify_changed_byte_fails 1 "$cdpctl" audit verify --pubkey "$pubkey" "$work/changed.jsonl"
expect_text verify_changed_names_line "$work/err" "line "
head -n -1 "$work/all.jsonl" >"$work/cut.jsonl"
check verify_cut_tail_fails 1 "$cdpctl" audit verify --pubkey "$pubkey" "$work/cut.jsonl"
expect_text verify_cut_says_cut "$work/err" "cut"
size=$(stat -c %s "$work/all.avro")
head -c $((size - 20)) "$work/all.avro" >"$work/cut.avro"
check verify_cut_avro_fails 1 "$cdpctl" audit verify --pubkey "$pubkey" "$work/cut.avro"
cp "$work/all.avro" "$work/flipped.avro"
printf '\x55' | dd of="$work/flipped.avro" bs=1 seek=$((size - 30)) conv=notrunc 2>/dev/null
if ! cmp -s "$work/all.avro" "$work/flipped.avro"; then
    check verify_flipped_avro_fails 1 "$cdpctl" audit verify --pubkey "$pubkey" "$work/flipped.avro"
fi

# No personal data: the e-mails and names imported above appear in no export.
for f in all.jsonl default.jsonl filtered.jsonl; do
    expect "no_email_in_$f" test "$(grep -c '@' "$work/$f")" = 0
    expect "no_name_in_$f" test "$(grep -c 'Person ' "$work/$f")" = 0
done

# An independent Avro reader: npm avsc (pinned in tests/clients/package.json), cached outside
# the source tree.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP avro_read_by_avsc: node/npm not installed"
else
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/cdp-test-clients/$(sha256sum "$source_dir/tests/clients/package.json" | cut -c1-16)"
    if [ ! -d "$cache/node_modules/avsc" ]; then
        mkdir -p "$cache"
        cp "$source_dir/tests/clients/package.json" "$cache/"
        (cd "$cache" && timeout 120 npm install --no-audit --no-fund --loglevel=error) \
            >"$work/npm.log" 2>&1 || rm -rf "$cache/node_modules"
    fi
    if [ ! -d "$cache/node_modules/avsc" ]; then
        echo "SKIP avro_read_by_avsc: npm could not install avsc (offline? registry unreachable):"
        sed 's/^/  npm: /' "$work/npm.log" | tail -5
    else
        cp "$source_dir/tests/clients/avro_read.mjs" "$cache/"
        check avro_read_by_avsc 0 node "$cache/avro_read.mjs" "$work/all.avro" "$pubkey"
        expect_text avsc_recomputed_the_root "$work/out" '"checkpoint_signature":true'
        check avro_person_read_by_avsc 0 node "$cache/avro_read.mjs" "$work/person.avro" "$pubkey"
        check avro_read_wrong_key_fails 1 node "$cache/avro_read.mjs" "$work/all.avro" "$other"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
