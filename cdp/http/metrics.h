/* Prometheus metrics of the HTTP server (text exposition format 0.0.4): requests and latency
 * histograms by route and status, errors by code, ingest outcomes, open connections. Counters
 * are atomics: recording never takes a lock. */
#ifndef CDP_HTTP_METRICS_H
#define CDP_HTTP_METRICS_H

#include <stddef.h>

typedef struct http_metrics http_metrics;

/* route_count routes, labelled by method and pattern (the arrays are copied, the strings
 * borrowed until http_metrics_free); index
 * route_count is the "unmatched" pseudo-route. NULL when out of memory. */
http_metrics *http_metrics_new(size_t route_count, const char *const *methods,
                               const char *const *patterns);
void http_metrics_free(http_metrics *metrics); /* accepts NULL */

/* One finished request: its route index, the status sent and how long it took. */
void http_metrics_observe(http_metrics *metrics, size_t route_index, unsigned status,
                          double seconds);
/* One error answer, by its API error code ("unauthorized", "rate_limited", ...). */
void http_metrics_count_error(http_metrics *metrics, const char *code);
/* Outcome of one ingest call. */
void http_metrics_count_ingest(http_metrics *metrics, size_t accepted, size_t duplicates,
                               size_t rejected);
/* +1 when a connection opens, -1 when it closes. */
void http_metrics_connections(http_metrics *metrics, int delta);
/* +1 when a request starts, -1 when it completes. Returns the new count. */
long http_metrics_in_flight(http_metrics *metrics, int delta);

/* The exposition text; caller owns it (free with free()). NULL when out of memory. */
char *http_metrics_render(http_metrics *metrics, size_t *len);

#endif
