/* Prometheus metrics of the HTTP server. Fixed arrays of atomic counters indexed by route and
 * status slot, rendered on demand; series that never counted anything are left out. The
 * library's own counters (events, merges, erasures, denials) join the output when the public
 * API exposes them. */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdp/cdp.h"

/* Upper bounds in seconds; an implicit +Inf bucket follows. */
static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
#define BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0] + 1)

/* The statuses the server answers with; anything else lands in the last, "other", slot. */
static const unsigned status_values[] = {200, 202, 400, 401, 403, 404, 405,
                                         409, 413, 429, 451, 500, 503};
#define STATUS_SLOTS (sizeof status_values / sizeof status_values[0] + 1)

/* The API error codes, in cdp_status order (CDP_BAD_REQUEST .. CDP_INTERNAL). */
#define ERROR_CODES (CDP_INTERNAL - CDP_BAD_REQUEST + 1)

typedef struct series {
    _Atomic uint64_t buckets[BUCKETS]; /* not cumulative; rendering sums them */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_microseconds;
} series;

struct http_metrics {
    size_t route_count;
    const char **methods; /* copies of the arrays; the strings stay borrowed */
    const char **patterns;
    series *series; /* (route_count + 1) * STATUS_SLOTS */
    _Atomic uint64_t errors[ERROR_CODES];
    _Atomic uint64_t ingest_accepted, ingest_duplicates, ingest_rejected;
    _Atomic long connections, in_flight;
    double started_at;
};

http_metrics *http_metrics_new(size_t route_count, const char *const *methods,
                               const char *const *patterns) {
    http_metrics *metrics = calloc(1, sizeof *metrics);
    if (metrics == NULL)
        return NULL;
    metrics->series = calloc((route_count + 1) * STATUS_SLOTS, sizeof *metrics->series);
    metrics->methods = calloc(route_count + 1, sizeof *metrics->methods);
    metrics->patterns = calloc(route_count + 1, sizeof *metrics->patterns);
    if (metrics->series == NULL || metrics->methods == NULL || metrics->patterns == NULL) {
        http_metrics_free(metrics);
        return NULL;
    }
    metrics->route_count = route_count;
    memcpy(metrics->methods, methods, route_count * sizeof *methods);
    memcpy(metrics->patterns, patterns, route_count * sizeof *patterns);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    metrics->started_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    return metrics;
}

void http_metrics_free(http_metrics *metrics) {
    if (metrics == NULL)
        return;
    free(metrics->series);
    free(metrics->methods);
    free(metrics->patterns);
    free(metrics);
}

static size_t status_slot(unsigned status) {
    for (size_t i = 0; i < STATUS_SLOTS - 1; i++)
        if (status_values[i] == status)
            return i;
    return STATUS_SLOTS - 1;
}

void http_metrics_observe(http_metrics *metrics, size_t route_index, unsigned status,
                          double seconds) {
    if (route_index > metrics->route_count)
        route_index = metrics->route_count;
    series *target = &metrics->series[route_index * STATUS_SLOTS + status_slot(status)];
    size_t bucket = 0;
    while (bucket < BUCKETS - 1 && seconds > bucket_bounds[bucket])
        bucket++;
    atomic_fetch_add_explicit(&target->buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&target->sum_microseconds,
                              (uint64_t)(seconds > 0 ? seconds * 1e6 : 0), memory_order_relaxed);
    atomic_fetch_add_explicit(&target->count, 1, memory_order_relaxed);
}

void http_metrics_count_error(http_metrics *metrics, const char *code) {
    for (int status = CDP_BAD_REQUEST; status <= CDP_INTERNAL; status++)
        if (strcmp(code, cdp_status_code((cdp_status)status)) == 0) {
            atomic_fetch_add_explicit(&metrics->errors[status - CDP_BAD_REQUEST], 1,
                                      memory_order_relaxed);
            return;
        }
}

void http_metrics_count_ingest(http_metrics *metrics, size_t accepted, size_t duplicates,
                               size_t rejected) {
    atomic_fetch_add_explicit(&metrics->ingest_accepted, accepted, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics->ingest_duplicates, duplicates, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics->ingest_rejected, rejected, memory_order_relaxed);
}

void http_metrics_connections(http_metrics *metrics, int delta) {
    atomic_fetch_add_explicit(&metrics->connections, delta, memory_order_relaxed);
}

long http_metrics_in_flight(http_metrics *metrics, int delta) {
    return atomic_fetch_add(&metrics->in_flight, delta) + delta;
}

/* ---- Rendering ----------------------------------------------------------------------------- */

typedef struct text {
    char *data;
    size_t len, cap;
    int failed;
} text;

__attribute__((format(printf, 2, 3))) static void text_printf(text *out, const char *format, ...) {
    if (out->failed)
        return;
    for (;;) {
        va_list args;
        va_start(args, format);
        int n = vsnprintf(out->data ? out->data + out->len : NULL,
                          out->data ? out->cap - out->len : 0, format, args);
        va_end(args);
        if (n < 0) {
            out->failed = 1;
            return;
        }
        if (out->data != NULL && (size_t)n < out->cap - out->len) {
            out->len += (size_t)n;
            return;
        }
        size_t cap = out->cap ? out->cap * 2 : 8192;
        while (cap - out->len <= (size_t)n)
            cap *= 2;
        char *grown = realloc(out->data, cap);
        if (grown == NULL) {
            out->failed = 1;
            return;
        }
        out->data = grown;
        out->cap = cap;
    }
}

