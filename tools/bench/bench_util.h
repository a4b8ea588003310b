/* Helpers shared by the cdp-bench figures added for the full suite (export, audit, scale):
 * clocks, latency percentiles, a byte-counting FILE sink, peak RSS and store loading. */
#ifndef CDP_BENCH_UTIL_H
#define CDP_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdp/cdp.h"

/* Monotonic wall clock in seconds. */
double bench_seconds(void);

/* Latencies of single operations, in seconds; percentiles sort the samples in place. */
typedef struct bench_latencies {
    double *samples;
    size_t count, capacity;
} bench_latencies;

/* 0 on success, -1 when out of memory. */
int bench_latencies_init(bench_latencies *latencies, size_t capacity);
void bench_latencies_add(bench_latencies *latencies, double seconds);
/* The q-quantile (0 < q < 1) in microseconds, nearest rank; 0 when there are no samples. */
double bench_latencies_us(bench_latencies *latencies, double q);
void bench_latencies_free(bench_latencies *latencies);

/* A FILE that counts and discards what is written (fopencookie). Caller closes it with fclose;
 * *counter (borrowed until then) receives the bytes written. NULL on failure. */
FILE *bench_counting_sink(uint64_t *counter);

/* Peak resident set size of this process (VmHWM), in KiB; 0 when unknown. */
uint64_t bench_peak_rss_kib(void);

/* Bytes of the files under path (st_blocks * 512, as du counts them). */
uint64_t bench_disk_bytes(const char *path);

/* An actor of role for region eu, source web, key id "bench". */
cdp_actor bench_actor(cdp_role role);

/* Loads people first..first+count-1 into db, each with events_per_person messages: one identify
 * (userId user-P, an e-mail and name traits, country DE so the person lives in eu) and then
 * track events; batches of people_per_batch people through cdp_ingest, spread over threads
 * (1..8) threads. Adds the bytes of the messages' JSON to *plain_bytes (may be NULL). 0 on
 * success; -1 with the reason on stderr. */
int bench_load_people(cdp_t *db, size_t first, size_t count, size_t events_per_person,
                      size_t people_per_batch, int threads, uint64_t *plain_bytes);

/* Every person of first..first+count-1 grants personalization (GDPR opt-in), as a consent
 * banner would record it. 0 on success. */
int bench_grant_consent(cdp_t *db, size_t first, size_t count);

#endif
