/* cdp-bench erase: erasures through cdp_erase in a store of N people (each identified once and
 * with one event), with the physical purge batched into one cdp_erase_purge at the end, and the
 * ingest throughput of other people's events measured before and while the erasures run.
 * erasures_per_s counts the purge: erasures / (erase time + purge time). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_erase.h"
#include "cdp/cdp.h"
#include "util/fs.h"

#define BATCH 100
#define ERASE_THREADS 2

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cdp_actor make_actor(cdp_role role) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    actor.role = role;
    snprintf(actor.key_id, sizeof actor.key_id, "bench");
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

/* A batch body of BATCH messages, for people first.., one per person (identify) or for the
 * people picked by pick (track). Caller frees. */
static char *batch_body(size_t first, size_t people, int identify, size_t stride, size_t *len,
                        size_t serial) {
    size_t cap = BATCH * 400, used = 0;
    char *body = malloc(cap);
    used += (size_t)snprintf(body, cap, "{\"batch\":[");
    for (size_t i = 0; i < BATCH; i++) {
        size_t person = (first + i) % people;
        if (!identify && stride > 1 && person % stride == 0)
            person = (person + 1) % people; /* never someone being erased */
        if (i > 0)
            body[used++] = ',';
        if (identify)
            used += (size_t)snprintf(
                body + used, cap - used,
                "{\"type\":\"identify\",\"userId\":\"user-%zu\",\"messageId\":\"i-%zu\","
                "\"timestamp\":\"2026-11-01T10:00:00Z\",\"traits\":{\"email\":"
                "\"person%zu@shop.example\",\"first_name\":\"Kim\"}}",
                person, person, person);
        else
            used += (size_t)snprintf(
                body + used, cap - used,
                "{\"type\":\"track\",\"userId\":\"user-%zu\",\"event\":\"Product Viewed\","
                "\"messageId\":\"t-%zu-%zu\",\"timestamp\":\"2026-11-02T10:00:00Z\","
                "\"properties\":{\"sku\":\"s-%zu\"}}",
                person, serial, i, i);
    }
    used += (size_t)snprintf(body + used, cap - used, "]}");
    *len = used;
    return body;
}

static int ingest_batch(cdp_t *db, const cdp_actor *actor, const char *body, size_t len) {
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, actor, "batch", body, len, 0, &result);
    int ok = status == CDP_OK && result.rejected == 0;
    if (!ok)
        fprintf(stderr, "cdp-bench erase: ingest: %s %s\n", cdp_errmsg(db),
                result.errors_json ? result.errors_json : "");
    cdp_ingest_result_clear(&result);
    return ok;
}

typedef struct erase_job {
    cdp_t *db;
    size_t first, count, stride;
    int failed;
} erase_job;

static void *run_erasures(void *arg) {
    erase_job *job = arg;
    cdp_actor dpo = make_actor(CDP_ROLE_DPO);
    for (size_t i = job->first; i < job->first + job->count && !job->failed; i++) {
        char ref[96], request_id[32];
        snprintf(ref, sizeof ref, "email:person%zu@shop.example", i * job->stride);
        snprintf(request_id, sizeof request_id, "bench-%zu", i);
        char *receipt = NULL;
        if (cdp_erase(job->db, &dpo, ref, request_id, &receipt) != CDP_OK) {
            fprintf(stderr, "cdp-bench erase: %s: %s\n", ref, cdp_errmsg(job->db));
            job->failed = 1;
        }
        cdp_free(receipt);
    }
    return NULL;
}

typedef struct ingest_job {
    cdp_t *db;
    size_t people, stride;
    atomic_int stop;
    size_t events;
    double elapsed;
    int failed;
} ingest_job;

