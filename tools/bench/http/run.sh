#!/usr/bin/env bash
# cdp over HTTP against its ceilings, measured with wrk (Debian's wrk 4.1):
#   tools/bench/http/run.sh [--quick] [--people N] [--duration S] [--threads N (server, 4)]
#                           [--batch-connections N (8)] [--get-connections N (64)]
#   BUILD_DIR=build-x tools/bench/http/run.sh     (uses $BUILD_DIR/cdpctl, default build/)
# Builds nothing of cdp (build it first: make, or cmake --build build --target cdpctl). Starts
# `cdpctl serve` on 127.0.0.1 over a temporary data directory, loads N people (default 100,000;
# --quick 5,000) through POST /v1/batch, 100 identify calls a request, then runs wrk with one
# thread (the machine's cores are shared with the server):
#   http_batch_ingest: POST /v1/batch of 100 messages, cdp-bench ingest's mix over the loaded
#     people, every messageId new (batch.lua). ops_per_s is events/s; the ceiling is the same
#     events ingested embedded (`$BUILD_DIR/cdp-bench ingest`, when that runs; else 0 and a note).
#   http_profile_get: GET /v1/profiles/user_id:user-P with purpose personalization over random
#     people of the first 5,000 (who granted consent through POST /v1/consent first) at 64
#     connections (profile_get.lua), against trivial_server.c: libmicrohttpd with
#     cdp's daemon flags answering every request with the bytes of a real profile response.
# Prints one JSON line per figure on stdout, like cdp-bench; progress goes to stderr.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../../.." && pwd)
build=${BUILD_DIR:-$source_dir/build}
cdpctl="$build/cdpctl"

people=100000
duration=20
threads=4
batch_connections=8
get_connections=64
quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1; people=5000; duration=8 ;;
    --people) people=$2; shift ;;
    --duration) duration=$2; shift ;;
    --threads) threads=$2; shift ;;
    --batch-connections) batch_connections=$2; shift ;;
    --get-connections) get_connections=$2; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
batch=100

