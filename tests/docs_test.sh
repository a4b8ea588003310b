#!/usr/bin/env bash
# The user documentation cannot rot: every fenced ```sh block marked runnable in docs/dpo.md,
# docs/auditor.md, docs/integrating.md, docs/policies.md, docs/operations.md and README.md is
# run, in order, against a fresh data directory per document, under `set -e`; any non-zero
# exit fails the test.
#
# Markers (an HTML comment on the line just before the fence):
#   <!-- runnable -->          needs `cdpctl serve` running on $BASE_URL (started if it is not)
#   <!-- runnable: offline --> needs the data directory to itself (the server is stopped first:
#                              RocksDB allows one process per store)
# Blocks of one document share one shell, so variables set in one block are seen by the next.
# Variables the blocks may use: $CDPCTL (the cdpctl binary), $DATA (a data directory made with
# `cdpctl init`), $BASE_URL (http://127.0.0.1:PORT of the server), $POLICIES (the shipped
# policy bundle); the working directory is a scratch directory.
# Write each check as its own command: `set -e` ignores a failure on the left of && or || and
# of a command negated with !, so `a && b` or `! a` would check nothing.
set -u
build=${CDP_BUILD_DIR:-build}
source_dir=${CDP_SOURCE_DIR:-.}
cdpctl=$(cd "$build" && pwd)/cdpctl
source_dir=$(cd "$source_dir" && pwd)
work=$(mktemp -d /tmp/cdp-docs-XXXXXX)
trap 'for f in "$work"/*/server.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done; rm -rf "$work"' EXIT
unset CDP_ROOT_KEY
failed=0
passed=0

# extract FILE: prints a bash script: for each runnable block, a call of the harness function its
# marker asks for, then the block. Fails (exit 3) on a marker not followed by a ```sh fence.
extract() {
    awk '
        /^<!-- runnable -->$/          { want = "docs_server_up"; next }
        /^<!-- runnable: offline -->$/ { want = "docs_server_down"; next }
        want != "" && !inside {
            if ($0 !~ /^```sh/) { print "marker at line " NR - 1 " is not before a sh block" > "/dev/stderr"; exit 3 }
            inside = 1; blocks++
            print "echo \"--- block " blocks " (line " NR ")\" >&2"
            print want
            next
        }
        inside && /^```$/ { inside = 0; want = ""; next }
        inside { print }
        END { if (inside) { print "unterminated block" > "/dev/stderr"; exit 3 } }
    ' "$1"
}

# The prelude every document's script starts with: the server helpers.
prelude='
set -e
docs_server_up() {
    if [ -n "${DOCS_SERVER_PID:-}" ] && kill -0 "$DOCS_SERVER_PID" 2>/dev/null; then return 0; fi
    : >"$DOCS_DIR/server.err"
    "$CDPCTL" serve --data "$DATA" --listen 127.0.0.1:0 2>"$DOCS_DIR/server.err" &
    DOCS_SERVER_PID=$!
    echo "$DOCS_SERVER_PID" >"$DOCS_DIR/server.pid"
    local port=
    for _ in $(seq 200); do
        port=$(sed -n "s/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p" "$DOCS_DIR/server.err")
        [ -n "$port" ] && break
        kill -0 "$DOCS_SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "server did not start" >&2; cat "$DOCS_DIR/server.err" >&2; return 1; }
    BASE_URL=http://127.0.0.1:$port
}
docs_server_down() {
    if [ -n "${DOCS_SERVER_PID:-}" ] && kill -0 "$DOCS_SERVER_PID" 2>/dev/null; then
        kill -TERM "$DOCS_SERVER_PID"
        for _ in $(seq 100); do kill -0 "$DOCS_SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    fi
    DOCS_SERVER_PID=
    rm -f "$DOCS_DIR/server.pid"
}
'

run_doc() { # path relative to the source dir
    local doc=$1 name
    name=$(echo "$doc" | tr '/.' '__')
    local dir="$work/$name"
    mkdir -p "$dir/scratch"
    if ! extract "$source_dir/$doc" >"$dir/blocks.sh"; then
        failed=$((failed + 1)); echo "FAIL $doc: bad markers"; return
    fi
    if [ ! -s "$dir/blocks.sh" ]; then
        echo "$doc: no runnable blocks"
        return
    fi
    if ! "$cdpctl" init --data "$dir/data" --policies "$source_dir/policies" >/dev/null 2>&1; then
        failed=$((failed + 1)); echo "FAIL $doc: init"; return
    fi
    { echo "$prelude"; cat "$dir/blocks.sh"; echo "docs_server_down"; } >"$dir/script.sh"
    if (cd "$dir/scratch" && CDPCTL=$cdpctl DATA=$dir/data POLICIES=$source_dir/policies \
        DOCS_DIR=$dir BASE_URL= timeout 120 bash "$dir/script.sh") >"$dir/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $doc: a block exited non-zero; the end of its output:"
        tail -25 "$dir/out" | sed 's/^/  /'
        [ -s "$dir/server.err" ] && tail -5 "$dir/server.err" | sed 's/^/  server: /'
    fi
}

for doc in README.md docs/integrating.md docs/dpo.md docs/auditor.md docs/policies.md docs/operations.md; do
    if [ ! -f "$source_dir/$doc" ]; then
        failed=$((failed + 1)); echo "FAIL $doc: missing"; continue
    fi
    run_doc "$doc"
done

echo "docs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