static void *run_ingest(void *arg) {
    ingest_job *job = arg;
    cdp_actor actor = make_actor(CDP_ROLE_INGEST);
    unsigned seed = 99;
    double start = seconds();
    for (size_t serial = 1000000; !atomic_load(&job->stop) && !job->failed; serial++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        char *body = batch_body((seed >> 4) % job->people, job->people, 0, job->stride, &len,
                                serial);
        if (!ingest_batch(job->db, &actor, body, len))
            job->failed = 1;
        else
            job->events += BATCH;
        free(body);
    }
    job->elapsed = seconds() - start;
    return NULL;
}

int cdp_bench_erase(size_t people, size_t erasures, const char *policy_dir) {
    char base[] = "/tmp/cdp-bench-erase-XXXXXX", data_dir[600];
    if (mkdtemp(base) == NULL || people < 2 * BATCH || erasures == 0 || erasures > people / 2)
        return 1;
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir;
    cdp_t *db = NULL;
    int result = 1;
    if (cdp_open(data_dir, &options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench erase: %s\n", cdp_errmsg(db));
        goto done;
    }
    cdp_actor ingester = make_actor(CDP_ROLE_INGEST);
    size_t stride = people / erasures;
    double start = seconds();
    for (size_t first = 0; first < people; first += BATCH) {
        size_t len = 0;
        char *body = batch_body(first, people, 1, stride, &len, 0);
        int ok = ingest_batch(db, &ingester, body, len);
        free(body);
        if (!ok)
            goto done;
    }
    double load_seconds = seconds() - start;
    fprintf(stderr, "cdp-bench erase: %zu people loaded in %.1f s\n", people, load_seconds);

    /* Ingest alone, then ingest while erasures run. */
    ingest_job before = {.db = db, .people = people, .stride = stride};
    pthread_t ingest_thread;
    pthread_create(&ingest_thread, NULL, run_ingest, &before);
    /* 3 s of ingest alone; half a second in tiny stores (the smoke test), which measure nothing. */
    struct timespec pause = {.tv_sec = people >= 10000 ? 3 : 0,
                             .tv_nsec = people >= 10000 ? 0 : 500000000};
    nanosleep(&pause, NULL);
    atomic_store(&before.stop, 1);
    pthread_join(ingest_thread, NULL);

    ingest_job during = {.db = db, .people = people, .stride = stride};
    erase_job jobs[ERASE_THREADS];
    pthread_t erase_threads[ERASE_THREADS];
    pthread_create(&ingest_thread, NULL, run_ingest, &during);
    start = seconds();
    for (int t = 0; t < ERASE_THREADS; t++) {
        jobs[t] = (erase_job){.db = db, .stride = stride};
        jobs[t].first = erasures * (size_t)t / ERASE_THREADS;
        jobs[t].count = erasures * (size_t)(t + 1) / ERASE_THREADS - jobs[t].first;
        pthread_create(&erase_threads[t], NULL, run_erasures, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < ERASE_THREADS; t++) {
        pthread_join(erase_threads[t], NULL);
        failed |= jobs[t].failed;
    }
    double erase_seconds = seconds() - start;
    atomic_store(&during.stop, 1);
    pthread_join(ingest_thread, NULL);
    start = seconds();
    if (cdp_erase_purge(db) != CDP_OK) {
        fprintf(stderr, "cdp-bench erase: purge: %s\n", cdp_errmsg(db));
        failed = 1;
    }
    double purge_seconds = seconds() - start;
    if (failed || before.failed || during.failed)
        goto done;
    printf("{\"bench\": \"erase\", \"erasures_per_s\": %.0f, \"people\": %zu, \"erasures\": %zu, "
           "\"erase_only_per_s\": %.0f, \"purge_s\": %.2f, \"erase_threads\": %d, "
           "\"ingest_ops_per_s_during\": %.0f, \"ingest_ops_per_s_before\": %.0f}\n",
           (double)erasures / (erase_seconds + purge_seconds), people, erasures,
           (double)erasures / erase_seconds, purge_seconds, ERASE_THREADS,
           (double)during.events / during.elapsed, (double)before.events / before.elapsed);
    fflush(stdout);
    result = 0;
done:
    cdp_close(db);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return result;
}
