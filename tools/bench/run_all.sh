#!/usr/bin/env bash
# The whole benchmark suite, then docs/BENCHMARKS.md and its plots (what `make bench` runs):
#   tools/bench/run_all.sh [--quick]
# Environment (all optional; `make bench` passes them through):
#   BUILD_DIR        build directory with cdp-bench and cdpctl (default build)
#   BENCH_ARGS       arguments for cdp-bench's embedded suite (default none: full sizes;
#                    --quick: --quick)
#   BENCH_HTTP_ARGS  arguments for tools/bench/http/run.sh (default none; --quick: --quick)
#   BENCH_SCALE      people counts for `cdp-bench scale`, space-separated
#                    (default "100000 1000000"; --quick: "20000")
#   BENCH_SCALE_ARGS extra arguments for every `cdp-bench scale` run
#   BENCH_PROFILE    1 (default): perf profiles of ingest and profile reads; 0: none
#   BENCH_OUT        where results go (default docs/bench); the report is docs/BENCHMARKS.md
#   BENCH_STAGES     which stages run, in this order (default "machine embedded http profile
#                    scale report")
# Results: $BENCH_OUT/results.jsonl (every JSON line of the run, each tagged with its stage),
# $BENCH_OUT/machine.json, $BENCH_OUT/perf-*.txt, then tools/bench/report.py writes the report and
# $BENCH_OUT/*.png. A stage that is not run keeps the previous run's lines of that stage, so a
# stage can be re-run alone (BENCH_STAGES="scale report").
set -u
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$source_dir/$build ;; esac
quick=0
[ "${1:-}" = --quick ] && quick=1
if [ "$quick" = 1 ]; then
    bench_args=${BENCH_ARGS---quick}
    http_args=${BENCH_HTTP_ARGS---quick}
    scale_list=${BENCH_SCALE-20000}
else
    bench_args=${BENCH_ARGS-}
    http_args=${BENCH_HTTP_ARGS-}
    scale_list=${BENCH_SCALE-100000 1000000}
fi
scale_args=${BENCH_SCALE_ARGS-}
profile=${BENCH_PROFILE-1}
out=${BENCH_OUT:-$source_dir/docs/bench}
stages=${BENCH_STAGES:-machine embedded http profile scale report}
results=$out/results.jsonl
mkdir -p "$out"
log() { echo "run_all.sh: $*" >&2; }
has_stage() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }
[ -x "$build/cdp-bench" ] && [ -x "$build/cdpctl" ] ||
    { log "no $build/cdp-bench or $build/cdpctl (build first: make build)"; exit 1; }

# tag STAGE: every JSON line of stdin, with "stage" and the load average when it ended added.
tag() {
    local stage=$1 line
    while IFS= read -r line; do
        case $line in
        '{'*'}')
            printf '{"stage": "%s", "load_avg": %s, %s\n' "$stage" \
                "$(cut -d' ' -f1 /proc/loadavg)" "${line#\{}" ;;
        *) printf '%s\n' "$line" >&2 ;;
        esac
    done
}

# replace_stage STAGE FILE: results.jsonl without STAGE's old lines, plus FILE's lines.
replace_stage() {
    local stage=$1 file=$2
    touch "$results"
    grep -v "^{\"stage\": \"$stage\"," "$results" >"$results.tmp" || true
    cat "$file" >>"$results.tmp"
    mv "$results.tmp" "$results"
}

