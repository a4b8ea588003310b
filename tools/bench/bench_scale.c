/* cdp-bench scale: the store's costs as it grows. Loads N people with 10 events each (one
 * identify, nine track events) through cdp_ingest in batches of 50 people (500 messages, about
 * 240 KB, under the 500 KB batch limit) from several threads, then measures at that size:
 *   - profile reads: cdp_profile_get, purpose personalization, enforced and audited, over random
 *     people of a consenting sample (up to 10,000 people spread over the whole store, so the
 *     reads touch blocks across it; each grant is one synced write, which is what bounds the
 *     sample), one thread: reads/s and the latency of each read;
 *   - ingest on top: new track events for random people, 100 a request, one thread: events/s;
 *   - erasure: cdp_erase of people spread over the store, one thread, then one cdp_erase_purge
 *     (flush and compaction): erasures/s counting the purge;
 *   - disk: every region flushed and compacted, then the data directory's size (as du counts
 *     it) per person, against the bytes of JSON messages ingested per person, and region eu's
 *     SST bytes per column family (what the disk holds);
 *   - peak RSS (VmHWM) of the process.
 * cdpd's startup time on the same store is measured by tools/bench/run_all.sh (it needs the
 * store closed). */
#include "bench_scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "bench_util.h"
#include "store/region.h"
#include "store/vault.h"
#include "util/fs.h"

#define EVENTS_PER_PERSON 10
#define PEOPLE_PER_BATCH 50
#define READ_SAMPLE_MAX 10000
#define INGEST_BATCH 100

static unsigned next_random(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return *state >> 4;
}

/* The person of the read sample with index i (spread evenly over 0..people-1). */
static size_t sample_person(size_t i, size_t sample, size_t people) {
    return (size_t)((unsigned long long)i * people / sample);
}

static int grant_sample(cdp_t *db, size_t sample, size_t people) {
    cdp_actor dpo = bench_actor(CDP_ROLE_DPO);
    for (size_t i = 0; i < sample; i++) {
        char body[256], *json = NULL;
        int n = snprintf(body, sizeof body,
                         "{\"identity\":{\"type\":\"user_id\",\"value\":\"user-%zu\"},"
                         "\"purposes\":{\"personalization\":\"granted\"},\"source\":\"web\"}",
                         sample_person(i, sample, people));
        if (cdp_consent_set(db, &dpo, body, (size_t)n, 0, &json) != CDP_OK) {
            fprintf(stderr, "cdp-bench scale: consent: %s\n", cdp_errmsg(db));
            return -1;
        }
        cdp_free(json);
    }
    return 0;
}

static int read_sample(cdp_t *db, size_t sample, size_t people, size_t reads,
                       bench_latencies *latencies, double *ops_per_s) {
    cdp_actor reader = bench_actor(CDP_ROLE_PERSONALIZATION);
    unsigned seed = 7;
    double start = bench_seconds();
    for (size_t i = 0; i < reads; i++) {
        char ref[64], *json = NULL;
        snprintf(ref, sizeof ref, "user_id:user-%zu",
                 sample_person(next_random(&seed) % sample, sample, people));
        double t0 = bench_seconds();
        cdp_status status = cdp_profile_get(db, &reader, "personalization", ref, &json);
        bench_latencies_add(latencies, bench_seconds() - t0);
        if (status != CDP_OK) {
            fprintf(stderr, "cdp-bench scale: read %s: %s\n", ref, cdp_errmsg(db));
            return -1;
        }
        cdp_free(json);
    }
    *ops_per_s = (double)reads / (bench_seconds() - start);
    return 0;
}

static int ingest_on_top(cdp_t *db, size_t people, size_t events, bench_latencies *latencies,
                         double *ops_per_s, uint64_t *plain_bytes) {
    cdp_actor actor = bench_actor(CDP_ROLE_INGEST);
    size_t cap = INGEST_BATCH * 600 + 64;
    char *body = malloc(cap);
    if (body == NULL)
        return -1;
    unsigned seed = 99;
    size_t done = 0;
    int failed = 0;
    double start = bench_seconds();
    while (done < events && !failed) {
        size_t used = (size_t)snprintf(body, cap, "{\"batch\":[");
        for (size_t i = 0; i < INGEST_BATCH && done + i < events; i++) {
            size_t person = next_random(&seed) % people, n = done + i;
            int len = snprintf(body + used + (i > 0), cap - used - 4,
                               "{\"type\":\"track\",\"userId\":\"user-%zu\",\"event\":"
                               "\"Product Viewed\",\"messageId\":\"s-%zu\",\"timestamp\":"
                               "\"2026-11-%02zuT10:%02zu:00Z\",\"properties\":{\"product_id\":"
                               "\"sku-%zu\",\"price\":%zu.99,\"currency\":\"EUR\"},\"context\":{"
                               "\"channel\":\"web\",\"locale\":\"de-DE\",\"ip\":\"203.0.113.7\"}}",
                               person, n, 1 + n % 28, n % 60, n % 5000, 10 + n % 90);
            if (i > 0)
                body[used++] = ',';
            used += (size_t)len;
            *plain_bytes += (uint64_t)len;
        }
        used += (size_t)snprintf(body + used, cap - used, "]}");
        size_t in_batch = events - done < INGEST_BATCH ? events - done : INGEST_BATCH;
        cdp_ingest_result result;
        memset(&result, 0, sizeof result);
        double t0 = bench_seconds();
        if (cdp_ingest(db, &actor, "batch", body, used, 0, &result) != CDP_OK ||
            result.rejected != 0) {
            fprintf(stderr, "cdp-bench scale: ingest: %s %s\n", cdp_errmsg(db),
                    result.errors_json ? result.errors_json : "");
            failed = 1;
        }
        bench_latencies_add(latencies, bench_seconds() - t0);
        cdp_ingest_result_clear(&result);
        done += in_batch;
    }
    *ops_per_s = (double)done / (bench_seconds() - start);
    free(body);
    return failed ? -1 : 0;
}