for tool in wrk curl cc pkg-config; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not installed" >&2; exit 1; }
done
[ -x "$cdpctl" ] || { echo "run.sh: no $cdpctl (build first, or set BUILD_DIR)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdp-bench-http-XXXXXX)
server_pid=
trivial_pid=
stop() { # pid
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$1" 2>/dev/null
    fi
}
trap 'stop "$server_pid"; stop "$trivial_pid"; rm -rf "$work"' EXIT
log() { echo "run.sh: $*" >&2; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; } # bc is not on every machine
die() { log "$*"; [ -s "$work/server.err" ] && sed 's/^/  server: /' "$work/server.err" | tail -5 >&2; exit 1; }

# Waits for "listening on http://127.0.0.1:PORT" in file $1 from process $2; prints PORT.
wait_port() {
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1")
        [ -n "$port" ] && { echo "$port"; return 0; }
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# run_wrk NAME CONNECTIONS SCRIPT URL: prints "req/s p50_ms p99_ms non2xx socket_errors".
run_wrk() {
    local name=$1 connections=$2 script=$3 url=$4
    LUA_PATH="$here/?.lua;;" wrk -t1 -c"$connections" -d"${duration}s" --timeout 10s \
        -s "$here/$script" "$url" >"$work/wrk-$name.out" 2>&1 ||
        die "wrk $name failed: $(tail -3 "$work/wrk-$name.out")"
    local result
    result=$(sed -n 's/^RESULT //p' "$work/wrk-$name.out")
    [ -n "$result" ] || die "wrk $name printed no result: $(tail -3 "$work/wrk-$name.out")"
    echo "$result"
}

# ---- the server and its keys --------------------------------------------------------------------

log "$(uptime | sed 's/^ *//')"
"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" 2>"$work/init.err" ||
    die "cdpctl init: $(cat "$work/init.err")"
# No 429s in a benchmark: rate limits far above anything reachable (the buckets still run). The
# rest of the data directory's roles.json stays as it is (the loader requires all of it).
python3 - "$work/data/policies/roles.json" <<'PY' || die "could not raise the rate limits in roles.json"
import json, sys
path = sys.argv[1]
roles = json.load(open(path))
for role in ("ingest", "personalization"):
    roles.setdefault("rate_limits", {})[role] = {"requests_per_second": 1e9, "burst": 1e9}
json.dump(roles, open(path, "w"), indent=2)
PY
# Region eu, as cdp-bench ingest: the messages' people live in Germany.
ingest_key=$("$cdpctl" keys create --data "$work/data" --role ingest --region eu --source web \
    2>"$work/keys.err") || die "keys create: $(cat "$work/keys.err")"
read_key=$("$cdpctl" keys create --data "$work/data" --role personalization --region eu \
    2>"$work/keys.err") || die "keys create: $(cat "$work/keys.err")"
admin_key=$("$cdpctl" keys create --data "$work/data" --role admin 2>"$work/keys.err") ||
    die "keys create: $(cat "$work/keys.err")"

# ingest_count OUTCOME: the server's cdp_ingest_messages_total{outcome=OUTCOME}.
ingest_count() {
    curl -s -H "Authorization: Bearer $admin_key" "$base/metrics" |
        sed -n "s/^cdp_ingest_messages_total{outcome=\"$1\"} \([0-9]*\)$/\1/p"
}

"$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 --threads "$threads" \
    2>"$work/server.err" &
server_pid=$!
port=$(wait_port "$work/server.err" "$server_pid") || die "cdpctl serve did not start"
base="http://127.0.0.1:$port"

# ---- load N people: identify calls, 100 a request, 4 requests in flight -------------------------

log "loading $people people through /v1/batch"
mkdir "$work/load"
awk -v people="$people" -v batch="$batch" -v dir="$work/load" 'BEGIN {
    for (p = 0; p < people; p++) {
        b = int(p / batch)
        file = sprintf("%s/%06d.json", dir, b)
        phone = p % 4 == 0 ? ",\"phone\":\"+49 30 1234567\"" : ""
        printf("%s{\"type\":\"identify\",\"userId\":\"user-%d\",\"anonymousId\":\"anon-%d\"," \
               "\"messageId\":\"load-%d\",\"timestamp\":\"2026-11-%02dT11:00:00Z\",\"traits\":{" \
               "\"email\":\"person%d@shop.example\",\"first_name\":\"Kim\",\"last_name\":\"Berg\"," \
               "\"plan\":\"gold\",\"address\":{\"city\":\"Berlin\",\"country\":\"DE\"}%s}," \
               "\"context\":{\"channel\":\"web\",\"library\":{\"name\":\"analytics-node\"}}}",
               p % batch == 0 ? "{\"batch\":[" : ",", p, p, p, 1 + p % 28, p, phone) >file
        if (p % batch == batch - 1 || p == people - 1) { printf("]}") >file; close(file) }
    }
}'
first=1
for file in "$work"/load/*.json; do
    [ "$first" = 1 ] || echo next
    first=0
    printf 'url = "%s/v1/batch"\nheader = "Authorization: Bearer %s"\n' "$base" "$ingest_key"
    printf 'header = "Content-Type: application/json"\ndata-binary = "@%s"\n' "$file"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code} %%{size_download}\\n"\n'
done >"$work/load.curl"
load_start=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max 4 --max-time 60 -K "$work/load.curl" >"$work/load.status"
load_seconds=$(calc "$(date +%s.%N) - $load_start")
requests=$(find "$work/load" -name "*.json" | wc -l)
loaded=$(grep -c '^200 18$' "$work/load.status")
# {"success": true}\n is 18 bytes; anything else is a refusal or a partial batch.
[ "$loaded" = "$requests" ] ||
    die "loading: $loaded of $requests requests answered {\"success\": true}: $(sort "$work/load.status" | uniq -c | head -3)"
log "loaded $people people in $load_seconds s ($(calc "$people / $load_seconds" | cut -d. -f1) events/s, 4 connections)"
rm -rf "$work/load"

# The people read live in Germany (GDPR): personalization needs their consent. The first
# read_people of them grant it (POST /v1/consent, one synced write each, 4 in flight); the GETs
# go to them.
read_people=$((people < 5000 ? people : 5000))
log "granting consent for personalization to $read_people people through /v1/consent"
for p in $(seq 0 $((read_people - 1))); do
    [ "$p" = 0 ] || echo next
    printf 'url = "%s/v1/consent"\nheader = "Authorization: Bearer %s"\n' "$base" "$ingest_key"
    printf 'header = "Content-Type: application/json"\n'
    printf 'data = "{\\"identity\\":{\\"type\\":\\"user_id\\",\\"value\\":\\"user-%d\\"},\\"purposes\\":{\\"personalization\\":\\"granted\\"},\\"source\\":\\"web\\"}"\n' "$p"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
done >"$work/consent.curl"
curl -s --no-progress-meter --parallel --parallel-max 4 --max-time 60 -K "$work/consent.curl" \
    >"$work/consent.status"
granted=$(grep -c '^200$' "$work/consent.status")
[ "$granted" = "$read_people" ] ||
    die "consent: $granted of $read_people requests answered 200: $(sort "$work/consent.status" | uniq -c | head -3)"
export CDP_BENCH_READ_PEOPLE=$read_people

# A typical profile response, for the trivial server to repeat.
curl -s -o "$work/profile.json" -w '%{http_code}' -H "Authorization: Bearer $read_key" \
    -H 'X-CDP-Purpose: personalization' "$base/v1/profiles/user_id:user-$((read_people / 2))" \
    >"$work/profile.status"
[ "$(cat "$work/profile.status")" = 200 ] || die "profile read: $(cat "$work/profile.status") $(cat "$work/profile.json")"
log "a profile response is $(wc -c <"$work/profile.json") bytes"

export CDP_BENCH_PEOPLE=$people CDP_BENCH_BATCH=$batch

# ---- (b) GET /v1/profiles/REF at 64 connections, and the trivial server with the same bytes --

# shellcheck disable=SC2046 # pkg-config's flags are meant to split into words
cc -std=c11 -O2 -o "$work/trivial_server" "$here/trivial_server.c" \
    $(pkg-config --cflags --libs libmicrohttpd) -lpthread 2>"$work/cc.err" ||
    die "cc trivial_server.c: $(cat "$work/cc.err")"
"$work/trivial_server" "$work/profile.json" "$threads" 2>"$work/trivial.err" &
trivial_pid=$!
trivial_port=$(wait_port "$work/trivial.err" "$trivial_pid") || die "trivial_server did not start"

export CDP_BENCH_KEY=$read_key
log "warming up: profile GETs for 3 s"
saved_duration=$duration
duration=3
run_wrk warmup "$get_connections" profile_get.lua "$base" >/dev/null
duration=$saved_duration
log "profile GET: cdp, ${duration} s at $get_connections connections"
read -r get_rps get_p50 get_p99 get_non2xx get_socket <<<"$(run_wrk get "$get_connections" profile_get.lua "$base")"
log "profile GET: trivial server, ${duration} s at $get_connections connections"
read -r ceil_rps ceil_p50 ceil_p99 ceil_non2xx ceil_socket <<<"$(run_wrk ceiling "$get_connections" profile_get.lua "http://127.0.0.1:$trivial_port")"
stop "$trivial_pid"
trivial_pid=
[ "$get_non2xx" = 0 ] || log "WARNING: $get_non2xx profile GETs were not 2xx"
[ "$((ceil_non2xx + ceil_socket))" = 0 ] ||
    log "WARNING: the trivial server: $ceil_non2xx not 2xx, $ceil_socket socket errors"
printf '{"bench": "http_profile_get", "ops_per_s": %.0f, "ceiling_ops_per_s": %.0f, "ratio": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "ceiling_p50_ms": %.3f, "ceiling_p99_ms": %.3f, "connections": %d, "people": %d, "read_people": %d, "response_bytes": %d, "non_2xx": %d, "socket_errors": %d, "server_threads": %d}\n' \
    "$get_rps" "$ceil_rps" "$(calc "$get_rps / $ceil_rps")" "$get_p50" "$get_p99" \
    "$ceil_p50" "$ceil_p99" "$get_connections" "$people" "$read_people" "$(wc -c <"$work/profile.json")" \
    "$get_non2xx" "$get_socket" "$threads"

# ---- (a) POST /v1/batch of 100 events ------------------------------------------------------------

export CDP_BENCH_KEY=$ingest_key
log "batch ingest: cdp, ${duration} s at $batch_connections connections"
accepted_before=$(ingest_count accepted) rejected_before=$(ingest_count rejected)
duplicates_before=$(ingest_count duplicate)
read -r batch_rps batch_p50 batch_p99 batch_non2xx batch_socket <<<"$(run_wrk batch "$batch_connections" batch.lua "$base")"
# What the server did with the messages: every one accepted, none refused or deduplicated.
accepted=$(($(ingest_count accepted) - accepted_before))
rejected=$(($(ingest_count rejected) - rejected_before))
duplicates=$(($(ingest_count duplicate) - duplicates_before))
[ "$batch_non2xx" = 0 ] || log "WARNING: $batch_non2xx batch requests were not 2xx"
[ "$((rejected + duplicates))" = 0 ] ||
    log "WARNING: the server refused $rejected and deduplicated $duplicates messages"
events_per_s=$(calc "$batch_rps * $batch")

# The ceiling: the same mix ingested embedded, when this build's cdp-bench has `ingest` (asked
# first: an older cdp-bench would ignore the word and run its whole default benchmark).
ceiling=0
note="ceiling: cdp-bench ingest not available in $build"
if [ -x "$build/cdp-bench" ] && "$build/cdp-bench" --help 2>&1 | grep -qw ingest; then
    log "batch ingest ceiling: $build/cdp-bench ingest"
    ingest_args=(ingest)
    [ "$quick" = 1 ] && ingest_args+=(--quick)
    "$build/cdp-bench" "${ingest_args[@]}" >"$work/ingest.out" 2>"$work/ingest.err"
    # The best of its lines (1 and 2 threads): the server may use both cores too.
    ceiling=$(sed -n 's/.*"bench": "ingest".*"ops_per_s": \([0-9.]*\).*/\1/p' "$work/ingest.out" |
        sort -g | tail -1)
    if [ -n "$ceiling" ]; then
        note="ceiling: embedded cdp_ingest of the same mix (cdp-bench ${ingest_args[*]}, best of its thread counts)"
    else
        ceiling=0
        note="ceiling: cdp-bench ${ingest_args[*]} printed no ingest line: $(head -c 120 "$work/ingest.err" | tr '\n"' '  ')"
    fi
fi
ratio=0
[ "$ceiling" != 0 ] && ratio=$(calc "$events_per_s / $ceiling")
printf '{"bench": "http_batch_ingest", "ops_per_s": %.0f, "ceiling_ops_per_s": %.0f, "ratio": %.3f, "requests_per_s": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "batch": %d, "connections": %d, "people": %d, "accepted": %d, "rejected": %d, "duplicates": %d, "non_2xx": %d, "socket_errors": %d, "server_threads": %d, "note": "%s"}\n' \
    "$events_per_s" "$ceiling" "$ratio" "$batch_rps" "$batch_p50" "$batch_p99" "$batch" \
    "$batch_connections" "$people" "$accepted" "$rejected" "$duplicates" "$batch_non2xx" \
    "$batch_socket" "$threads" "$note"

stop "$server_pid"
server_pid=
if grep -qE ': internal: ' "$work/server.err"; then
    log "WARNING: the server logged internal errors:"
    grep ': internal: ' "$work/server.err" | head -5 >&2
fi
log "$(uptime | sed 's/^ *//')"
