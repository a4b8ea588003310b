/* The HTTP server of shared/API.md over libmicrohttpd: start it on an open handle, stop it
 * gracefully. Used by `cdpctl serve`; everything it does goes through include/cdp/cdp.h. */
#ifndef CDP_HTTP_SERVER_H
#define CDP_HTTP_SERVER_H

#include <stddef.h>

#include "cdp/cdp.h"

typedef struct cdp_http_server cdp_http_server;

#define CDP_HTTP_DEFAULT_LISTEN "127.0.0.1:8080"
/* Ingest handlers wait on a synced WAL write, so more threads than cores pays. */
#define CDP_HTTP_DEFAULT_THREADS 4
#define CDP_HTTP_DEFAULT_DRAIN_SECONDS 10

typedef struct cdp_http_options {
    const char *listen;     /* "HOST:PORT" or "[V6]:PORT"; port 0 picks a free port */
    unsigned threads;       /* worker threads (thread pool); 0: the default */
    const char *roles_file; /* DIR/policies/roles.json for rate limits; NULL: defaults */
    unsigned drain_seconds; /* how long stop waits for requests in flight; 0: the default */
} cdp_http_options;

void cdp_http_options_default(cdp_http_options *options);

/* Starts serving db (borrowed until cdp_http_stop returns) on its own threads. On failure
 * returns CDP_BAD_REQUEST (bad listen address or roles file) or CDP_IO (cannot listen) with the
 * reason in error. Caller owns *out (free with cdp_http_stop). Calls json_object_seed(0). */
cdp_status cdp_http_start(cdp_t *db, const cdp_http_options *options, cdp_http_server **out,
                          char *error, size_t error_cap);

/* The port actually listened on (useful with port 0). */
unsigned cdp_http_port(const cdp_http_server *server);

/* Graceful stop: stops accepting connections, lets requests in flight finish (up to the drain
 * time; new requests on open connections are answered with Connection: close), then closes
 * every connection and frees the server. Does not close db. Accepts NULL. */
void cdp_http_stop(cdp_http_server *server);

/* The route table as JSON, one object per route in matching order: method, pattern, roles
 * (names; empty when unauthenticated), authenticated, basic_auth, purpose, body. For tests and
 * operators (`cdpctl serve --list-routes`), so checks follow the table. Caller owns the string
 * (free with free()); NULL when out of memory. */
char *cdp_http_routes_describe(void);

#endif
