#!/usr/bin/env bash
# The benchmark suite cannot rot: `cdp-bench --quick` at tiny sizes prints every figure the report
# needs, each a JSON object with a numeric ratio (and its other numbers) and a positive ceiling;
# the report generator turns those lines into docs/BENCHMARKS.md with the figures in it; bad
# sizes are refused with exit 2. A few seconds; the sizes measure nothing, they only exercise.
set -u
build=${CDP_BUILD_DIR:?CDP_BUILD_DIR not set}
source_dir=${CDP_SOURCE_DIR:?CDP_SOURCE_DIR not set}
bench="$build/cdp-bench"
work=$(mktemp -d /tmp/cdp-bench-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

[ -x "$bench" ] || { echo "FAIL: no $bench"; exit 1; }

if ! "$bench" --quick --records 500 --events 300 --people 400 --erasures 20 \
    --export-people 120 --subjects 20 >"$work/out.jsonl" 2>"$work/err"; then
    fail "cdp-bench --quick exited non-zero: $(tail -3 "$work/err")"
fi

# Every expected figure, once at least, as one JSON object with a numeric ratio.
python3 - "$work/out.jsonl" <<'EOF' || failures=$((failures + 1))
import json, numbers, sys
expected = {
    "profile_put": ["ops_per_s", "ceiling_ops_per_s"],
    "profile_put_avro": ["ops_per_s", "ceiling_ops_per_s"],
    "profile_get": ["ops_per_s", "ceiling_ops_per_s"],
    "profile_get_avro": ["ops_per_s", "ceiling_ops_per_s"],
    "aead_seal": ["ops_per_s", "ceiling_ops_per_s"],
    "random_48": ["ops_per_s", "ceiling_ops_per_s"],
    "ingest": ["ops_per_s", "ceiling_ops_per_s", "threads"],
    "profile_read": ["ops_per_s", "ceiling_ops_per_s", "p50_us", "p99_us", "p999_us"],
    "erase": ["erasures_per_s", "erase_only_per_s", "purge_s"],
    "export": ["mb_per_s", "ceiling_mb_per_s", "ops_per_s", "ceiling_ops_per_s"],
    "audit_export": ["mb_per_s", "ceiling_mb_per_s", "records"],
    "audit_verify": ["mb_per_s", "ceiling_mb_per_s", "records", "checkpoints"],
}
# erase has no raw ceiling (its target is absolute: erasures/s), so no ratio.
no_ratio = {"erase"}
seen, bad = {}, []
for number, line in enumerate(open(sys.argv[1]), 1):
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        bad.append(f"line {number} is not JSON ({e}): {line.strip()[:80]}")
        continue
    seen.setdefault(item.get("bench"), []).append(item)
for name, fields in expected.items():
    if name not in seen:
        bad.append(f"no {name} line")
        continue
    for item in seen[name]:
        keys = fields + ([] if name in no_ratio else ["ratio"])
        for key in keys:
            value = item.get(key)
            if not isinstance(value, numbers.Number) or isinstance(value, bool):
                bad.append(f"{name}: {key} is {value!r}, not a number")
            elif value < 0 or value != value:
                bad.append(f"{name}: {key} is {value}")
        if name not in no_ratio and not item.get("ratio", 0) > 0:
            bad.append(f"{name}: ratio {item.get('ratio')!r} is not positive")
        for key in ("ceiling_ops_per_s", "ceiling_mb_per_s"):
            if key in fields and not item.get(key, 0) > 0:
                bad.append(f"{name}: {key} {item.get(key)!r} is not positive")
if [t.get("threads") for t in seen.get("ingest", [])] != [1, 2]:
    bad.append("ingest: expected one line for 1 thread and one for 2")
verify = seen.get("audit_verify", [{}])[0]
export = seen.get("audit_export", [{}])[0]
if verify.get("records", 0) <= 0 or verify.get("records", 0) < export.get("records", 0):
    bad.append(f"audit_verify checked {verify.get('records')} records, the log had "
               f"{export.get('records')}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF

# The report generator renders those lines (tagged as run_all.sh tags them) into the report.
python3 - "$work/out.jsonl" "$work/results.jsonl" <<'EOF'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        item = json.loads(line)
        out.write(json.dumps({"stage": "embedded", "load_avg": 1.0, **item}) + "\n")
    out.write(json.dumps({"stage": "scale", "load_avg": 1.0, "bench": "scale", "people": 1000,
        "events": 10000, "load_events_per_s": 5000, "read_ops_per_s": 9000, "read_p50_us": 80,
        "read_p99_us": 900, "read_p999_us": 2000, "ingest_ops_per_s": 4000,
        "erasures_per_s": 100, "erase_only_per_s": 300, "purge_s": 1.5,
        "disk_bytes_per_person": 5000, "plain_bytes_per_person": 3000, "disk_ratio": 1.667,
        "rss_kib": 100000, "startup_s": 0.2, "server_rss_kib": 50000,
        "eu_sst_bytes_by_cf": {"events": 1000000}}) + "\n")
EOF
echo '{"cpu": "test", "packages": {}, "command": "smoke"}' >"$work/machine.json"
if ! python3 "$source_dir/tools/bench/report.py" --results "$work/results.jsonl" \
    --machine "$work/machine.json" --out "$work/BENCHMARKS.md" --plots "$work/plots" \
    >"$work/report.out" 2>&1; then
    fail "report.py failed: $(tail -3 "$work/report.out")"
else
    for needle in "Embedded ingest, 1 thread" "Profile read, enforced and audited" \
        "DSR subject export" "Audit export" "Audit verify" "Erasures with physical purge" \
        "Cost growth" "5,000,000 people were not measured" "Not measured: 1,000,000, 5,000,000 people" "segment.com/docs"; do
        grep -qF "$needle" "$work/BENCHMARKS.md" || fail "the report lacks \"$needle\""
    done
    # The ingest row carries the measured number, not a placeholder.
    ops=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("bench") == "ingest" and d.get("threads") == 1: print(format(d["ops_per_s"], ",.0f"))' "$work/out.jsonl")
    grep -q "| Embedded ingest, 1 thread (events/s) | $ops " "$work/BENCHMARKS.md" ||
        fail "the report's ingest row does not show the measured $ops events/s"
    # Idempotent: the same inputs give the same bytes.
    cp "$work/BENCHMARKS.md" "$work/first.md"
    python3 "$source_dir/tools/bench/report.py" --results "$work/results.jsonl" \
        --machine "$work/machine.json" --out "$work/BENCHMARKS.md" --plots "$work/plots" \
        >/dev/null 2>&1
    cmp -s "$work/first.md" "$work/BENCHMARKS.md" || fail "report.py is not idempotent"
fi

# Refusals: bad sizes exit 2 and name the option.
"$bench" --quick --events 0 >/dev/null 2>"$work/refuse.err"
[ $? = 2 ] && grep -q -- "--events" "$work/refuse.err" || fail "--events 0 not refused: $(cat "$work/refuse.err")"
"$bench" --quick --people 400 --erasures 300 >/dev/null 2>"$work/refuse.err"
[ $? = 2 ] && grep -q -- "--erasures" "$work/refuse.err" || fail "--erasures > people/2 not refused"
"$bench" scale >/dev/null 2>"$work/refuse.err"
[ $? = 2 ] && grep -q -- "--people" "$work/refuse.err" || fail "scale without --people not refused"
"$bench" scale --people 1000 --erasures 900 >/dev/null 2>"$work/refuse.err"
[ $? = 2 ] && grep -q -- "erasures" "$work/refuse.err" || fail "scale --erasures > people/4 not refused"
"$bench" export --people 10 --subjects 20 >/dev/null 2>"$work/refuse.err"
[ $? = 2 ] && grep -q -- "--subjects" "$work/refuse.err" || fail "export --subjects > --people not refused"
# Every subcommand reads its sizes alike: not a number, zero, negative or out of range is refused
# naming the option (--records used to read "abc" as 0 and run).
while read -r option args; do
    # shellcheck disable=SC2086
    "$bench" $args >/dev/null 2>"$work/refuse.err"
    [ $? = 2 ] && grep -q -- "$option" "$work/refuse.err" ||
        fail "cdp-bench $args not refused naming $option: $(cat "$work/refuse.err")"
done <<'CASES'
--records --records abc
--key-cache-entries --key-cache-entries -1
--events ingest --events 0
--threads reads --threads 9
--rounds reads --rounds x
--people erase --people 1e3
--people export --people 0
CASES

if [ "$failures" -gt 0 ]; then
    echo "bench_smoke_test: $failures failure(s)"
    sed 's/^/  stderr: /' "$work/err" | tail -10
    exit 1
fi
echo "bench_smoke_test: ok"
