#!/usr/bin/env bash
# The TCF decoder against strings freshly made by the IAB reference encoder (@iabtcf/core, pinned
# in tests/clients/package.json and package-lock.json): tests/clients/tcf_vectors.mjs prints the
# vectors (TC string + the fields the reference decoder reads back), the Criterion binary
# tcf_test decodes each and compares every field (CDP_TCF_VECTORS), and the committed copy
# tests/data/tcf_vectors.json must be what the encoder makes today. npm installs the clients
# into tests/clients/node_modules when missing or older than the lock; without node or the npm
# registry the test prints SKIP and passes (tcf_test still checks the committed vectors).
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
clients="$source_dir/tests/clients"
work=$(mktemp -d /tmp/cdp-tcf-XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

skip_all() { echo "SKIP tcf vectors: $1"; echo "0 passed, 0 failed"; exit 0; }
fail_all() { echo "FAIL $1"; [ -s "${2:-/dev/null}" ] && sed 's/^/  /' "$2" | tail -20; echo "0 passed, 1 failed"; exit 1; }
check() { # name command...
    local name=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        sed 's/^/  /' "$work/out" | tail -30
        failed=$((failed + 1))
    fi
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip_all "node/npm not installed"
fi

# ---- the reference encoder: installed once per lock file (tests/support/npm.sh) --------------

. "$(dirname "$0")/support/npm.sh" || exit 1
clients_npm_install "$clients" "$work"
case $? in
0) ;;
3) skip_all "npm registry unreachable (offline)" ;;
*) fail_all "npm install in tests/clients failed:" "$work/npm.log" ;;
esac

# ---- vectors from the reference encoder, decoded by ours ---------------------------------------

(cd "$clients" && timeout 60 node tcf_vectors.mjs) >"$work/vectors.json" 2>"$work/node.err" ||
    fail_all "node tcf_vectors.mjs" "$work/node.err"

count=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).vectors.length)' "$work/vectors.json")
check "reference_encoder_made_${count}_vectors" test "$count" -ge 5

check fresh_vectors_decode_to_every_field \
    env CDP_TCF_VECTORS="$work/vectors.json" CDP_SOURCE_DIR="$source_dir" \
    "$build/tcf_test" --jobs 1 --filter 'tcf/reference_vectors_decode_to_every_field'
check fresh_vectors_truncations_and_changes_fail_cleanly \
    env CDP_TCF_VECTORS="$work/vectors.json" CDP_SOURCE_DIR="$source_dir" \
    "$build/tcf_test" --jobs 1 --filter 'tcf/+(every_truncation_fails_cleanly|changed_characters_never_crash)'
# The committed vectors (what tcf_test checks offline) are the encoder's output today.
check committed_vectors_match_the_reference_encoder \
    cmp "$work/vectors.json" "$source_dir/tests/data/tcf_vectors.json"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