static int erase_spread(cdp_t *db, size_t people, size_t erasures, double *erase_seconds,
                        double *purge_seconds) {
    cdp_actor dpo = bench_actor(CDP_ROLE_DPO);
    size_t stride = people / erasures;
    double start = bench_seconds();
    for (size_t i = 0; i < erasures; i++) {
        /* Off the read sample's people (multiples of people / sample) where the stride allows. */
        size_t person = i * stride + stride / 2;
        char ref[96], request_id[32], *receipt = NULL;
        snprintf(ref, sizeof ref, "email:person%zu@shop.example", person);
        snprintf(request_id, sizeof request_id, "scale-%zu", i);
        if (cdp_erase(db, &dpo, ref, request_id, &receipt) != CDP_OK) {
            fprintf(stderr, "cdp-bench scale: erase %s: %s\n", ref, cdp_errmsg(db));
            return -1;
        }
        cdp_free(receipt);
    }
    *erase_seconds = bench_seconds() - start;
    start = bench_seconds();
    if (cdp_erase_purge(db) != CDP_OK) {
        fprintf(stderr, "cdp-bench scale: purge: %s\n", cdp_errmsg(db));
        return -1;
    }
    *purge_seconds = bench_seconds() - start;
    return 0;
}

int cdp_bench_scale(const cdp_bench_scale_options *options) {
    size_t people = options->people;
    if (people < 2 * PEOPLE_PER_BATCH || options->erasures == 0 ||
        options->erasures > people / 4 || options->reads == 0 || options->ingest_events == 0) {
        fputs("cdp-bench scale: need at least 100 people, 1 <= erasures <= people / 4, reads "
              "and ingest events > 0\n",
              stderr);
        return 2;
    }
    char base[600], data_dir[700];
    int temporary = options->dir == NULL;
    if (temporary) {
        char pattern[] = "/tmp/cdp-bench-scale-XXXXXX";
        if (mkdtemp(pattern) == NULL)
            return 1;
        snprintf(base, sizeof base, "%s", pattern);
    } else {
        snprintf(base, sizeof base, "%s", options->dir);
    }
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cdp_options open_options;
    cdp_options_default(&open_options);
    open_options.create = 1;
    open_options.policy_dir = options->policy_dir;
    cdp_t *db = NULL;
    int result = 1;
    bench_latencies read_latencies = {0}, ingest_latencies = {0};
    if (cdp_open(data_dir, &open_options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench scale: open %s: %s\n", data_dir, cdp_errmsg(db));
        goto done;
    }
    fprintf(stderr, "cdp-bench scale: loading %zu people x %d events into %s (%d threads)\n",
            people, EVENTS_PER_PERSON, data_dir, options->threads);
    uint64_t plain_bytes = 0;
    size_t slice = people / 20 > 10000 ? people / 20 : 10000;
    slice = (slice + PEOPLE_PER_BATCH - 1) / PEOPLE_PER_BATCH * PEOPLE_PER_BATCH;
    double load_start = bench_seconds(), slice_start = load_start;
    for (size_t first = 0; first < people; first += slice) {
        size_t count = people - first < slice ? people - first : slice;
        if (bench_load_people(db, first, count, EVENTS_PER_PERSON, PEOPLE_PER_BATCH,
                              options->threads, &plain_bytes) != 0)
            goto done;
        double now = bench_seconds();
        fprintf(stderr, "cdp-bench scale: %zu people loaded, %.0f events/s now, %.0f s so far\n",
                first + count, (double)(count * EVENTS_PER_PERSON) / (now - slice_start),
                now - load_start);
        slice_start = now;
    }
    double load_seconds = bench_seconds() - load_start;

    size_t sample = people < READ_SAMPLE_MAX ? people : READ_SAMPLE_MAX;
    double start = bench_seconds();
    if (grant_sample(db, sample, people) != 0)
        goto done;
    double consent_per_s = (double)sample / (bench_seconds() - start);
    if (bench_latencies_init(&read_latencies, options->reads) != 0 ||
        bench_latencies_init(&ingest_latencies,
                             options->ingest_events / INGEST_BATCH + 1) != 0)
        goto done;
    double read_ops = 0, ingest_ops = 0, erase_seconds = 0, purge_seconds = 0;
    fprintf(stderr, "cdp-bench scale: %zu reads over %zu consenting people\n", options->reads,
            sample);
    if (read_sample(db, sample, people, options->reads, &read_latencies, &read_ops) != 0)
        goto done;
    fprintf(stderr, "cdp-bench scale: ingesting %zu new events\n", options->ingest_events);
    if (ingest_on_top(db, people, options->ingest_events, &ingest_latencies, &ingest_ops,
                      &plain_bytes) != 0)
        goto done;
    fprintf(stderr, "cdp-bench scale: %zu erasures\n", options->erasures);
    if (erase_spread(db, people, options->erasures, &erase_seconds, &purge_seconds) != 0)
        goto done;

    /* Disk: everything flushed and compacted, as a store settles. */
    start = bench_seconds();
    for (size_t r = 0; r < cdp_region_count(db); r++) {
        cdp_vault *vault = cdp_handle_vault(db, cdp_region_id(db, r));
        cdp_err err = {0};
        if (vault != NULL && cdp_region_purge(cdp_vault_region(vault), &err) != CDP_OK) {
            fprintf(stderr, "cdp-bench scale: compact: %s\n", err.message);
            goto done;
        }
    }
    double compact_seconds = bench_seconds() - start;
    uint64_t disk = bench_disk_bytes(data_dir);
    char by_cf[512];
    size_t by_cf_used = (size_t)snprintf(by_cf, sizeof by_cf, "{");
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    for (int cf = 0; eu != NULL && cf < CDP_CF_COUNT && by_cf_used < sizeof by_cf - 64; cf++) {
        uint64_t sst = 0;
        cdp_region_property(cdp_vault_region(eu), (cdp_cf)cf, "rocksdb.total-sst-files-size", &sst,
                            NULL);
        by_cf_used += (size_t)snprintf(by_cf + by_cf_used, sizeof by_cf - by_cf_used,
                                       "%s\"%s\": %llu", cf > 0 ? ", " : "",
                                       cdp_cf_name((cdp_cf)cf), (unsigned long long)sst);
    }
    snprintf(by_cf + by_cf_used, sizeof by_cf - by_cf_used, "}");
    size_t kept = people - options->erasures;
    printf("{\"bench\": \"scale\", \"people\": %zu, \"events\": %zu, \"load_s\": %.1f, "
           "\"load_events_per_s\": %.0f, \"load_threads\": %d, \"consent_per_s\": %.0f, "
           "\"read_ops_per_s\": %.0f, \"read_p50_us\": %.1f, \"read_p99_us\": %.1f, "
           "\"read_p999_us\": %.1f, \"reads\": %zu, \"read_sample\": %zu, "
           "\"ingest_ops_per_s\": %.0f, \"ingest_batch_p50_ms\": %.3f, "
           "\"ingest_batch_p99_ms\": %.3f, \"ingest_events\": %zu, \"erasures_per_s\": %.0f, "
           "\"erase_only_per_s\": %.0f, \"purge_s\": %.2f, \"erasures\": %zu, "
           "\"compact_s\": %.1f, \"disk_bytes\": %llu, \"disk_bytes_per_person\": %.0f, "
           "\"plain_bytes_per_person\": %.0f, \"disk_ratio\": %.3f, \"rss_kib\": %llu, "
           "\"eu_sst_bytes_by_cf\": %s}\n",
           people, people * EVENTS_PER_PERSON, load_seconds,
           (double)(people * EVENTS_PER_PERSON) / load_seconds, options->threads, consent_per_s,
           read_ops, bench_latencies_us(&read_latencies, 0.50),
           bench_latencies_us(&read_latencies, 0.99), bench_latencies_us(&read_latencies, 0.999),
           options->reads, sample, ingest_ops, bench_latencies_us(&ingest_latencies, 0.50) / 1e3,
           bench_latencies_us(&ingest_latencies, 0.99) / 1e3, options->ingest_events,
           (double)options->erasures / (erase_seconds + purge_seconds),
           (double)options->erasures / erase_seconds, purge_seconds, options->erasures,
           compact_seconds, (unsigned long long)disk, (double)disk / (double)kept,
           (double)plain_bytes / (double)people, (double)disk / (double)plain_bytes,
           (unsigned long long)bench_peak_rss_kib(), by_cf);
    fflush(stdout);
    result = 0;
done:
    bench_latencies_free(&read_latencies);
    bench_latencies_free(&ingest_latencies);
    cdp_close(db);
    if (temporary && getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return result;
}
