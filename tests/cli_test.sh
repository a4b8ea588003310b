#!/usr/bin/env bash
# cdpctl end to end: exit codes (0 / 1 / 2), messages, init refusals, key rotation,
# and a benchmark smoke run (it must print parseable JSON lines; speed is not judged here).
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset CDP_ROOT_KEY
passed=0
failed=0

. "$(dirname "$0")/support/cli.sh" || exit 1 # check, expect_text, expect_eq, expect

check help_exits_0 0 "$cdpctl" --help
check no_command_is_usage_error 2 "$cdpctl"
check unknown_command_is_usage_error 2 "$cdpctl" frobnicate
check init_without_data_is_usage_error 2 "$cdpctl" init
expect_text init_without_data_names_the_option "$work/err" "--data DIR is required"
check init_unknown_option_is_usage_error 2 "$cdpctl" init --data "$work/x" --bogus

check init_creates_data_dir 0 "$cdpctl" init --data "$work/data" --policies "$source_dir/policies"
expect_text init_names_regions "$work/err" "regions eu us br in cn"
[ "$(stat -c %a "$work/data/root.key")" = 600 ] && passed=$((passed + 1)) ||
    { failed=$((failed + 1)); echo "FAIL root.key mode is $(stat -c %a "$work/data/root.key")"; }
check init_refuses_existing_dir 2 "$cdpctl" init --data "$work/data"
expect_text init_refusal_says_why "$work/err" "already exists"

mkdir -p "$work/badpol"
cat >"$work/badpol/regions.json" <<'JSON'
{"version": 1, "default_region": "eu", "regions": [
 {"id": "eu", "name": "EU", "regime": "gdpr", "default_country": "DE", "localised": false,
  "countries": ["DE", "ZZ"], "subdivisions": {}},
 {"id": "eu", "name": "EU again", "regime": "gdpr", "default_country": "FR", "localised": false,
  "countries": ["FR"], "subdivisions": {}}]}
JSON
check init_refuses_bad_policy 2 "$cdpctl" init --data "$work/data2" --policies "$work/badpol"
expect_text bad_policy_names_unknown_code "$work/err" "regions.json: regions[0].countries[1]"
expect_text bad_policy_names_duplicate "$work/err" "duplicate region"
[ ! -e "$work/data2" ] && passed=$((passed + 1)) ||
    { failed=$((failed + 1)); echo "FAIL refused init left $work/data2 behind"; }

check rotate_needs_region 2 "$cdpctl" keys rotate --data "$work/data"
check rotate_unknown_region 2 "$cdpctl" keys rotate --data "$work/data" --region mars
expect_text rotate_unknown_region_says_so "$work/err" "unknown region"
check rotate_missing_data_dir 2 "$cdpctl" keys rotate --data "$work/nowhere" --region eu
check rotate_eu 0 "$cdpctl" keys rotate --data "$work/data" --region eu
expect_text rotate_reports_epoch "$work/out" '"epoch": 2'
check rotate_eu_again 0 "$cdpctl" keys rotate --data "$work/data" --region eu
expect_text rotate_again_reports_epoch_3 "$work/out" '"epoch": 3'

chmod 644 "$work/data/root.key"
check loose_root_key_refused 1 "$cdpctl" keys rotate --data "$work/data" --region eu
expect_text loose_root_key_message "$work/err" "chmod 600"
chmod 600 "$work/data/root.key"

# cdp-bench's figures are checked by tests/bench_smoke_test.sh (every line, tiny sizes).
if command -v python3 >/dev/null; then
    check bench_lines_are_json 0 python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line); assert {"bench","ops_per_s","ceiling_ops_per_s","ratio"} <= d.keys()' "$work/out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
