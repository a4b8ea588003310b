#!/usr/bin/env bash
# `make memcheck`: runs each Criterion unit suite (tests/*_test.c) under valgrind memcheck.
# Criterion runs every test in a child process (BoxFort re-executes the binary), so valgrind
# must follow children, and a child's valgrind exit code does not reach Criterion's summary:
# a suite fails when valgrind printed anything at all (-q prints errors only) or the suite
# itself failed. Leaks counted: definitely and indirectly lost. tests/valgrind.supp holds the
# commented suppressions of third-party leaks (none of ours are suppressed).
#   tools/memcheck.sh [BUILD_DIR] [SUITE...]     (suites by name, e.g. normalize_test)
# MEMCHECK_JOBS suites run at a time (default 2).
set -uo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$source_dir/build}" && pwd)
shift || true
parallel=${MEMCHECK_JOBS:-2}
logs="$build/memcheck"
mkdir -p "$logs"

if [ $# -gt 0 ]; then
    suites=("$@")
else
    suites=()
    for source in "$source_dir"/tests/*_test.c; do
        suites+=("$(basename "$source" .c)")
    done
fi

run_suite() { # name
    local name=$1 log="$logs/$1.log" start=$SECONDS
    CDP_BUILD_DIR="$build" CDP_SOURCE_DIR="$source_dir" \
        valgrind -q --trace-children=yes --leak-check=full \
        --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --num-callers=40 --suppressions="$source_dir/tests/valgrind.supp" \
        "$build/$name" --jobs 1 >"$log" 2>&1
    local code=$?
    local summary
    summary=$(grep -o 'Tested: [0-9]* | Passing: [0-9]* | Failing: [0-9]* | Crashing: [0-9]*' "$log" | tail -1)
    # "Warning: unimplemented fcntl command: 1036" is valgrind saying it does not model a call a
    # library makes: not a memory error.
    if [ "$code" = 0 ] && ! grep -E '^==[0-9]+== ' "$log" | grep -qv 'Warning: unimplemented fcntl'; then
        echo "memcheck $name: clean ($summary) in $((SECONDS - start)) s"
        return 0
    fi
    echo "memcheck $name: FAILED (exit $code; $summary), see $log:"
    grep -E '^==[0-9]+== ' "$log" | grep -v 'Warning: unimplemented fcntl' | head -30 |
        sed 's/^/  /'
    return 1
}

passed=0
failed=0
pids=()
wait_one() {
    wait "${pids[0]}" && passed=$((passed + 1)) || failed=$((failed + 1))
    pids=("${pids[@]:1}")
}
for name in "${suites[@]}"; do
    if [ ! -x "$build/$name" ]; then
        echo "memcheck $name: not built in $build"
        failed=$((failed + 1))
        continue
    fi
    while [ "${#pids[@]}" -ge "$parallel" ]; do wait_one; done
    run_suite "$name" &
    pids+=($!)
done
while [ "${#pids[@]}" -gt 0 ]; do wait_one; done
if [ $# = 0 ]; then
    # cdpd: serves a little traffic under valgrind, then must stop on SIGTERM without a leak.
    if CDP_MEMCHECK=1 CDP_BUILD_DIR="$build" CDP_SOURCE_DIR="$source_dir" \
        bash "$source_dir/tests/serve_shutdown_leak_test.sh" >"$logs/serve_shutdown.log" 2>&1; then
        passed=$((passed + 1))
        echo "memcheck cdpd shutdown: clean"
    else
        failed=$((failed + 1))
        echo "memcheck cdpd shutdown: FAILED, see $logs/serve_shutdown.log"
        tail -30 "$logs/serve_shutdown.log" | sed 's/^/  /'
    fi
fi
echo "memcheck: $passed passed, $failed failed"
[ "$failed" = 0 ]