static void render_label_status(text *out, size_t slot) {
    if (slot < STATUS_SLOTS - 1)
        text_printf(out, "%u", status_values[slot]);
    else
        text_printf(out, "other");
}

static void render_requests(http_metrics *metrics, text *out) {
    text_printf(out, "# HELP cdp_http_requests_total HTTP requests answered, by route and "
                     "status.\n# TYPE cdp_http_requests_total counter\n");
    for (size_t route = 0; route <= metrics->route_count; route++)
        for (size_t slot = 0; slot < STATUS_SLOTS; slot++) {
            series *current = &metrics->series[route * STATUS_SLOTS + slot];
            uint64_t count = atomic_load_explicit(&current->count, memory_order_relaxed);
            if (count == 0)
                continue;
            const char *method = route < metrics->route_count ? metrics->methods[route] : "";
            const char *pattern =
                route < metrics->route_count ? metrics->patterns[route] : "unmatched";
            text_printf(out, "cdp_http_requests_total{method=\"%s\",route=\"%s\",status=\"", method,
                        pattern);
            render_label_status(out, slot);
            text_printf(out, "\"} %llu\n", (unsigned long long)count);
        }
    text_printf(out, "# HELP cdp_http_request_duration_seconds Time from the request's headers "
                     "to its completion.\n# TYPE cdp_http_request_duration_seconds histogram\n");
    for (size_t route = 0; route <= metrics->route_count; route++)
        for (size_t slot = 0; slot < STATUS_SLOTS; slot++) {
            series *current = &metrics->series[route * STATUS_SLOTS + slot];
            if (atomic_load_explicit(&current->count, memory_order_relaxed) == 0)
                continue;
            const char *method = route < metrics->route_count ? metrics->methods[route] : "";
            const char *pattern =
                route < metrics->route_count ? metrics->patterns[route] : "unmatched";
            uint64_t cumulative = 0;
            for (size_t bucket = 0; bucket < BUCKETS; bucket++) {
                cumulative += atomic_load_explicit(&current->buckets[bucket], memory_order_relaxed);
                text_printf(out,
                            "cdp_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                            "status=\"",
                            method, pattern);
                render_label_status(out, slot);
                if (bucket < BUCKETS - 1)
                    text_printf(out, "\",le=\"%g\"} %llu\n", bucket_bounds[bucket],
                                (unsigned long long)cumulative);
                else
                    text_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
            }
            /* _count is the +Inf bucket, so the two always agree within one scrape. */
            text_printf(out,
                        "cdp_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\","
                        "status=\"",
                        method, pattern);
            render_label_status(out, slot);
            text_printf(
                out, "\"} %.6f\n",
                (double)atomic_load_explicit(&current->sum_microseconds, memory_order_relaxed) /
                    1e6);
            text_printf(out,
                        "cdp_http_request_duration_seconds_count{method=\"%s\",route=\"%s\","
                        "status=\"",
                        method, pattern);
            render_label_status(out, slot);
            text_printf(out, "\"} %llu\n", (unsigned long long)cumulative);
        }
}

char *http_metrics_render(http_metrics *metrics, size_t *len) {
    text out = {0};
    text_printf(&out,
                "# HELP cdp_build_info The cdp version serving.\n"
                "# TYPE cdp_build_info gauge\ncdp_build_info{version=\"%s\"} 1\n",
                CDP_VERSION_STRING);
    text_printf(&out,
                "# HELP cdp_http_start_time_seconds When the server started (Unix time).\n"
                "# TYPE cdp_http_start_time_seconds gauge\n"
                "cdp_http_start_time_seconds %.3f\n",
                metrics->started_at);
    text_printf(&out,
                "# HELP cdp_http_connections Open HTTP connections.\n"
                "# TYPE cdp_http_connections gauge\ncdp_http_connections %ld\n",
                atomic_load(&metrics->connections));
    text_printf(&out,
                "# HELP cdp_http_requests_in_flight Requests being handled.\n"
                "# TYPE cdp_http_requests_in_flight gauge\ncdp_http_requests_in_flight "
                "%ld\n",
                atomic_load(&metrics->in_flight));
    render_requests(metrics, &out);
    text_printf(&out, "# HELP cdp_http_errors_total Error answers by API error code (denials "
                      "by reason).\n# TYPE cdp_http_errors_total counter\n");
    for (int status = CDP_BAD_REQUEST; status <= CDP_INTERNAL; status++)
        text_printf(&out, "cdp_http_errors_total{code=\"%s\"} %llu\n",
                    cdp_status_code((cdp_status)status),
                    (unsigned long long)atomic_load_explicit(
                        &metrics->errors[status - CDP_BAD_REQUEST], memory_order_relaxed));
    text_printf(&out,
                "# HELP cdp_ingest_messages_total Segment messages received over HTTP, by "
                "outcome.\n# TYPE cdp_ingest_messages_total counter\n"
                "cdp_ingest_messages_total{outcome=\"accepted\"} %llu\n"
                "cdp_ingest_messages_total{outcome=\"duplicate\"} %llu\n"
                "cdp_ingest_messages_total{outcome=\"rejected\"} %llu\n",
                (unsigned long long)atomic_load(&metrics->ingest_accepted),
                (unsigned long long)atomic_load(&metrics->ingest_duplicates),
                (unsigned long long)atomic_load(&metrics->ingest_rejected));
    if (out.failed) {
        free(out.data);
        return NULL;
    }
    *len = out.len;
    return out.data;
}