work=$(mktemp -d /tmp/cdp-bench-all-XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

if has_stage machine; then
    log "machine"
    python3 - "$out/machine.json" <<EOF
import json, os, platform, subprocess, sys
def run(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""
lscpu = dict(l.split(":", 1) for l in run("lscpu").splitlines() if ":" in l)
mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")]
machine = {
    "cpu": lscpu.get("Model name", "").strip(),
    "cpus": os.cpu_count(),
    "threads_per_core": lscpu.get("Thread(s) per core", "").strip(),
    "hypervisor": lscpu.get("Hypervisor vendor", "").strip(),
    "mem_total_kib": int(mem[0].split()[1]) if mem else 0,
    "kernel": platform.release(),
    "os": run("sh", "-c", ". /etc/os-release && echo \$PRETTY_NAME"),
    "disk": run("sh", "-c", "df -h /tmp | tail -1"),
    "disk_model": run("sh", "-c", "lsblk -d -o NAME,ROTA,SIZE,MODEL 2>/dev/null | sed -n 2p"),
    "load_avg_start": open("/proc/loadavg").read().split()[:3],
    "date": run("date", "-u", "+%Y-%m-%dT%H:%M:%SZ"),
    "git": run("git", "-C", "$source_dir", "describe", "--always", "--dirty"),
    "packages": {p: run("dpkg-query", "-W", "-f=\${Version}", p) for p in
                 ["librocksdb-dev", "libsodium-dev", "libmicrohttpd-dev", "libjansson-dev",
                  "libavro-dev", "wrk", "gnuplot-nox"]},
    "command": os.environ.get("BENCH_COMMAND", "tools/bench/run_all.sh"),
    "bench_args": "$bench_args", "http_args": "$http_args", "scale": "$scale_list",
    "scale_args": "$scale_args", "quick": $quick,
}
json.dump(machine, open(sys.argv[1], "w"), indent=1)
EOF
fi

if has_stage embedded; then
    log "embedded suite: cdp-bench $bench_args"
    # shellcheck disable=SC2086 # the arguments are meant to split into words
    "$build/cdp-bench" $bench_args 2>"$work/embedded.err" | tag embedded >"$work/embedded.jsonl"
    status=${PIPESTATUS[0]}
    [ "$status" = 0 ] || { log "cdp-bench failed ($status): $(tail -5 "$work/embedded.err")"; exit 1; }
    replace_stage embedded "$work/embedded.jsonl"
fi

if has_stage http; then
    log "HTTP suite: tools/bench/http/run.sh $http_args"
    # shellcheck disable=SC2086
    BUILD_DIR=$build "$here/http/run.sh" $http_args 2>"$work/http.err" | tag http >"$work/http.jsonl"
    status=${PIPESTATUS[0]}
    [ "$status" = 0 ] || { log "http/run.sh failed ($status): $(tail -5 "$work/http.err")"; exit 1; }
    replace_stage http "$work/http.jsonl"
fi

# startup DIR: seconds from `cdpctl serve` to GET /healthz 200, and the server's RSS then.
startup() {
    local dir=$1 start port= code= end
    start=$(date +%s.%N)
    "$build/cdpctl" serve --data "$dir" --listen 127.0.0.1:0 2>"$work/serve.err" &
    server_pid=$!
    for _ in $(seq 6000); do
        [ -z "$port" ] && port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.err")
        if [ -n "$port" ]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
            [ "$code" = 200 ] && break
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.01
    done
    end=$(date +%s.%N)
    local rss
    rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status" 2>/dev/null)
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
    [ "$code" = 200 ] || { log "cdpctl serve did not answer /healthz: $(tail -3 "$work/serve.err")"; return 1; }
    awk -v s="$start" -v e="$end" -v r="${rss:-0}" \
        'BEGIN { printf "\"startup_s\": %.3f, \"server_rss_kib\": %d", e - s, r }'
}

# profile NAME ARGS...: perf's top entries (self time) of one cdp-bench run.
profile_run() {
    local name=$1
    shift
    log "profile: $name: cdp-bench $*"
    if ! perf record -F 499 -g -o "$work/$name.data" -- "$build/cdp-bench" "$@" \
        >/dev/null 2>"$work/$name.err"; then
        echo "perf record failed: $(tail -2 "$work/$name.err")" >"$out/perf-$name.txt"
        return 0
    fi
    {
        echo "# perf record -F 499 -g -- cdp-bench $*"
        echo "# top entries by self time (perf report --no-children --stdio)"
        perf report -i "$work/$name.data" --no-children --stdio --percent-limit 1.5 \
            -g none --sort symbol 2>/dev/null | grep -v "^#" | grep -v "^$" |
            sed "s/[[:space:]]*-[[:space:]]*-[[:space:]]*$//" | cut -c1-140 | head -30
        # Who calls the top entry (its call chains above 5%), when its name can be passed.
        local top
        top=$(perf report -i "$work/$name.data" --no-children --stdio -g none --sort symbol \
            2>/dev/null | grep -v '^#' | grep -v '^$' | head -1 | sed 's/^.*\] //; s/[[:space:]]*-[[:space:]]*-[[:space:]]*$//; s/[[:space:]]*$//')
        case $top in
        '' | *,*) ;;
        *)
            echo "# callers of $top"
            perf report -i "$work/$name.data" --no-children --stdio --symbols="$top" \
                -g caller,0.5,callee,function,percent --percent-limit 5 2>/dev/null |
                grep -v '^#' | grep -v '^$' | cut -c1-140 | head -24 ;;
        esac
    } >"$out/perf-$name.txt"
}

