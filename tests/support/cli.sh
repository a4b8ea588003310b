# Test verbs of the cdpctl shell tests, sourced after the test sets `work` (its temporary
# directory) and the counters `passed` and `failed` (both 0). Each verb counts one check and
# prints "FAIL name: ..." with what it saw when the check fails.

check() { # name expected_exit command...: the command's exit code (stdout/stderr in $work/out, err)
    local name=$1 expected=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local code=$?
    # Sanitizer reports must reach ctest's output (FAIL_REGULAR_EXPRESSION).
    grep -E "Sanitizer|runtime error:" "$work/err" && code=99
    if [ "$code" = "$expected" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $code, expected $expected"
        sed 's/^/  stdout: /' "$work/out" | head -20
        sed 's/^/  stderr: /' "$work/err" | head -20
    fi
}

expect_text() { # name file text: the file holds the fixed text
    if grep -qF -- "$3" "$2"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1: '$3' not in $2:"
        sed 's/^/  /' "$2" | head -20
    fi
}

expect_eq() { # name actual expected
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1: got '$2', expected '$3'"
    fi
}

expect() { # name condition-command...: the command succeeds
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}
