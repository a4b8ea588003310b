#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang in BUILD_DIR
# (default build-fuzz) and runs each for FUZZ_SECONDS (default 60), FUZZ_PARALLEL at a time
# (default 2: the machine has 2 cores). Each starts from its committed seeds
# (tests/fuzz/corpus/<name>/, copied: the seeds stay small) plus what earlier runs here found
# (BUILD_DIR/corpus/<name>/). Crash inputs land in BUILD_DIR/crashes/<name>/; the run fails if
# any harness crashed. A fixed crash's input goes to tests/fuzz/regressions/<name>/, which
# tests/fuzz_regressions_test.sh replays in every normal build.
#   tools/fuzz.sh [HARNESS...]     (names without the fuzz_ prefix; default: all)
set -uo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$source_dir/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
parallel=${FUZZ_PARALLEL:-2}
jobs=${JOBS:-2}

if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -DCDP_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
fi
cmake --build "$build" -j"$jobs" --target fuzz_all >"$build/fuzz-build.log" 2>&1 || {
    tail -40 "$build/fuzz-build.log"
    exit 1
}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for harness in "$source_dir"/tests/fuzz/fuzz_*.c; do
        name=$(basename "$harness" .c)
        [ "$name" = fuzz_replay ] && continue
        names+=("${name#fuzz_}")
    done
fi

run_one() { # name
    local name=$1
    local corpus="$build/corpus/$name" crashes="$build/crashes/$name"
    rm -rf "$crashes"
    mkdir -p "$corpus" "$crashes"
    cp -n "$source_dir/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
    local start=$SECONDS
    # -rss_limit_mb: a leak or a huge allocation is a finding, not an OOM of the machine.
    # ASan/UBSan abort on the first error; LSan checks leaks at the end of each input.
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" >"$build/fuzz-$name.log" 2>&1
    local code=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$name.log")
    local found
    found=$(find "$crashes" -type f | wc -l)
    if [ "$code" = 0 ] && [ "$found" = 0 ]; then
        echo "fuzz $name: ok, ${execs:-?} inputs in $((SECONDS - start)) s, corpus $(ls "$corpus" | wc -l)"
        return 0
    fi
    echo "fuzz $name: FAILED (exit $code), $found input(s) in $crashes:"
    grep -E "ERROR|invariant failed|runtime error|SUMMARY" "$build/fuzz-$name.log" | head -10 |
        sed 's/^/  /'
    return 1
}

failed=0
passed=0
pids=()
names_running=()
wait_one() {
    local pid=${pids[0]}
    wait "$pid" && passed=$((passed + 1)) || failed=$((failed + 1))
    pids=("${pids[@]:1}")
}
for name in "${names[@]}"; do
    if [ ! -x "$build/fuzz_$name" ]; then
        echo "fuzz $name: no harness fuzz_$name" >&2
        failed=$((failed + 1))
        continue
    fi
    while [ "${#pids[@]}" -ge "$parallel" ]; do wait_one; done
    run_one "$name" &
    pids+=($!)
done
while [ "${#pids[@]}" -gt 0 ]; do wait_one; done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