if has_stage profile && [ "$profile" = 1 ]; then
    if command -v perf >/dev/null; then
        # cdpd's startup on a new, empty store: from exec to "listening".
        log "profile: startup: cdpctl serve on a new store"
        "$build/cdpctl" init --data "$work/startup" >/dev/null 2>&1
        perf record -F 999 -g -o "$work/startup.data" -- "$build/cdpctl" serve \
            --data "$work/startup" --listen 127.0.0.1:0 2>"$work/startup.err" &
        perf_pid=$!
        for _ in $(seq 3000); do
            grep -q listening "$work/startup.err" && break
            sleep 0.02
        done
        kill -INT "$perf_pid" 2>/dev/null
        wait "$perf_pid" 2>/dev/null
        {
            echo "# perf record -F 999 -g -- cdpctl serve (new store) until it listens"
            echo "# inclusive time (perf report --children --stdio), entries above 8%"
            perf report -i "$work/startup.data" --children --stdio -g none --sort symbol \
                --percent-limit 8 2>/dev/null | grep -v "^#" | grep -v "^$" |
                sed "s/[[:space:]]*-[[:space:]]*-[[:space:]]*$//" | cut -c1-140 | head -24
        } >"$out/perf-startup.txt"
        rm -rf "$work/startup"
        if [ "$quick" = 1 ]; then
            profile_run ingest ingest --events 5000
            profile_run reads reads --only audited --events 5000 --reads 10000 --rounds 1
            profile_run erase erase --people 5000 --erasures 500
            profile_run export export --people 500 --subjects 200
        else
            profile_run ingest ingest --events 50000
            profile_run reads reads --only audited --events 20000 --reads 50000 --rounds 2
            profile_run erase erase --people 20000 --erasures 2000
            profile_run export export --people 2000 --subjects 500
        fi
    else
        log "perf not installed: no profiles"
    fi
fi

if has_stage scale; then
    # Each size's line replaces that size's old one as soon as it is measured, so a run stopped
    # midway keeps the sizes it finished; sizes not in BENCH_SCALE drop out of the report.
    touch "$results"
    grep -v '^{"stage": "scale",' "$results" >"$results.tmp" || true
    mv "$results.tmp" "$results"
    for people in $scale_list; do
        log "scale: $people people"
        rm -rf "$work/scale"
        mkdir -p "$work/scale"
        # shellcheck disable=SC2086
        line=$("$build/cdp-bench" scale --people "$people" --dir "$work/scale" $scale_args \
            2> >(tee "$work/scale-$people.err" | grep 'people loaded' >&2))
        [ -n "$line" ] || { log "scale $people failed: $(tail -3 "$work/scale-$people.err")"; exit 1; }
        started=$(startup "$work/scale/data") || exit 1
        echo "${line%\}}, $started}" | tag scale >>"$results"
        rm -rf "$work/scale"
    done
fi

if has_stage report; then
    python3 "$here/report.py" --results "$results" --machine "$out/machine.json" \
        --out "$source_dir/docs/BENCHMARKS.md" --plots "$out" || exit 1
fi
log "done"
