#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md and its plots from a benchmark run (tools/bench/run_all.sh).

    report.py --results docs/bench/results.jsonl --machine docs/bench/machine.json \
              --out docs/BENCHMARKS.md --plots docs/bench

Reads only its inputs (the JSON lines of the run, the machine description and the perf summaries
beside them), so running it twice on the same run writes the same bytes. Plots need gnuplot
(Debian's gnuplot-nox); without it the report says so and keeps the tables. Standard library only.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

# ---- published figures of peers (each with where it was published) -----------------------------
PEERS = [
    ("Segment (Engage/Personas)", "inbound events per space",
     "1,000 events/s (600,000 per 10 minutes) before queueing",
     "https://segment.com/docs/personas/rate-limits/"),
    ("Segment (Engage/Personas)", "Profile API throughput",
     "100 requests/s per space (429 above)",
     "https://segment.com/docs/personas/rate-limits/"),
    ("Segment (Connections)", "inbound events, all sources of a customer",
     "100,000 events/s average (60 million per 10 minutes) before queueing",
     "segmentio/segment-docs, src/connections/rate-limits.md (change of 22 Feb 2023), as mirrored "
     "at http://www.webkkk.net/segmentio/segment-docs/commit/45cf0c987199d1a2ad0502855a4a2d3d64f2478f"),
    ("Segment", "Profile API latency (p95 under 200 ms)",
     "not found in Segment's published documentation by this search; the 200 ms figure is the "
     "issue's, not a citation", ""),
    ("RudderStack (self-hosted data plane)", "gateway throughput, m5.large (2 cores, 8 GB)",
     "1.7K events/s at 2.5K/s offered, gateway response time 4.2 ms (Postgres on RDS m4.xlarge)",
     "https://www.rudderstack.com/docs/user-guides/administrators-guide/infra-provisioning/"),
    ("RudderStack (self-hosted data plane)", "gateway throughput, m4.2xlarge (8 cores, 32 GB)",
     "2.7K-3K events/s", 
     "https://www.rudderstack.com/docs/user-guides/administrators-guide/infra-provisioning/"),
    ("Apache Unomi", "ingest or profile-read benchmark",
     "none published that this search found (Unomi's manuals describe no throughput figures)",
     "https://unomi.apache.org/manual/latest/"),
]


def load_results(path):
    lines = []
    if os.path.exists(path):
        with open(path) as f:
            for raw in f:
                raw = raw.strip()
                if raw.startswith("{"):
                    try:
                        lines.append(json.loads(raw))
                    except json.JSONDecodeError:
                        pass
    return lines


def find(results, bench, **match):
    """The last line of bench whose fields equal match."""
    found = None
    for line in results:
        if line.get("bench") == bench and all(line.get(k) == v for k, v in match.items()):
            found = line
    return found


def num(value, digits=0):
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        if digits == 0:
            return f"{value:,.0f}"
        return f"{value:,.{digits}f}"
    return str(value)


def status(ok):
    if ok is None:
        return "not measured"
    return "met" if ok else "**missed**"


def both(*values):
    """all(...) over values that exist; None when any is missing."""
    if any(v is None for v in values):
        return None
    return all(values)


def ratio_row(rows, figure, line, value_key, ceiling_key, unit, target_text, ok, extra=""):
    if line is None:
        rows.append((figure, "not run", "", "", target_text, "not measured", extra))
        return
    verdict = "—" if target_text == "—" else status(ok)
    rows.append((figure, f"{num(line.get(value_key), 2 if 'mb' in value_key else 0)} {unit}",
                 f"{num(line.get(ceiling_key), 2 if 'mb' in ceiling_key else 0)} {unit}",
                 f"{line.get('ratio', 0):.3f}", target_text, verdict, extra))


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


# ---- plots ----------------------------------------------------------------------------------------

def gnuplot(script, plots_dir):
    exe = shutil.which("gnuplot")
    if exe is None:
        return False
    result = subprocess.run([exe], input=script, text=True, cwd=plots_dir, capture_output=True)
    if result.returncode != 0:
        sys.stderr.write("report.py: gnuplot: " + result.stderr)
        return False
    return True


def write_data(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(str(c) for c in row) + "\n")


def make_plots(results, plots_dir):
    made = []
    os.makedirs(plots_dir, exist_ok=True)
    scale = sorted((l for l in results if l.get("bench") == "scale"), key=lambda l: l["people"])
    term = "set terminal pngcairo size 900,520 font 'DejaVu Sans,10' noenhanced\n"
    if scale:
        write_data(os.path.join(plots_dir, "scale.dat"),
                   [(l["people"], l.get("read_ops_per_s", 0), l.get("ingest_ops_per_s", 0),
                     l.get("erasures_per_s", 0), l.get("load_events_per_s", 0),
                     l.get("read_p50_us", 0) / 1e3, l.get("read_p99_us", 0) / 1e3,
                     l.get("read_p999_us", 0) / 1e3) for l in scale])
        ok = gnuplot(term + """set output 'scale_throughput.png'
set title 'Throughput vs people in the store (10 events per person)'
set logscale xy
set xlabel 'people'
set ylabel 'operations per second'
set key outside right
set grid
plot 'scale.dat' using 1:2 with linespoints title 'profile reads/s', \\
     '' using 1:3 with linespoints title 'ingest events/s (on top)', \\
     '' using 1:5 with linespoints title 'load events/s (bulk, 2 threads)', \\
     '' using 1:4 with linespoints title 'erasures/s (with purge)'
""", plots_dir)
        if ok:
            made.append(("scale_throughput.png", "Throughput against the number of people"))
        ok = gnuplot(term + """set output 'scale_latency.png'
set title 'Profile read latency vs people in the store (enforced, audited, one thread)'
set logscale xy
set xlabel 'people'
set ylabel 'milliseconds'
set key outside right
set grid
plot 'scale.dat' using 1:6 with linespoints title 'p50', \\
     '' using 1:7 with linespoints title 'p99', \\
     '' using 1:8 with linespoints title 'p99.9'
""", plots_dir)
        if ok:
            made.append(("scale_latency.png", "Read latency percentiles against the number of people"))
    bars = []
    targets = {"ingest": 0.5, "http_batch_ingest": 0.6, "profile_read": 0.5,
               "http_profile_get": 0.4}
    for line in results:
        if "ratio" not in line or line.get("stage") not in ("embedded", "http"):
            continue
        name = line["bench"]
        if name == "ingest":
            name = f"ingest_{line.get('threads', 1)}t"
        target = targets.get(line["bench"], 0)
        if line["bench"] == "ingest" and line.get("threads") != 1:
            target = 0
        bars.append((name, min(line["ratio"], 3.0), target, line["ratio"]))
    if bars:
        write_data(os.path.join(plots_dir, "ratios.dat"),
                   [(i, f'"{b[0]}"', b[1], b[2], b[3]) for i, b in enumerate(bars)])
        ok = gnuplot(term + """set output 'ratios.png'
set title 'cdp against its raw ceiling, same run (ratio; capped at 3)'
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set xtics rotate by -40 left
set rmargin 10
set ylabel 'ratio to ceiling'
set grid ytics
set key top left
plot 'ratios.dat' using 1:3:xtic(2) with boxes title 'ratio', \\
     '' using 1:($4 > 0 ? $4 : 1/0) with points pt 7 ps 1.2 title 'target', \\
     '' using 1:($3 + 0.06):(sprintf("%.3f", $5)) with labels notitle
""", plots_dir)
        if ok:
            made.append(("ratios.png", "Each figure as a ratio to its ceiling, with its target"))
    return made


# ---- the report -----------------------------------------------------------------------------------

LIMITS = {
    "ingest": "Each request of 100 messages is parsed (jansson), normalized and resolved "
              "(blind-index lookups of every identifier), each record sealed under the person's "
              "key, written in one batch with its audit records and made durable with one WAL "
              "sync. The ceiling parses the same JSON and writes the same messages in one synced "
              "batch, so the ratio is the price of identity resolution, encryption and the "
              "audit. The perf profile below (perf-ingest.txt) shows where the time goes.",
    "http_batch_ingest": "The same ingest behind libmicrohttpd: body upload, gzip detection, "
                         "key check (one hash of the API key), rate-limit bucket, then cdp_ingest. "
                         "wrk runs on the same 2 cores as the server, so it takes a share of "
                         "the CPU the embedded ceiling had to itself.",
    "profile_read": "A read resolves the identifier (blind index: one keyed hash and one get), "
                    "loads the person's data key (key cache), reads and opens the profile, "
                    "decides (role, purpose, consent: one consent-state read, restriction, "
                    "residency), renders JSON and appends the audit record (group-committed). "
                    "The ceiling is one raw RocksDB get of a stored JSON message of similar "
                    "size, parsed and rendered again with jansson: a read with JSON out but "
                    "no resolution, decryption, decision or audit.",
    "http_profile_get": "The same read behind HTTP, against libmicrohttpd answering the same "
                        "bytes from memory. At 64 connections both are CPU bound on 2 cores "
                        "shared with wrk; the p99 is the queueing of 64 connections on 2 "
                        "cores.",
    "erase": "An erasure is one atomic synced write (keys, records, index entries, suppression, "
             "audit, ledger) per person, then the batched physical purge: a flush and a full "
             "compaction of the region, whose cost grows with the store, so erasures/s depends "
             "on how many erasures share one purge.",
    "export": "A subject export is audited durably (one synced write) before its first byte, "
              "then walks identities, traits, events, merges, consent and the audit entries "
              "about the person (the per-person audit index), rendering JSON. With 10 events per "
              "person the fixed cost (the synced audit write) dominates; the ceiling does no "
              "write at all.",
    "audit_export": "The export decodes every Avro leaf and writes it as a JSON line with its "
                    "leaf hash, adds the signed checkpoints and a final signed seal; the "
                    "ceiling only scans and hashes the stored leaves.",
    "audit_verify": "Verification parses every JSON line, re-encodes the leaf to check it "
                    "against its readable fields, hashes it, rebuilds the Merkle root and checks "
                    "every checkpoint's Ed25519 signature and the consistency between them; the "
                    "ceiling does only the hashes and signature checks.",
}


def perf_block(plots_dir, name, lines=32):
    path = os.path.join(plots_dir, f"perf-{name}.txt")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        content = [l.rstrip() for l in f if l.strip()]
    return "```\n" + "\n".join(content[:lines]) + "\n```"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--plots", required=True)
    args = parser.parse_args()
    results = load_results(args.results)
    machine = {}
    if os.path.exists(args.machine):
        with open(args.machine) as f:
            machine = json.load(f)
    plots_dir = args.plots
    made = make_plots(results, plots_dir)
    rel_plots = os.path.relpath(plots_dir, os.path.dirname(os.path.abspath(args.out)))

    out = []
    w = out.append
    w("# cdp benchmarks")
    w("")
    w("<!-- Generated by tools/bench/report.py from the run in docs/bench/results.jsonl; do not "
      "edit by hand: re-run `make bench` (or tools/bench/run_all.sh). -->")
    w("")
    w("Every figure is measured next to its raw ceiling in the same run and reported as a ratio, "
      "so a slower or busier machine moves both sides. Absolute numbers are for this machine on "
      "this day only.")
    w("")

    # machine
    w("## The machine and the command")
    w("")
    packages = machine.get("packages", {})
    rows = [
        ("CPU", f"{machine.get('cpu', '?')} ({machine.get('cpus', '?')} CPUs, "
                f"{machine.get('threads_per_core', '?')} thread(s) per core"
                + (f", {machine['hypervisor']} guest" if machine.get('hypervisor') else "") + ")"),
        ("RAM", f"{machine.get('mem_total_kib', 0) / 1048576:.1f} GiB"),
        ("Disk (/tmp)", f"`{machine.get('disk', '?')}` {machine.get('disk_model', '')}"),
        ("Kernel / OS", f"{machine.get('kernel', '?')} / {machine.get('os', '?')}"),
        ("RocksDB / libsodium / libmicrohttpd",
         f"{packages.get('librocksdb-dev', '?')} / {packages.get('libsodium-dev', '?')} / "
         f"{packages.get('libmicrohttpd-dev', '?')}"),
        ("jansson / Avro C / wrk", f"{packages.get('libjansson-dev', '?')} / "
                                   f"{packages.get('libavro-dev', '?')} / {packages.get('wrk', '?')}"),
        ("Run", f"{machine.get('date', '?')}, commit {machine.get('git', '?')}"),
        ("Load average at start", " ".join(machine.get("load_avg_start", []))),
    ]
    w(table(("", ""), rows))
    w("")
    loads = sorted({(l.get("stage"), l.get("load_avg")) for l in results if "load_avg" in l},
                   key=lambda x: (str(x[0]), x[1] or 0))
    if loads:
        peak = max(l for _, l in loads if l is not None)
        w(f"**The machine is shared.** Other engineers built and tested on the same 2 cores during "
          f"this run: the 1-minute load average when figures were printed reached {peak:.1f} "
          f"(2.0 would be both cores busy). Each figure's JSON line in docs/bench/results.jsonl "
          f"carries the load average at its end. Ratios hold up better than absolute numbers "
          f"under such load because both sides run interleaved or back to back, but tail "
          f"latencies (p99, p99.9) and synced-write costs are inflated.")
        w("")
    w("Command:")
    w("")
    command = machine.get("command", "make bench")
    w("```")
    w(command)
    w("```")
    w("")
    w(f"which ran `cdp-bench {machine.get('bench_args', '')}` (embedded suite), "
      f"`tools/bench/http/run.sh {machine.get('http_args', '')}` (HTTP, wrk), "
      f"`cdp-bench scale --people N {machine.get('scale_args', '')}` for N in "
      f"`{machine.get('scale', '')}`, perf profiles, then this generator.")
    w("")

    # summary table
    w("## Figures, ceilings and targets")
    w("")
    ingest1 = find(results, "ingest", threads=1)
    ingest2 = find(results, "ingest", threads=2)
    http_ingest = find(results, "http_batch_ingest")
    read = find(results, "profile_read", stage="embedded")
    http_get = find(results, "http_profile_get")
    erase = find(results, "erase")
    export = find(results, "export")
    audit_export = find(results, "audit_export")
    audit_verify = find(results, "audit_verify")
    rows = []
    ratio_row(rows, "Embedded ingest, 1 thread (events/s)", ingest1, "ops_per_s",
              "ceiling_ops_per_s", "", "≥ 0.5× and ≥ 10,000/s",
              both(ingest1 and ingest1["ratio"] >= 0.5, ingest1 and ingest1["ops_per_s"] >= 10000)
              if ingest1 else None)
    ratio_row(rows, "Embedded ingest, 2 threads (events/s)", ingest2, "ops_per_s",
              "ceiling_ops_per_s", "", "—", None)
    ratio_row(rows, "HTTP /v1/batch ingest (events/s; ceiling: embedded)", http_ingest,
              "ops_per_s", "ceiling_ops_per_s", "", "≥ 0.6× embedded",
              http_ingest["ratio"] >= 0.6 if http_ingest and http_ingest.get("ceiling_ops_per_s")
              else None)
    ratio_row(rows, "Profile read, enforced and audited (reads/s; ceiling: raw get + JSON)", read,
              "ops_per_s", "ceiling_ops_per_s", "", "≥ 0.5× raw",
              read["ratio"] >= 0.5 if read else None,
              f"p50 {num(read.get('p50_us'), 1)} µs, p99 {num(read.get('p99_us'), 1)} µs, "
              f"p99.9 {num(read.get('p999_us'), 1)} µs (raw: {num(read.get('ceiling_p50_us'), 1)}"
              f" / {num(read.get('ceiling_p99_us'), 1)} / {num(read.get('ceiling_p999_us'), 1)} µs)"
              if read else "")
    http_ok = None
    if http_get:
        http_ok = http_get["ratio"] >= 0.4 and http_get["p99_ms"] <= 2 * http_get["ceiling_p99_ms"]
    ratio_row(rows, f"HTTP profile GET (req/s; ceiling: trivial libmicrohttpd handler)",
              http_get, "ops_per_s", "ceiling_ops_per_s", "",
              "≥ 0.4× and p99 ≤ 2× the trivial p99", http_ok,
              f"{http_get.get('connections')} connections: p50 {num(http_get.get('p50_ms'), 2)} ms,"
              f" p99 {num(http_get.get('p99_ms'), 2)} ms (trivial: "
              f"{num(http_get.get('ceiling_p50_ms'), 2)} / {num(http_get.get('ceiling_p99_ms'), 2)}"
              f" ms)" if http_get else "")
    if erase:
        rows.append(("Erasures with physical purge (erasures/s)",
                     f"{num(erase['erasures_per_s'])}", "—", "—", "≥ 500/s",
                     status(erase["erasures_per_s"] >= 500),
                     f"{erase['erasures']} erasures in a store of {num(erase['people'])} people, "
                     f"{erase['erase_threads']} threads, one purge of {erase['purge_s']} s; "
                     f"without the purge {num(erase['erase_only_per_s'])}/s; ingest during: "
                     f"{num(erase['ingest_ops_per_s_during'])} events/s (before: "
                     f"{num(erase['ingest_ops_per_s_before'])})"))
    else:
        rows.append(("Erasures with physical purge", "not run", "", "", "≥ 500/s", "not measured",
                     ""))
    ratio_row(rows, "DSR subject export (MB/s of JSON; ceiling: scan + AEAD open)", export,
              "mb_per_s", "ceiling_mb_per_s", "MB/s", "—", None,
              f"{num(export.get('ops_per_s'))} subjects/s vs {num(export.get('ceiling_ops_per_s'))};"
              f" {num(export.get('bytes_per_subject'))} bytes of JSON per subject "
              f"({export.get('events_per_subject')} events); ratio = subjects/s over ceiling's"
              if export else "")
    ratio_row(rows, "Audit export (MB/s; ceiling: scan + SHA-256 leaf hash)", audit_export,
              "mb_per_s", "ceiling_mb_per_s", "MB/s", "—", None,
              f"{num(audit_export.get('records'))} records, "
              f"{num(audit_export.get('records_per_s'))} records/s" if audit_export else "")
    ratio_row(rows, "Audit verify (MB/s; ceiling: SHA-256 + Ed25519 alone)", audit_verify,
              "mb_per_s", "ceiling_mb_per_s", "MB/s", "—", None,
              f"{num(audit_verify.get('records'))} records, "
              f"{audit_verify.get('checkpoints')} checkpoints" if audit_verify else "")
    for bench, what in (("profile_put", "Store: new person + sealed profile put (ops/s; raw put)"),
                        ("profile_put_avro", "Store: the same with Avro encoding"),
                        ("profile_get", "Store: key + record get + open (ops/s; raw get)"),
                        ("profile_get_avro", "Store: the same with Avro decoding"),
                        ("aead_seal", "XChaCha20-Poly1305 seal of 512 B (ours vs naive nonce)"),
                        ("random_48", "48 random bytes (ours vs randombytes_buf)")):
        line = find(results, bench)
        ratio_row(rows, what, line, "ops_per_s", "ceiling_ops_per_s", "", "—", None,
                  f"{num(line.get('records'))} records" if line and line.get("records") else "")
    w(table(("Figure", "cdp", "Ceiling", "Ratio", "Target", "Status", "Detail"), rows))
    w("")

    # peers as targets
    w("### Against the peers' published figures")
    w("")
    peer_rows = []
    if http_ingest:
        events = http_ingest["ops_per_s"]
        peer_rows.append(("Ingest over HTTP: 10× Segment's 1,000 events/s per space",
                          f"{num(events)} events/s", "≥ 10,000 events/s",
                          status(events >= 10000)))
    if http_get:
        p99 = http_get["p99_ms"]
        peer_rows.append(("Profile API: 40× under a 200 ms p95",
                          f"p99 {num(p99, 2)} ms at {http_get['connections']} connections, "
                          f"{num(http_get['ops_per_s'])} req/s",
                          "p95 ≤ 5 ms (our p99, stricter)", status(p99 <= 5.0)))
        peer_rows.append(("Profile API throughput vs Segment's 100 req/s per space",
                          f"{num(http_get['ops_per_s'])} req/s", "—",
                          f"{http_get['ops_per_s'] / 100:.0f}× Segment's limit"))
    if peer_rows:
        w(table(("Aim", "cdp", "Target", "Status"), peer_rows))
        w("")

    # scale
    w("## Cost growth with the number of people")
    w("")
    scale = sorted((l for l in results if l.get("bench") == "scale"), key=lambda l: l["people"])
    if scale:
        rows = []
        for l in scale:
            rows.append((num(l["people"]), num(l["events"]), num(l["load_events_per_s"]),
                         num(l["read_ops_per_s"]), num(l["read_p50_us"], 1),
                         num(l["read_p99_us"], 1), num(l["read_p999_us"], 1),
                         num(l["ingest_ops_per_s"]), num(l["erasures_per_s"], 1),
                         f"{num(l['erase_only_per_s'])} / {l['purge_s']} s",
                         num(l["disk_bytes_per_person"]), num(l["plain_bytes_per_person"]),
                         f"{l['disk_ratio']:.2f}", num(l["rss_kib"] / 1024, 0),
                         num(l.get("startup_s"), 3), num(l.get("server_rss_kib", 0) / 1024, 0)))
        w(table(("people", "events", "load ev/s", "reads/s", "read p50 µs", "p99 µs", "p99.9 µs",
                 "ingest ev/s", "erasures/s", "erase only/s / purge", "disk B/person",
                 "plain B/person", "disk ÷ plain", "bench RSS MiB", "cdpd startup s",
                 "cdpd RSS MiB"), rows))
        w("")
        w("Reads go to a consenting sample of up to 10,000 people spread evenly over the store "
          "(each consent grant is a synced write, which bounds the sample); ingest on top is "
          "new track events for random people, 100 a request; erasures are of people spread "
          "over the store, one thread, with one purge at the end. Disk is the data directory "
          "(as du counts it: WAL, SST, audit log, everything) after flush and full compaction, "
          "against the bytes of the JSON messages ingested. Startup is from `cdpctl serve` to "
          "the first `200` from `/healthz` on the closed store.")
        w("")
        first, last = scale[0], scale[-1]
        if len(scale) > 1:
            growth = []
            for key, what, higher_better in (("read_ops_per_s", "reads/s", True),
                                             ("ingest_ops_per_s", "ingest events/s", True),
                                             ("erasures_per_s", "erasures/s", True),
                                             ("read_p99_us", "read p99", False),
                                             ("read_p999_us", "read p99.9", False)):
                a, b = first.get(key), last.get(key)
                if not a or not b:
                    continue
                factor = a / b if higher_better else b / a
                growth.append((what, num(a, 1), num(b, 1), f"{factor:.2f}×",
                               status(factor <= 2.0) if key != "read_p999_us" else "—"))
            w(f"Growth from {num(first['people'])} to {num(last['people'])} people "
              f"(target: throughput and p99 within 2×):")
            w("")
            w(table(("figure", num(first["people"]), num(last["people"]),
                     "worse by", "within 2×"), growth))
            w("")
        disk_ok = last["disk_ratio"] <= 2.0
        w(f"Disk at {num(last['people'])} people: {last['disk_ratio']:.2f}× the plaintext "
          f"ingested (target ≤ 2×: {status(disk_ok)}). Region eu's SST bytes per column family: "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in
                      sorted(last.get("eu_sst_bytes_by_cf", {}).items(), key=lambda kv: -kv[1])
                      if v) + ".")
        w("")
        measured = sorted({l["people"] for l in scale})
        wanted = {int(n) for n in str(machine.get("scale", "")).split() if n.isdigit()}
        missing = sorted((wanted | {1000000, 5000000}) - set(measured))
        if missing:
            rate = last.get("load_events_per_s") or 0
            estimates = ", ".join(
                f"{num(n)} people ({num(n * 10)} events) about {n * 10 / rate / 3600:.1f} hours"
                for n in missing) if rate else "unknown"
            w(f"**Measured: {', '.join(num(n) for n in measured)} people. Not measured: "
              f"{', '.join(num(n) for n in missing)} people"
              + (" (so 5,000,000 people were not measured)" if 5000000 in missing else "")
              + f".** At the {num(rate)} events/s this run's largest load achieved, loading "
              f"would take {estimates} of this shared machine. The lead's re-run adds them with "
              f"`make bench BENCH_SCALE=\"100000 1000000 5000000\"`. Nothing in this report "
              f"extrapolates: the figures above are the only measurements, and whether the 2× "
              f"growth target holds at 5M is open.")
            w("")
    else:
        w("Not run (BENCH_SCALE was empty).")
        w("")

    # plots
    w("## Plots")
    w("")
    if made:
        for name, caption in made:
            w(f"![{caption}]({rel_plots}/{name})")
            w("")
    else:
        w("No plots: gnuplot was not installed (`apt-get install gnuplot-nox`; tools/deps.sh "
          "installs it).")
        w("")

    # limits
    w("## What limits each figure")
    w("")
    for key, title in (("ingest", "Embedded ingest"), ("http_batch_ingest", "HTTP batch ingest"),
                       ("profile_read", "Profile read"), ("http_profile_get", "HTTP profile GET"),
                       ("erase", "Erasure"), ("export", "DSR export"),
                       ("audit_export", "Audit export"), ("audit_verify", "Audit verification")):
        w(f"**{title}.** {LIMITS[key]}")
        w("")
        profile = {"ingest": "ingest", "profile_read": "reads", "erase": "erase",
                   "export": "export"}.get(key)
        block = perf_block(plots_dir, profile) if profile else None
        if block and "MemTable::Get" in block and "cdp_region_get" in block:
            w("In this profile the largest self time is RocksDB searching memtable skiplists "
              "for point reads (`rocksdb::MemTable::Get` under `cdp_region_get`): the lookups "
              "made before each write (identifiers, persons, message ids for deduplication) "
              "search the 64 MiB memtables that the writes keep filling.")
            w("")
        if block:
            w(f"Top of the profile (docs/bench/perf-{profile}.txt, self time):")
            w("")
            w(block)
            w("")
    startup = perf_block(plots_dir, "startup", lines=16)
    if startup:
        text = open(os.path.join(plots_dir, "perf-startup.txt")).read()
        w("**cdpd startup.** `cdpctl serve` opens every region of the policy bundle (one RocksDB "
          "instance with 9 column families each), loads the keystore and policies, then "
          "listens. Startup times in the scale table are on the loaded store; the profile below "
          "is of a new, empty store, so what it shows is the fixed cost.")
        if "MemTable::MemTable" in text and "memset" in text:
            w("Most of it is RocksDB building each column family's first memtable: the "
              "`keys`, `profiles`, `identity` and `suppress` families ask for a memtable bloom "
              "filter of 0.1 × the 64 MiB write buffer (cdp/store/region.c, "
              "`memtable_prefix_bloom_size_ratio`), about 6.4 MB zeroed per family per region "
              "(some 128 MB with 5 regions) at every open and again at every memtable switch. "
              "A smaller ratio (or write buffer) for these families would cut startup and the "
              "cost of every flush; that is a store-tuning change left to the product's owners, "
              "to be measured on reads and ingest before it is made.")
        w("")
        w("Top of the profile (docs/bench/perf-startup.txt, inclusive time):")
        w("")
        w(startup)
        w("")
    if scale:
        w("**Scale.** Loading is ingest with 500 messages a request from 2 threads: the same "
          "per-event work as ingest, so it is bounded by the same CPU costs. Read latency at "
          "larger stores grows with the RocksDB levels a miss in the block cache (256 MiB by "
          "default) must visit; the tail is dominated by the machine's other load. The "
          "purge's compaction rewrites the region, so its cost grows with the store.")
        w("")

    # peers
    w("## Published figures of peers")
    w("")
    w("What Segment, RudderStack and Apache Unomi publish, as found; they are limits of hosted "
      "services or load tests on other hardware, not measurements on this machine, so they are "
      "context, not a like-for-like comparison.")
    w("")
    w(table(("Product", "Figure", "Published", "Source"),
            [(p, f, v, s if s else "—") for p, f, v, s in PEERS]))
    w("")

    # reproduce
    w("## Reproducing")
    w("")
    w("```")
    w("make bench                                  # the whole suite: BENCH_SCALE ?= 100000 1000000")
    w("make bench BENCH_SCALE=\"100000 1000000 5000000\"")
    w("make bench-quick                            # the suite at small sizes (a few minutes)")
    w("BENCH_STAGES=\"scale report\" tools/bench/run_all.sh   # one stage again, keep the rest")
    w("build/cdp-bench --quick                     # embedded figures only, JSON lines")
    w("```")
    w("")
    w("Raw results: docs/bench/results.jsonl (one JSON object per figure, tagged with its stage "
      "and the load average), docs/bench/machine.json, docs/bench/perf-*.txt.")
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
