#!/bin/sh
# `make run`: creates the demo data directory if absent (with one API key per role, kept in
# DEMO_DIR/demo-keys.txt, mode 0600), prints the keys, then serves the HTTP API in the
# foreground (Ctrl-C stops it cleanly).
# Usage: tools/run-demo.sh BUILD_DIR DEMO_DIR LISTEN
set -eu
build=$1
demo=$2
listen=$3
keys="$demo/demo-keys.txt"
if [ ! -d "$demo" ]; then
    "$build/cdpctl" init --data "$demo" --policies policies
    if "$build/cdpctl" --help | grep -q '^  keys create'; then
        (
            umask 077
            : >"$keys.tmp"
            for role in ingest personalization dpo auditor admin; do
                source_arg=""
                [ "$role" = ingest ] && source_arg="--source web"
                # shellcheck disable=SC2086
                key=$("$build/cdpctl" keys create --data "$demo" --role "$role" $source_arg 2>/dev/null)
                printf '%-16s %s\n' "$role" "$key" >>"$keys.tmp"
            done
            chmod 600 "$keys.tmp"
            mv "$keys.tmp" "$keys"
        )
    fi
fi
echo "cdp demo data directory: $demo (regions: $(ls "$demo/regions" | tr '\n' ' '))"
if [ -f "$keys" ]; then
    echo "API keys of the demo (also in $keys):"
    sed 's/^/  /' "$keys"
fi
if "$build/cdpctl" --help | grep -q '^  serve'; then
    host_port=$listen
    echo "Try:"
    echo "  curl http://$host_port/healthz"
    if [ -f "$keys" ]; then
        ingest=$(awk '$1 == "ingest" {print $2}' "$keys")
        personalization=$(awk '$1 == "personalization" {print $2}' "$keys")
        admin=$(awk '$1 == "admin" {print $2}' "$keys")
        echo "  curl -u $ingest: -d '{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"alice@example.com\"}}' http://$host_port/v1/identify"
        echo "  curl -H 'Authorization: Bearer $personalization' -H 'X-CDP-Purpose: personalization' http://$host_port/v1/profiles/email:alice%40example.com"
        echo "  curl -H 'Authorization: Bearer $admin' http://$host_port/metrics"
    fi
    exec "$build/cdpctl" serve --data "$demo" --listen "$listen"
fi
echo "The HTTP server (cdpctl serve on $listen) is not built yet; try:"
echo "  $build/cdpctl --help"
echo "  $build/cdp-bench --quick"
