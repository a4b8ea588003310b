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

# ---- the reference encoder: installed once per lock file (as tests/sdk_clients_test.sh) -------

stamp=$(cat "$clients/package.json" "$clients/package-lock.json" 2>/dev/null | sha256sum | cut -c1-32)
exec 9>"/tmp/cdp-sdk-clients-npm.lock"
flock -w 300 9 || fail_all "another npm install in $clients holds the lock for 5 minutes"
if [ "$(cat "$clients/node_modules/.cdp-stamp" 2>/dev/null)" != "$stamp" ]; then
    if ! timeout 20 npm ping --fetch-retries=0 --fetch-timeout=15000 --loglevel=error >"$work/npm.log" 2>&1; then
        skip_all "npm registry unreachable (offline)"
    fi
    npm_flags=(--no-audit --no-fund --ignore-scripts --loglevel=error)
    if ! (cd "$clients" && timeout 300 npm ci "${npm_flags[@]}") >"$work/npm.log" 2>&1; then
        # As in sdk_clients_test.sh: a mirror serving only Linux packages makes npm ci refuse
        # the lock; npm install installs the same locked versions, the lock kept byte for byte.
        if grep -q 'EUSAGE' "$work/npm.log"; then
            cp "$clients/package-lock.json" "$work/package-lock.json"
            (cd "$clients" && timeout 300 npm install "${npm_flags[@]}") >"$work/npm.log" 2>&1 ||
                fail_all "npm install in tests/clients failed:" "$work/npm.log"
            cmp -s "$work/package-lock.json" "$clients/package-lock.json" ||
                cp "$work/package-lock.json" "$clients/package-lock.json"
        else
            fail_all "npm ci in tests/clients failed:" "$work/npm.log"
        fi
    fi
    echo "$stamp" >"$clients/node_modules/.cdp-stamp"
fi
flock -u 9

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
