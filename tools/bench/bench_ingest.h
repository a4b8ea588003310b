/* cdp-bench ingest (see bench_ingest.c). */
#ifndef CDP_BENCH_INGEST_H
#define CDP_BENCH_INGEST_H

#include <stddef.h>

/* Runs the ingest benchmark with 1 and 2 threads; prints one JSON line each. 0 on success. */
int cdp_bench_ingest(size_t events, const char *policy_dir);

/* Only the profile_read figures, `rounds` times over the same stores, and the best of each, read
 * by `threads` threads (1..8) at once; with
 * only = "audited", nothing but enforced, audited reads (to profile them). 0 on success. */
int cdp_bench_reads(size_t events, size_t reads, int rounds, int threads, const char *only,
                    const char *policy_dir);

#endif
