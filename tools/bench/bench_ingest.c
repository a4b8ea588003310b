/* cdp-bench ingest: Segment batches through cdp_ingest (parse, normalize, resolve, seal, write,
 * WAL sync) against the raw ceiling of the same work without privacy and identity: parse the
 * same JSON, write each message's bytes to RocksDB, batched the same way (one write and one WAL
 * sync per request of 100 messages). Mix: 60% track, 25% identify, 10% page, 5% alias over a
 * warm store (every person identified once before measuring). */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handle.h"
#include "bench_ingest.h"
#include "bench_util.h"
#include "store/region.h"
#include "util/fs.h"

#define BATCH 100

typedef struct ingest_job {
    cdp_t *db;
    cdp_region *raw;
    char **bodies;
    size_t *lengths;
    size_t first, count;
    int failed;
} ingest_job;

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One message of the mix for person p (0-based), event number n. */
static void message(char *out, size_t cap, size_t p, size_t n, unsigned roll) {
    static const char *sources[] = {"web", "ios", "pos", "call_center"};
    const char *channel = sources[n % 4];
    if (roll < 60)
        snprintf(out, cap,
                 "{\"type\":\"track\",\"userId\":\"user-%zu\",\"event\":\"%s\",\"messageId\":"
                 "\"m-%zu\",\"timestamp\":\"2026-11-%02zuT10:%02zu:00Z\",\"properties\":{"
                 "\"product_id\":\"sku-%zu\",\"price\":%zu.99,\"currency\":\"EUR\","
                 "\"category\":\"shoes\"},\"context\":{\"channel\":\"%s\",\"locale\":\"de-DE\","
                 "\"library\":{\"name\":\"analytics-node\",\"version\":\"2.1.0\"},\"ip\":"
                 "\"203.0.113.7\",\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}}",
                 p, n % 10 == 0 ? "Order Completed" : "Product Viewed", n, 1 + n % 28, n % 60,
                 n % 5000, 10 + n % 90, channel);
    else if (roll < 85)
        snprintf(out, cap,
                 "{\"type\":\"identify\",\"userId\":\"user-%zu\",\"anonymousId\":\"anon-%zu\","
                 "\"messageId\":\"m-%zu\",\"timestamp\":\"2026-11-%02zuT11:00:00Z\",\"traits\":{"
                 "\"email\":\"person%zu@shop.example\",\"first_name\":\"Kim\",\"last_name\":"
                 "\"Berg\",\"plan\":\"gold\",\"address\":{\"city\":\"Berlin\",\"country\":\"DE\"}"
                 "%s},\"context\":{\"channel\":\"%s\",\"library\":{\"name\":\"analytics-node\"}}}",
                 p, p, n, 1 + n % 28, p,
                 n % 4 == 0 ? ",\"phone\":\"+49 30 1234567\"" : "", channel);
    else if (roll < 95)
        snprintf(out, cap,
                 "{\"type\":\"page\",\"anonymousId\":\"anon-%zu\",\"name\":\"Product\","
                 "\"messageId\":\"m-%zu\",\"timestamp\":\"2026-11-%02zuT12:00:00Z\","
                 "\"properties\":{\"path\":\"/p/%zu\",\"url\":\"https://shop.example/p/%zu\","
                 "\"title\":\"Shoes\"},\"context\":{\"channel\":\"web\"}}",
                 p, n, 1 + n % 28, n % 5000, n % 5000);
    else
        snprintf(out, cap,
                 "{\"type\":\"alias\",\"previousId\":\"anon-%zu\",\"userId\":\"user-%zu\","
                 "\"messageId\":\"m-%zu\",\"timestamp\":\"2026-11-%02zuT13:00:00Z\"}",
                 p, p, n, 1 + n % 28);
}

