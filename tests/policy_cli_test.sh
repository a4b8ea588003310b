#!/usr/bin/env bash
# cdpctl policy check: the shipped bundle passes (exit 0, "ok: N regions, ..."); broken bundles
# (an unknown country code, a purpose naming an unknown category, bad JSON in identity.json and
# in audit.json, a missing file) exit 2 with every problem as "file: path: reason" on stderr,
# several files' problems in one run; bad usage exits 2; nothing is created in the bundle.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl="$build/cdpctl"
work=$(mktemp -d /tmp/cdp-policy-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
passed=0

check() { # name command...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# run ARGS...: sets $code, stdout in $work/out, stderr in $work/err.
run() {
    "$cdpctl" "$@" >"$work/out" 2>"$work/err"
    code=$?
}

fresh_bundle() { # name: a copy of the shipped bundle in $work/NAME
    rm -rf "${work:?}/$1"
    cp -r "$source_dir/policies" "$work/$1"
}

# ---- the shipped bundle ---------------------------------------------------------------------------
regions=$(grep -c '"regime":' "$source_dir/policies/regions.json")
run policy check "$source_dir/policies"
check shipped_bundle_exits_0 [ "$code" = 0 ]
check shipped_bundle_reports_counts grep -qE "^ok: $regions regions, [1-9][0-9]* purposes, [1-9][0-9]* categories, [1-9][0-9]* regimes" "$work/out"
check shipped_bundle_quiet_on_stderr [ ! -s "$work/err" ]

# ---- one problem: an unknown ISO country code ------------------------------------------------------
fresh_bundle bad_country
sed -i '0,/"AT", /s//"XQ", /' "$work/bad_country/regions.json"
before=$(ls -la "$work/bad_country" | md5sum)
run policy check "$work/bad_country"
check bad_country_exits_2 [ "$code" = 2 ]
check bad_country_names_file_path_reason grep -qE '^regions\.json: regions\[0\]\.countries\[[0-9]+\]: .*XQ' "$work/err"
check bad_country_nothing_on_stdout [ ! -s "$work/out" ]
check bad_country_bundle_unchanged [ "$before" = "$(ls -la "$work/bad_country" | md5sum)" ]

# ---- problems in several files are all reported in one run --------------------------------------------
fresh_bundle many
sed -i '0,/"AT", /s//"XQ", /' "$work/many/regions.json"
sed -i '0,/"contact", /s//"no_such_category", /' "$work/many/purposes.json"
printf '{"version": 1,' >"$work/many/identity.json"
printf '{ not json' >"$work/many/audit.json"
run policy check "$work/many"
check many_exits_2 [ "$code" = 2 ]
check many_reports_regions grep -q '^regions\.json: ' "$work/err"
check many_reports_purposes grep -qE '^purposes\.json: .*no_such_category' "$work/err"
check many_reports_identity grep -q '^identity\.json: ' "$work/err"
check many_reports_audit grep -q '^audit\.json: ' "$work/err"

# ---- a missing required file ------------------------------------------------------------------------
fresh_bundle missing
rm "$work/missing/transfers.json"
run policy check "$work/missing"
check missing_file_exits_2 [ "$code" = 2 ]
check missing_file_named grep -q '^transfers\.json: ' "$work/err"

run policy check "$work/does-not-exist"
check missing_dir_exits_2 [ "$code" = 2 ]
check missing_dir_named grep -q '^regions\.json: .*cannot read' "$work/err"
check missing_dir_not_created [ ! -e "$work/does-not-exist" ]

# ---- usage ----------------------------------------------------------------------------------------
run policy
check no_subcommand_exits_2 [ "$code" = 2 ]
run policy check
check no_dir_exits_2 [ "$code" = 2 ]
run policy check "$source_dir/policies" extra
check extra_argument_exits_2 [ "$code" = 2 ]
run policy validate "$source_dir/policies"
check unknown_subcommand_exits_2 [ "$code" = 2 ]
run policy check --help
check help_exits_0 [ "$code" = 0 ]
check help_on_stdout grep -q 'usage: cdpctl policy check DIR' "$work/out"

echo "policy_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
