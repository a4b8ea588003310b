/* cdp-bench scale (see bench_scale.c). */
#ifndef CDP_BENCH_SCALE_H
#define CDP_BENCH_SCALE_H

#include <stddef.h>

typedef struct cdp_bench_scale_options {
    size_t people;            /* people loaded, 10 events each */
    size_t reads;             /* profile reads measured (over a consenting sample) */
    size_t ingest_events;     /* new events ingested on top of the loaded store */
    size_t erasures;          /* erasures, then one purge */
    int threads;              /* loader threads (1..8) */
    const char *dir;          /* NULL: a temporary directory, removed at the end */
    const char *policy_dir;   /* NULL: the bundle the library was built with */
} cdp_bench_scale_options;

/* Builds a store of options->people people and measures at that size: load rate, profile read
 * latency p50/p99/p999 and reads/s, ingest of new events on top, erasures/s with the purge,
 * bytes on disk per person after flush and compaction against the plaintext ingested, and peak
 * RSS. Prints one "scale" JSON line. With dir, the data directory dir/data is kept (for the
 * cdpd startup measurement). 0 on success. */
int cdp_bench_scale(const cdp_bench_scale_options *options);

#endif