/* Builds request bodies of BATCH messages; returns how many. Caller frees. */
static size_t build_bodies(size_t events, size_t people, size_t offset, char ***bodies_out,
                           size_t **lengths_out, int warmup) {
    size_t count = (events + BATCH - 1) / BATCH;
    char **bodies = calloc(count, sizeof *bodies);
    size_t *lengths = calloc(count, sizeof *lengths);
    char line[2048];
    unsigned seed = 42;
    for (size_t b = 0; b < count; b++) {
        size_t cap = BATCH * 1200, used = 0;
        char *body = malloc(cap);
        used += (size_t)snprintf(body, cap, "{\"batch\":[");
        for (size_t i = 0; i < BATCH && b * BATCH + i < events; i++) {
            size_t n = offset + b * BATCH + i;
            seed = seed * 1103515245u + 12345u;
            size_t person = warmup ? n % people : (seed >> 8) % people;
            message(line, sizeof line, person, n, warmup ? 70 : (seed >> 4) % 100);
            size_t len = strlen(line);
            if (used + len + 4 > cap) {
                cap *= 2;
                body = realloc(body, cap);
            }
            if (i > 0)
                body[used++] = ',';
            memcpy(body + used, line, len);
            used += len;
        }
        used += (size_t)snprintf(body + used, cap - used, "]}");
        bodies[b] = body;
        lengths[b] = used;
    }
    *bodies_out = bodies;
    *lengths_out = lengths;
    return count;
}

static void *run_cdp(void *arg) {
    ingest_job *job = arg;
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    actor.role = CDP_ROLE_INGEST;
    snprintf(actor.key_id, sizeof actor.key_id, "bench");
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    for (size_t b = job->first; b < job->first + job->count; b++) {
        cdp_ingest_result result;
        if (cdp_ingest(job->db, &actor, "batch", job->bodies[b], job->lengths[b], 0, &result) !=
                CDP_OK ||
            result.rejected != 0) {
            fprintf(stderr, "cdp-bench ingest: %s %s\n", cdp_errmsg(job->db),
                    result.errors_json ? result.errors_json : "");
            job->failed = 1;
        }
        cdp_ingest_result_clear(&result);
    }
    return NULL;
}

/* The ceiling: parse the same JSON, write each message's bytes under its messageId. */
static void *run_raw(void *arg) {
    ingest_job *job = arg;
    cdp_batch *batch = cdp_batch_new();
    for (size_t b = job->first; b < job->first + job->count; b++) {
        json_error_t error;
        json_t *root = json_loadb(job->bodies[b], job->lengths[b], JSON_REJECT_DUPLICATES, &error);
        json_t *messages = json_object_get(root, "batch");
        size_t index;
        json_t *item;
        cdp_batch_clear(batch);
        json_array_foreach(messages, index, item) {
            const char *id = json_string_value(json_object_get(item, "messageId"));
            char *bytes = json_dumps(item, JSON_COMPACT);
            cdp_batch_put(batch, job->raw, CDP_CF_EVENTS, (const uint8_t *)id, strlen(id),
                          (const uint8_t *)bytes, strlen(bytes));
            free(bytes);
        }
        cdp_err err = {0};
        if (cdp_region_write(job->raw, batch, 0, &err) != CDP_OK ||
            cdp_region_sync_wal(job->raw, &err) != CDP_OK)
            job->failed = 1;
        json_decref(root);
    }
    cdp_batch_free(batch);
    return NULL;
}

