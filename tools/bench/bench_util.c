/* Helpers shared by the cdp-bench figures of the full suite (see bench_util.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_util.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double bench_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_latencies_init(bench_latencies *latencies, size_t capacity) {
    latencies->samples = malloc((capacity > 0 ? capacity : 1) * sizeof *latencies->samples);
    latencies->count = 0;
    latencies->capacity = latencies->samples != NULL ? capacity : 0;
    return latencies->samples != NULL ? 0 : -1;
}

void bench_latencies_add(bench_latencies *latencies, double seconds) {
    if (latencies->count < latencies->capacity)
        latencies->samples[latencies->count++] = seconds;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_latencies_us(bench_latencies *latencies, double q) {
    if (latencies->count == 0)
        return 0.0;
    qsort(latencies->samples, latencies->count, sizeof *latencies->samples, compare_doubles);
    /* Nearest rank: the smallest sample with at least q of the samples at or below it. */
    size_t rank = (size_t)(q * (double)latencies->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > latencies->count)
        rank = latencies->count;
    return latencies->samples[rank - 1] * 1e6;
}

void bench_latencies_free(bench_latencies *latencies) {
    free(latencies->samples);
    latencies->samples = NULL;
    latencies->count = latencies->capacity = 0;
}

static ssize_t count_write(void *cookie, const char *buf, size_t size) {
    (void)buf;
    *(uint64_t *)cookie += size;
    return (ssize_t)size;
}

FILE *bench_counting_sink(uint64_t *counter) {
    cookie_io_functions_t functions = {.write = count_write};
    *counter = 0;
    return fopencookie(counter, "w", functions);
}

uint64_t bench_peak_rss_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, status) != NULL)
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    fclose(status);
    return kib;
}

uint64_t bench_disk_bytes(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    uint64_t total = (uint64_t)st.st_blocks * 512u;
    if (!S_ISDIR(st.st_mode))
        return total;
    DIR *dir = opendir(path);
    if (dir == NULL)
        return total;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        total += bench_disk_bytes(child);
    }
    closedir(dir);
    return total;
}

cdp_actor bench_actor(cdp_role role) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    actor.role = role;
    snprintf(actor.key_id, sizeof actor.key_id, "bench");
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

/* One message of person p: event 0 is the identify, the others track events (as cdp-bench
 * ingest's track messages: a product view or an order, with a typical context). */
static int load_message(char *out, size_t cap, size_t p, size_t event) {
    static const char *channels[] = {"web", "ios", "pos", "call_center"};
    if (event == 0)
        return snprintf(out, cap,
                        "{\"type\":\"identify\",\"userId\":\"user-%zu\",\"anonymousId\":"
                        "\"anon-%zu\",\"messageId\":\"l-%zu-0\",\"timestamp\":"
                        "\"2026-10-01T09:00:00Z\",\"traits\":{\"email\":"
                        "\"person%zu@shop.example\",\"first_name\":\"Kim\",\"last_name\":"
                        "\"Berg\",\"plan\":\"gold\",\"address\":{\"city\":\"Berlin\","
                        "\"country\":\"DE\"}},\"context\":{\"channel\":\"web\"}}",
                        p, p, p, p);
    return snprintf(out, cap,
                    "{\"type\":\"track\",\"userId\":\"user-%zu\",\"event\":\"%s\",\"messageId\":"
                    "\"l-%zu-%zu\",\"timestamp\":\"2026-10-%02zuT10:%02zu:00Z\",\"properties\":{"
                    "\"product_id\":\"sku-%zu\",\"price\":%zu.99,\"currency\":\"EUR\"},"
                    "\"context\":{\"channel\":\"%s\",\"locale\":\"de-DE\",\"ip\":"
                    "\"203.0.113.7\",\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}}",
                    p, event % 10 == 9 ? "Order Completed" : "Product Viewed", p, event,
                    2 + event % 27, (p + event) % 60, (p * 7 + event) % 5000, 10 + event % 90,
                    channels[event % 4]);
}

typedef struct load_job {
    cdp_t *db;
    size_t first, count, events_per_person, people_per_batch;
    uint64_t plain_bytes;
    int failed;
} load_job;

static void *load_thread(void *arg) {
    load_job *job = arg;
    cdp_actor actor = bench_actor(CDP_ROLE_INGEST);
    size_t cap = job->people_per_batch * job->events_per_person * 640 + 64;
    char *body = malloc(cap), line[1024];
    if (body == NULL) {
        job->failed = 1;
        return NULL;
    }
    for (size_t from = job->first; from < job->first + job->count && !job->failed;
         from += job->people_per_batch) {
        size_t to = from + job->people_per_batch;
        if (to > job->first + job->count)
            to = job->first + job->count;
        size_t used = (size_t)snprintf(body, cap, "{\"batch\":[");
        for (size_t p = from; p < to; p++)
            for (size_t e = 0; e < job->events_per_person; e++) {
                int len = load_message(line, sizeof line, p, e);
                if (len <= 0 || (size_t)len >= sizeof line || used + (size_t)len + 4 > cap) {
                    job->failed = 1;
                    break;
                }
                if (p != from || e != 0)
                    body[used++] = ',';
                memcpy(body + used, line, (size_t)len);
                used += (size_t)len;
                job->plain_bytes += (uint64_t)len;
            }
        used += (size_t)snprintf(body + used, cap - used, "]}");
        cdp_ingest_result result;
        memset(&result, 0, sizeof result);
        if (job->failed ||
            cdp_ingest(job->db, &actor, "batch", body, used, 0, &result) != CDP_OK ||
            result.rejected != 0) {
            fprintf(stderr, "cdp-bench: load: %s %s\n", cdp_errmsg(job->db),
                    result.errors_json ? result.errors_json : "");
            job->failed = 1;
        }
        cdp_ingest_result_clear(&result);
    }
    free(body);
    return NULL;
}

int bench_load_people(cdp_t *db, size_t first, size_t count, size_t events_per_person,
                      size_t people_per_batch, int threads, uint64_t *plain_bytes) {
    pthread_t ids[8];
    load_job jobs[8];
    if (threads < 1)
        threads = 1;
    if (threads > 8)
        threads = 8;
    if (events_per_person == 0 || people_per_batch == 0)
        return -1;
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        /* Whole batches per thread, so every thread's requests are full. */
        size_t batches = (count + people_per_batch - 1) / people_per_batch;
        size_t b0 = batches * (size_t)t / (size_t)threads;
        size_t b1 = batches * (size_t)(t + 1) / (size_t)threads;
        size_t start = b0 * people_per_batch, end = b1 * people_per_batch;
        if (end > count)
            end = count;
        jobs[t] = (load_job){.db = db,
                             .first = first + start,
                             .count = end > start ? end - start : 0,
                             .events_per_person = events_per_person,
                             .people_per_batch = people_per_batch};
        pthread_create(&ids[t], NULL, load_thread, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        failed |= jobs[t].failed;
        if (plain_bytes != NULL)
            *plain_bytes += jobs[t].plain_bytes;
    }
    return failed ? -1 : 0;
}

int bench_grant_consent(cdp_t *db, size_t first, size_t count) {
    cdp_actor dpo = bench_actor(CDP_ROLE_DPO);
    for (size_t i = first; i < first + count; i++) {
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
