#!/usr/bin/env bash
# cdpctl stats: after importing known people and events into two regions, merging two profiles
# and erasing one person, every count is exactly what was done (people, events, merges,
# erasures, suppressed identifiers), the totals are the sums, --json parses (jq and python3),
# the read is audited (admin.stats), and bad usage exits 2.
set -u
build=${CDP_BUILD_DIR:-build}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-stats-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset CDP_ROOT_KEY CDP_PROGRESS
passed=0
failed=0

. "$(dirname "$0")/support/cli.sh" || exit 1 # check, expect_text, expect_eq, expect

data="$work/data"
check init 0 "$cdpctl" init --data "$data"

# Before anything: every count is 0.
check stats_empty 0 "$cdpctl" stats --data "$data" --json
expect_eq empty_people "$(jq .totals.people "$work/out")" 0
expect_eq empty_events "$(jq .totals.events "$work/out")" 0

# eu (country DE): eu-1 with 3 events, eu-2 with 1, and an anonymous visitor (2 page views)
# who signs up as eu-3 (1 event as eu-3 alone), then 1 event carrying both ids: one merge.
# us (country US): us-1 with 2 events, us-2 with 1. 11 events, 5 people, 1 merge.
de='"context":{"location":{"country":"DE"}}'
us='"context":{"location":{"country":"US"}}'
cat >"$work/events.jsonl" <<EVENTS
{"type":"identify","userId":"eu-1","messageId":"a1","traits":{"email":"eu1@example.de"},$de}
{"type":"track","userId":"eu-1","messageId":"a2","event":"Viewed",$de}
{"type":"track","userId":"eu-1","messageId":"a3","event":"Bought",$de}
{"type":"identify","userId":"eu-2","messageId":"b1","traits":{"first_name":"Bo"},$de}
{"type":"page","anonymousId":"anon-3","messageId":"c1","name":"Home",$de}
{"type":"page","anonymousId":"anon-3","messageId":"c2","name":"Shoes",$de}
{"type":"track","userId":"eu-3","messageId":"c3","event":"Signed Up",$de}
{"type":"track","userId":"eu-3","anonymousId":"anon-3","messageId":"c4","event":"Signed In",$de}
{"type":"identify","userId":"us-1","messageId":"d1","traits":{"email":"us1@example.com"},$us}
{"type":"track","userId":"us-1","messageId":"d2","event":"Viewed",$us}
{"type":"track","userId":"us-2","messageId":"e1","event":"Viewed",$us}
EVENTS
check import 0 "$cdpctl" import --data "$data" --source web "$work/events.jsonl"
expect_eq import_accepted "$(jq .accepted "$work/out")" 11

check stats_json 0 "$cdpctl" stats --data "$data" --json
cp "$work/out" "$work/stats1.json"
field() { # file region field
    jq ".regions[] | select(.region == \"$2\") | .$3" "$1"
}
s1="$work/stats1.json"
expect_eq exact_flag "$(jq .exact "$s1")" true
expect_eq eu_people "$(field "$s1" eu people)" 3
expect_eq eu_events "$(field "$s1" eu events)" 8
expect_eq eu_merges "$(field "$s1" eu merges)" 1
expect_eq eu_erasures "$(field "$s1" eu erasures)" 0
expect_eq eu_suppressed "$(field "$s1" eu suppressed_identifiers)" 0
expect_eq us_people "$(field "$s1" us people)" 2
expect_eq us_events "$(field "$s1" us events)" 3
expect_eq us_merges "$(field "$s1" us merges)" 0
expect_eq total_people "$(jq .totals.people "$s1")" 5
expect_eq total_events "$(jq .totals.events "$s1")" 11
expect_eq total_merges "$(jq .totals.merges "$s1")" 1
expect_eq other_regions_empty \
    "$(jq '[.regions[] | select(.region != "eu" and .region != "us") | .people + .events] | add' \
        "$s1")" 0
expect_eq bytes_total_is_sum "$(jq '[.regions[].bytes_on_disk] | add' "$s1")" \
    "$(jq .totals.bytes_on_disk "$s1")"
expect_eq bytes_nonzero "$(jq '.regions[0].bytes_on_disk > 0' "$s1")" true
expect_eq python_parses \
    "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["events"])' <"$s1")" 11

# The same messages again are stored once: nothing changes.
check import_again 0 "$cdpctl" import --data "$data" --source web "$work/events.jsonl"
expect_eq import_again_duplicates "$(jq .duplicates "$work/out")" 11
check stats_after_duplicates 0 "$cdpctl" stats --data "$data" --json
expect_eq duplicates_not_counted "$(jq .totals.events "$work/out")" 11

# Erase the merged person: the events of both profiles and the merge go, two identifiers
# (user_id eu-3, anonymous_id anon-3) are suppressed, one erasure is in the ledger.
check erase 0 "$cdpctl" erase --data "$data" --id user_id:eu-3
check stats_after_erase 0 "$cdpctl" stats --data "$data" --json
cp "$work/out" "$work/stats2.json"
s2="$work/stats2.json"
expect_eq erased_people "$(field "$s2" eu people)" 2
expect_eq erased_events "$(field "$s2" eu events)" 4
expect_eq erased_merges "$(field "$s2" eu merges)" 0
expect_eq erased_erasures "$(field "$s2" eu erasures)" 1
expect_eq erased_suppressed "$(field "$s2" eu suppressed_identifiers)" 2
expect_eq erased_us_untouched "$(field "$s2" us events)" 3
expect_eq erased_total_erasures "$(jq .totals.erasures "$s2")" 1

# The table for a person: one row per region and the totals.
check stats_table 0 "$cdpctl" stats --data "$data"
expect_eq table_total_row "$(awk '$1 == "total" {print $2, $3, $4, $5}' "$work/out")" "4 7 0 1"
expect_eq table_eu_row "$(awk '$1 == "eu" {print $2, $3, $4, $5, $6}' "$work/out")" "2 4 0 1 2"

# Every stats read so far (5) is audited in the default region's log.
check audit_export 0 "$cdpctl" audit export --data "$data" --format jsonl --out "$work/audit.jsonl"
expect_eq stats_audited "$(grep -c '"admin.stats"' "$work/audit.jsonl")" 5

# Bad usage: exit 2, nothing on stdout.
check no_data 2 "$cdpctl" stats
expect_eq no_data_silent_stdout "$(wc -c <"$work/out")" 0
check unknown_option 2 "$cdpctl" stats --data "$data" --bogus
check extra_argument 2 "$cdpctl" stats --data "$data" extra
check missing_dir 2 "$cdpctl" stats --data "$work/nowhere"
check help 0 "$cdpctl" stats --help

echo "stats_cli_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