static double timed(void *(*fn)(void *), ingest_job *template, size_t bodies, int threads) {
    pthread_t ids[8];
    ingest_job jobs[8];
    double start = seconds();
    for (int t = 0; t < threads; t++) {
        jobs[t] = *template;
        jobs[t].first = bodies * (size_t)t / (size_t)threads;
        jobs[t].count = bodies * (size_t)(t + 1) / (size_t)threads - jobs[t].first;
        pthread_create(&ids[t], NULL, fn, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        if (jobs[t].failed)
            template->failed = 1;
    }
    return seconds() - start;
}

static void free_bodies(char **bodies, size_t *lengths, size_t count) {
    for (size_t i = 0; i < count; i++)
        free(bodies[i]);
    free(bodies);
    free(lengths);
}

static cdp_t *open_store(const char *base, const char *name, const char *policy_dir) {
    char data_dir[512];
    snprintf(data_dir, sizeof data_dir, "%s/%s", base, name);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir;
    cdp_t *db = NULL;
    if (cdp_open(data_dir, &options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench ingest: %s\n", cdp_errmsg(db));
        cdp_close(db);
        return NULL;
    }
    return db;
}

/* Random profile reads through cdp_profile_get (purpose personalization): the hot path of a
 * personalization service, with its audit record. */
static double read_profiles_timed(cdp_t *db, size_t people, size_t reads,
                                  bench_latencies *latencies);

static double read_profiles(cdp_t *db, size_t people, size_t reads) {
    return read_profiles_timed(db, people, reads, NULL);
}

/* read_profiles, adding each read's latency to latencies (may be NULL). */
static double read_profiles_timed(cdp_t *db, size_t people, size_t reads,
                                  bench_latencies *latencies) {
    cdp_actor reader;
    memset(&reader, 0, sizeof reader);
    reader.role = CDP_ROLE_PERSONALIZATION;
    snprintf(reader.key_id, sizeof reader.key_id, "bench");
    snprintf(reader.region, sizeof reader.region, "eu");
    unsigned seed = 7;
    double start = seconds();
    for (size_t i = 0; i < reads; i++) {
        seed = seed * 1103515245u + 12345u;
        char ref[64];
        snprintf(ref, sizeof ref, "user_id:user-%u", (seed >> 8) % (unsigned)people);
        char *json = NULL;
        double t0 = latencies != NULL ? seconds() : 0.0;
        cdp_status status = cdp_profile_get(db, &reader, "personalization", ref, &json);
        if (latencies != NULL)
            bench_latencies_add(latencies, seconds() - t0);
        if (status == CDP_OK)
            cdp_free(json);
        else if (status != CDP_NOT_FOUND) {
            fprintf(stderr, "cdp-bench: profile read refused: %s\n", cdp_errmsg(db));
            return 0.0;
        }
    }
    return (double)reads / (seconds() - start);
}

/* Every person grants personalization (they live in Germany: GDPR, opt-in), as a consent banner
 * would record it; not measured. */
static int grant_consent(cdp_t *db, size_t people) {
    cdp_actor dpo;
    memset(&dpo, 0, sizeof dpo);
    dpo.role = CDP_ROLE_DPO;
    snprintf(dpo.key_id, sizeof dpo.key_id, "bench");
    snprintf(dpo.region, sizeof dpo.region, "eu");
    for (size_t i = 0; i < people; i++) {
        char body[256], *json = NULL;
        int n = snprintf(body, sizeof body,
                         "{\"identity\":{\"type\":\"user_id\",\"value\":\"user-%zu\"},"
                         "\"purposes\":{\"personalization\":\"granted\"},\"source\":\"web\"}",
                         i);
        if (cdp_consent_set(db, &dpo, body, (size_t)n, 0, &json) != CDP_OK) {
            fprintf(stderr, "cdp-bench: consent: %s\n", cdp_errmsg(db));
            return -1;
        }
        cdp_free(json);
    }
    return 0;
}

/* The read ceiling: raw RocksDB gets of stored values of a similar size (the raw messages),
 * each parsed and rendered again as JSON (the "get + decrypt-free JSON"). */
static double read_raw_timed(cdp_region *raw, size_t events, size_t reads,
                             bench_latencies *latencies);

static double read_raw(cdp_region *raw, size_t events, size_t reads) {
    return read_raw_timed(raw, events, reads, NULL);
}

/* read_raw, adding each get's latency to latencies (may be NULL). */
static double read_raw_timed(cdp_region *raw, size_t events, size_t reads,
                             bench_latencies *latencies) {
    unsigned seed = 7;
    double start = seconds();
    for (size_t i = 0; i < reads; i++) {
        seed = seed * 1103515245u + 12345u;
        char key[32];
        snprintf(key, sizeof key, "m-%u", (seed >> 8) % (unsigned)events);
        uint8_t *value = NULL;
        size_t len = 0;
        double t0 = latencies != NULL ? seconds() : 0.0;
        if (cdp_region_get(raw, CDP_CF_EVENTS, (const uint8_t *)key, strlen(key), &value, &len,
                           NULL) == CDP_OK) {
            /* A decrypt-free read with JSON out: parse the stored message, render it again. */
            json_t *record = json_loadb((const char *)value, len, 0, NULL);
            char *text = record != NULL ? json_dumps(record, JSON_COMPACT) : NULL;
            free(text);
            json_decref(record);
            cdp_region_free_value(value);
        }
        if (latencies != NULL)
            bench_latencies_add(latencies, seconds() - t0);
    }
    return (double)reads / (seconds() - start);
}

int cdp_bench_ingest(size_t events, const char *policy_dir) {
    size_t people = events / 10 > 100 ? events / 10 : 100;
    char base[] = "/tmp/cdp-bench-ingest-XXXXXX";
    if (mkdtemp(base) == NULL)
        return 1;
    json_object_seed(0);
    int result = 0;
    char **warm = NULL, **bodies = NULL;
    size_t *warm_lengths = NULL, *lengths = NULL;
    size_t warm_count = build_bodies(people, people, 10000000, &warm, &warm_lengths, 1);
    size_t count = build_bodies(events, people, 0, &bodies, &lengths, 0);
    for (int threads = 1; threads <= 2 && result == 0; threads++) {
        char name[32], raw_dir[512];
        snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", base, threads);
        snprintf(name, sizeof name, "audited-%d", threads);
        cdp_t *db = open_store(base, name, policy_dir);
        snprintf(name, sizeof name, "unaudited-%d", threads);
        cdp_t *bare = open_store(base, name, policy_dir);
        cdp_err err = {0};
        cdp_region_options raw_options = {.create = 1};
        cdp_region *raw = NULL;
        if (db == NULL || bare == NULL ||
            cdp_region_open(raw_dir, "eu", &raw_options, &raw, &err) != CDP_OK) {
            cdp_close(db);
            cdp_close(bare);
            result = 1;
            break;
        }
        cdp_handle_bench_disable_audit(bare);
        /* Warm stores: every person identified once (not measured). */
        ingest_job job = {.db = db, .raw = raw, .bodies = warm, .lengths = warm_lengths};
        timed(run_cdp, &job, warm_count, 2);
        job.db = bare;
        timed(run_cdp, &job, warm_count, 2);
        timed(run_raw, &job, warm_count, 2);
        job.bodies = bodies;
        job.lengths = lengths;
        double raw_seconds = timed(run_raw, &job, count, threads);
        job.db = bare;
        double bare_seconds = timed(run_cdp, &job, count, threads);
        job.db = db;
        double cdp_seconds = timed(run_cdp, &job, count, threads);
        if (job.failed)
            result = 1;
        double ops = (double)events / cdp_seconds, ceiling = (double)events / raw_seconds;
        printf("{\"bench\": \"ingest\", \"threads\": %d, \"ops_per_s\": %.0f, "
               "\"ceiling_ops_per_s\": %.0f, \"ratio\": %.3f, \"without_audit_ops_per_s\": %.0f, "
               "\"events\": %zu, \"people\": %zu, \"batch\": %d}\n",
               threads, ops, ceiling, ops / ceiling, (double)events / bare_seconds, events, people,
               BATCH);
        if (threads == 1) {
            size_t reads = events < 200000 ? events : 200000;
            if (grant_consent(db, people) != 0 || grant_consent(bare, people) != 0) {
                result = 1;
            } else {
                /* The same reads: enforced and audited; enforced, not audited; neither. */
                bench_latencies raw_latencies = {0}, latencies = {0};
                if (bench_latencies_init(&raw_latencies, reads) != 0 ||
                    bench_latencies_init(&latencies, reads) != 0)
                    result = 1;
                double raw_reads = read_raw_timed(raw, events, reads, &raw_latencies);
                double unaudited_reads = read_profiles(bare, people, reads);
                cdp_handle_bench_disable_enforcement(bare);
                double bare_reads = read_profiles(bare, people, reads);
                double audited_reads = read_profiles_timed(db, people, reads, &latencies);
                /* Latencies of single reads, one thread: p50, p99, p99.9 in microseconds. */
                printf("{\"bench\": \"profile_read\", \"ops_per_s\": %.0f, "
                       "\"ceiling_ops_per_s\": %.0f, \"ratio\": %.3f, "
                       "\"unenforced_ops_per_s\": %.0f, \"ratio_to_unenforced\": %.3f, "
                       "\"without_audit_ops_per_s\": %.0f, \"reads\": %zu, "
                       "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
                       "\"ceiling_p50_us\": %.1f, \"ceiling_p99_us\": %.1f, "
                       "\"ceiling_p999_us\": %.1f}\n",
                       audited_reads, raw_reads, audited_reads / raw_reads, bare_reads,
                       audited_reads / bare_reads, unaudited_reads, reads,
                       bench_latencies_us(&latencies, 0.50), bench_latencies_us(&latencies, 0.99),
                       bench_latencies_us(&latencies, 0.999),
                       bench_latencies_us(&raw_latencies, 0.50),
                       bench_latencies_us(&raw_latencies, 0.99),
                       bench_latencies_us(&raw_latencies, 0.999));
                bench_latencies_free(&raw_latencies);
                bench_latencies_free(&latencies);
            }
        }
        fflush(stdout);
        cdp_region_close(raw);
        cdp_close(db);
        cdp_close(bare);
    }
    free_bodies(warm, warm_lengths, warm_count);
    free_bodies(bodies, lengths, count);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return result;
}

/* cdp-bench reads: the profile_read figures alone, repeated, over stores filled as cdp-bench
 * ingest fills them (warm-up plus `events` messages, then consent; none of it timed). With only
 * "audited" the run does nothing but enforced, audited reads (for a profiler). */
typedef struct read_job {
    cdp_t *db;
    size_t people, reads;
    unsigned seed;
    int failed;
} read_job;

static void *read_thread(void *arg) {
    read_job *job = arg;
    cdp_actor reader;
    memset(&reader, 0, sizeof reader);
    reader.role = CDP_ROLE_PERSONALIZATION;
    snprintf(reader.key_id, sizeof reader.key_id, "bench");
    snprintf(reader.region, sizeof reader.region, "eu");
    for (size_t i = 0; i < job->reads; i++) {
        job->seed = job->seed * 1103515245u + 12345u;
        char ref[64], *json = NULL;
        snprintf(ref, sizeof ref, "user_id:user-%u", (job->seed >> 8) % (unsigned)job->people);
        cdp_status status = cdp_profile_get(job->db, &reader, "personalization", ref, &json);
        if (status == CDP_OK)
            cdp_free(json);
        else if (status != CDP_NOT_FOUND)
            job->failed = 1;
    }
    return NULL;
}

/* The reads of read_profiles spread over `threads` threads (each its own order); ops/s. */
static double read_profiles_threaded(cdp_t *db, size_t people, size_t reads, int threads) {
    if (threads <= 1)
        return read_profiles(db, people, reads);
    pthread_t ids[8];
    read_job jobs[8];
    double start = seconds();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (read_job){.db = db, .people = people, .reads = reads / (size_t)threads,
                             .seed = 7u + (unsigned)t};
        pthread_create(&ids[t], NULL, read_thread, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        failed |= jobs[t].failed;
    }
    double elapsed = seconds() - start;
    if (failed) {
        fprintf(stderr, "cdp-bench: profile read refused\n");
        return 0.0;
    }
    return (double)(reads / (size_t)threads * (size_t)threads) / elapsed;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cdp_bench_reads(size_t events, size_t reads, int rounds, int threads, const char *only,
                    const char *policy_dir) {
    size_t people = events / 10 > 100 ? events / 10 : 100;
    char base[] = "/tmp/cdp-bench-reads-XXXXXX";
    if (mkdtemp(base) == NULL)
        return 1;
    json_object_seed(0);
    int result = 0, audited_only = only != NULL && strcmp(only, "audited") == 0;
    char **warm = NULL, **bodies = NULL, raw_dir[512];
    size_t *warm_lengths = NULL, *lengths = NULL;
    size_t warm_count = build_bodies(people, people, 10000000, &warm, &warm_lengths, 1);
    size_t count = build_bodies(events, people, 0, &bodies, &lengths, 0);
    snprintf(raw_dir, sizeof raw_dir, "%s/raw", base);
    cdp_t *db = open_store(base, "audited", policy_dir);
    cdp_t *bare = audited_only ? NULL : open_store(base, "unaudited", policy_dir);
    cdp_err err = {0};
    cdp_region_options raw_options = {.create = 1};
    cdp_region *raw = NULL;
    if (db == NULL || (!audited_only && bare == NULL) ||
        cdp_region_open(raw_dir, "eu", &raw_options, &raw, &err) != CDP_OK) {
        result = 1;
        goto done;
    }
    if (bare != NULL)
        cdp_handle_bench_disable_audit(bare);
    ingest_job job = {.db = db, .raw = raw, .bodies = warm, .lengths = warm_lengths};
    timed(run_cdp, &job, warm_count, 2);
    timed(run_raw, &job, warm_count, 2);
    if (bare != NULL) {
        job.db = bare;
        timed(run_cdp, &job, warm_count, 2);
    }
    job.bodies = bodies;
    job.lengths = lengths;
    timed(run_raw, &job, count, 2);
    job.db = db;
    timed(run_cdp, &job, count, 2);
    if (bare != NULL) {
        job.db = bare;
        timed(run_cdp, &job, count, 2);
    }
    if (job.failed || grant_consent(db, people) != 0 ||
        (bare != NULL && grant_consent(bare, people) != 0)) {
        result = 1;
        goto done;
    }
    double best_raw = 0, best_audited = 0, best_unaudited = 0, best_bare = 0;
    for (int round = 0; round < rounds; round++) {
        double cpu = cpu_seconds();
        double audited = read_profiles_threaded(db, people, reads, threads);
        cpu = cpu_seconds() - cpu;
        if (audited > best_audited)
            best_audited = audited;
        if (audited_only) {
            printf("{\"bench\": \"profile_read\", \"round\": %d, \"ops_per_s\": %.0f, "
                   "\"ops_per_cpu_s\": %.0f}\n",
                   round, audited, (double)reads / cpu);
            fflush(stdout);
            continue;
        }
        double raw_reads = read_raw(raw, events, reads);
        double unaudited = read_profiles_threaded(bare, people, reads, threads);
        if (raw_reads > best_raw)
            best_raw = raw_reads;
        if (unaudited > best_unaudited)
            best_unaudited = unaudited;
        printf("{\"bench\": \"profile_read\", \"round\": %d, \"ops_per_s\": %.0f, "
               "\"ceiling_ops_per_s\": %.0f, \"without_audit_ops_per_s\": %.0f, "
               "\"ops_per_cpu_s\": %.0f}\n",
               round, audited, raw_reads, unaudited, (double)reads / cpu);
        fflush(stdout);
    }
    if (bare != NULL) {
        cdp_handle_bench_disable_enforcement(bare);
        for (int round = 0; round < rounds; round++) {
            double unenforced = read_profiles_threaded(bare, people, reads, threads);
            if (unenforced > best_bare)
                best_bare = unenforced;
        }
        printf("{\"bench\": \"profile_read_best\", \"ops_per_s\": %.0f, "
               "\"ceiling_ops_per_s\": %.0f, \"ratio\": %.3f, \"unenforced_ops_per_s\": %.0f, "
               "\"ratio_to_unenforced\": %.3f, \"without_audit_ops_per_s\": %.0f, "
               "\"reads\": %zu, \"rounds\": %d, \"threads\": %d}\n",
               best_audited, best_raw, best_audited / best_raw, best_bare,
               best_audited / best_bare, best_unaudited, reads, rounds, threads);
    }
done:
    if (raw != NULL)
        cdp_region_close(raw);
    cdp_close(db);
    cdp_close(bare);
    free_bodies(warm, warm_lengths, warm_count);
    free_bodies(bodies, lengths, count);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return result;
}
