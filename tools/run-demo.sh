#!/bin/sh
# `make run`: creates the demo data directory if absent and starts what the project serves.
# Usage: tools/run-demo.sh BUILD_DIR DEMO_DIR LISTEN
set -eu
build=$1
demo=$2
listen=$3
if [ ! -d "$demo" ]; then
    "$build/cdpctl" init --data "$demo" --policies policies
fi
echo "cdp demo data directory: $demo (regions: $(ls "$demo/regions" | tr '\n' ' '))"
if "$build/cdpctl" --help | grep -q '^  serve'; then
    exec "$build/cdpctl" serve --data "$demo" --listen "$listen"
fi
echo "The HTTP server (cdpctl serve on $listen) is not built yet; try:"
echo "  $build/cdpctl --help"
echo "  $build/cdp-bench --quick"
