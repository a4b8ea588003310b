#!/usr/bin/env bash
# Replays every committed fuzz input with the normal build's replay binaries (no clang needed):
# the crash inputs the fuzzers found (tests/fuzz/regressions/<name>/, each fixed in the product
# code) and the seed corpora (tests/fuzz/corpus/<name>/). A harness asserts its invariants, so a
# bug that comes back aborts here; under the sanitizer build the same replay runs with ASan.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
passed=0
failed=0
for harness in "$source_dir"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$harness" .c)
    [ "$name" = fuzz_replay ] && continue
    name=${name#fuzz_}
    dirs=()
    for kind in corpus regressions; do
        dir="$source_dir/tests/fuzz/$kind/$name"
        [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && dirs+=("$dir")
    done
    if [ ! -x "$build/fuzz_${name}_replay" ] || [ ${#dirs[@]} = 0 ]; then
        echo "FAIL $name: no replay binary or no committed inputs"
        failed=$((failed + 1))
        continue
    fi
    if "$build/fuzz_${name}_replay" "${dirs[@]}" >"$build/fuzz-replay-$name.log" 2>&1 &&
        ! grep -qE "Sanitizer|runtime error:" "$build/fuzz-replay-$name.log"; then
        passed=$((passed + 1))
        echo "ok $name: $(tail -1 "$build/fuzz-replay-$name.log")"
    else
        failed=$((failed + 1))
        echo "FAIL $name:"
        grep -B2 -A12 -E "invariant failed|ERROR|runtime error|no inputs" \
            "$build/fuzz-replay-$name.log" | head -40 | sed 's/^/  /'
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
