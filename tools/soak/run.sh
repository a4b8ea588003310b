#!/usr/bin/env bash
# Bounded soak on loopback (issue 10): `cdpctl serve` under wrk with mixed ingest (/v1/batch) and
# profile reads for SOAK_SECONDS (default 600; `make soak`), after a warm-up. Samples the
# server's VmRSS and open file descriptors every 2 s and fails unless: wrk saw no non-2xx answer
# and no socket error, RSS less memtables after the warm-up grew less than SOAK_RSS_GROWTH_PCT
# (10) %, and the
# descriptor count stayed flat (within SOAK_FD_SLACK, 4). Prints the samples and a summary.
# Usage: tools/soak/run.sh [BUILD_DIR]   (env: SOAK_SECONDS, SOAK_WARMUP, SOAK_CONNECTIONS)
set -u
build=${1:-${CDP_BUILD_DIR:-build}}
here=$(cd "$(dirname "$0")" && pwd)
source_dir=${CDP_SOURCE_DIR:-$here/../..}
export CDP_BUILD_DIR=$build CDP_SOURCE_DIR=$source_dir
seconds=${SOAK_SECONDS:-600}
warmup=${SOAK_WARMUP:-$((seconds / 4 > 60 ? 60 : seconds / 4))}
connections=${SOAK_CONNECTIONS:-8}
# RSS, less what RocksDB holds in memtables (up to 64 MiB per column family before a flush, growing
# with ingest and with the audit record of every read; /metrics cdp_store_memtable_bytes), may
# grow by this much after the warm-up: a leak of a few hundred bytes per request exceeds it.
rss_growth_pct=${SOAK_RSS_GROWTH_PCT:-10}
fd_slack=${SOAK_FD_SLACK:-4}
people=${SOAK_PEOPLE:-100}
command -v wrk >/dev/null || { echo "SKIP soak: wrk is not installed (tools/deps.sh)"; exit 77; }

# The test verbs, server start/stop and keys: the same helper as the shell tests.
. "$source_dir/tests/support/server.sh"
srv_setup soak
srv_init "$work/data"
# The soak measures the server, not the rate limiter: lift the per-key limits in this copy.
jq '.rate_limits |= with_entries(.value = {"requests_per_second": 1000000, "burst": 1000000})' \
    "$work/data/policies/roles.json" >"$work/roles.json" && cp "$work/roles.json" "$work/data/policies/roles.json"
export SOAK_INGEST_KEY SOAK_READ_KEY SOAK_PEOPLE=$people
SOAK_INGEST_KEY=$(srv_key "$work/data" ingest eu --source web) || srv_abort "ingest key"
SOAK_READ_KEY=$(srv_key "$work/data" dpo eu) || srv_abort "read key"
admin_key=$(srv_key "$work/data" admin eu) || srv_abort "admin key"
srv_start "$work/data" --threads 4 || srv_abort "server start: $(cat "$work/server.err")"

for i in $(seq "$people"); do
    request POST /v1/identify -H "Authorization: Bearer $SOAK_INGEST_KEY" \
        -H 'Content-Type: application/json' \
        -d "{\"userId\":\"soak-$i\",\"messageId\":\"soak-seed-$i\",\"traits\":{\"email\":\"soak$i@example.org\",\"first_name\":\"Soak\"},\"context\":{\"location\":{\"country\":\"DE\"}}}"
    [ "$status" = 200 ] || srv_abort "seed soak-$i: HTTP $status"
done

sample() { # prints "SECONDS RSS_KB FDS MEMTABLE_KB" every 2 s while the server runs
    local start=$SECONDS memtable
    while kill -0 "$server_pid" 2>/dev/null; do
        memtable=$(curl -s -m 5 -H "Authorization: Bearer $admin_key" "$base/metrics" |
            awk '$1 == "cdp_store_memtable_bytes" {printf "%d", $2 / 1024}')
        echo "$((SECONDS - start)) $(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null) $(ls "/proc/$server_pid/fd" 2>/dev/null | wc -l) ${memtable:-x}"
        sleep 2
    done
}
sample >"$work/samples" &
sampler=$!
echo "soak: ${seconds}s of wrk (-c $connections, -t 2), warm-up ${warmup}s, $people people"
wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$here/soak.lua" "$base" \
    >"$work/wrk.out" 2>"$work/wrk.err"
wrk_exit=$?
sleep 2
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
cat "$work/wrk.out"
[ -s "$work/wrk.err" ] && head -5 "$work/wrk.err"
check wrk_ran test "$wrk_exit" = 0
requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
[ "${requests:-0}" -gt 0 ] && pass || fail requests_served "wrk made no requests"
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$work/wrk.out")
[ -z "$non2xx" ] && pass || fail no_error_responses "$non2xx non-2xx answers"
socket_errors=$(grep 'Socket errors' "$work/wrk.out")
[ -z "$socket_errors" ] && pass || fail no_socket_errors "$socket_errors"
kill -0 "$server_pid" 2>/dev/null && pass || fail server_alive "the server died"

# After the warm-up: RSS growth from the first sample to the largest, and the fd range.
# Only samples taken while wrk ran (its connections are descriptors too).
awk -v w="$warmup" -v end="$((seconds - 1))" '$1 >= w && $1 <= end && $2 != "" && $4 != "x"' "$work/samples" >"$work/steady"
if [ "$(wc -l <"$work/steady")" -lt 3 ]; then
    fail samples "fewer than 3 samples after the warm-up"
else
    # net = RSS less memtables; the largest net against the first.
    read -r rss_first fd_min fd_max rss_max mem_first mem_max < <(awk '
        NR == 1 {r = $2 - $4; fmin = $3; fmax = $3; rmax = r; m = $4; mmax = $4}
        {if ($2 - $4 > rmax) rmax = $2 - $4; if ($3 < fmin) fmin = $3; if ($3 > fmax) fmax = $3
         if ($4 > mmax) mmax = $4}
        END {print r, fmin, fmax, rmax, m, mmax}' "$work/steady")
    growth=$(awk -v a="$rss_first" -v b="$rss_max" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
    echo "soak: RSS less memtables after warm-up ${rss_first} kB -> max ${rss_max} kB (+${growth} %), memtables ${mem_first}..${mem_max} kB, fds ${fd_min}..${fd_max}"
    awk -v g="$growth" -v limit="$rss_growth_pct" 'BEGIN {exit !(g < limit)}' && pass ||
        fail rss_flat "RSS less memtables grew ${growth} % after the warm-up (limit ${rss_growth_pct} %)"
    [ $((fd_max - fd_min)) -le "$fd_slack" ] && pass ||
        fail fds_flat "descriptors ranged ${fd_min}..${fd_max}"
fi
srv_stop
[ "$server_exit" = 0 ] && pass || fail clean_stop "serve exited $server_exit"
[ "$failed" = 0 ] || { echo "soak samples (s rss_kB fds memtable_kB):"; cat "$work/samples"; }
srv_summary
