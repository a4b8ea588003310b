/* Private to cdp/http: the server state, the per-request state, the route table and the
 * helpers the request stages share (routing and auth, handlers, responses). */
#ifndef CDP_HTTP_HTTP_H
#define CDP_HTTP_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "cdp/cdp.h"
#include "http/body.h"
#include "http/metrics.h"
#include "http/ratelimit.h"
#include "http/server.h"

struct cdp_http_server {
    cdp_t *db;
    struct MHD_Daemon *daemon;
    http_metrics *metrics;
    http_ratelimiter *limiter;
    atomic_int draining; /* 1 once stop began: answers carry Connection: close */
    unsigned port;
    unsigned drain_seconds;
    char request_id_prefix[9]; /* random per server, so ids from two runs differ */
    atomic_ullong request_counter;
};

#define HTTP_ROLE(role) (1u << (role))

enum http_route_flags {
    HTTP_ROUTE_BASIC_AUTH = 1, /* the key may come as a Segment write key (HTTP Basic) */
    HTTP_ROUTE_PURPOSE = 2,    /* X-CDP-Purpose is required */
    HTTP_ROUTE_BODY = 4,       /* reads a JSON body (gzip allowed) of at most body_limit */
};

/* Inflated body limits of API.md (Segment's): one event, one batch. */
#define HTTP_EVENT_LIMIT (32u * 1024)
#define HTTP_BATCH_LIMIT (500u * 1024)

typedef struct http_request http_request;

typedef struct http_route {
    const char *method;    /* "GET", "POST", ... (HEAD is served as GET) */
    const char *pattern;   /* "/v1/profiles/{ref}/events": {ref} is one path segment */
    unsigned roles;        /* HTTP_ROLE(...) bits allowed; 0: no authentication */
    unsigned flags;        /* enum http_route_flags */
    size_t body_limit;     /* with HTTP_ROUTE_BODY */
    const char *type_hint; /* for cdp_ingest */
    enum MHD_Result (*handle)(http_request *request);
} http_route;

extern const http_route http_routes[];
extern const size_t http_route_count;

#define HTTP_PARAM_MAX 1024
#define HTTP_MESSAGE_MAX 512

struct http_request {
    cdp_http_server *server;
    struct MHD_Connection *connection;
    const http_route *route;        /* NULL: no route matched */
    size_t route_index;             /* http_route_count when none matched */
    char param[HTTP_PARAM_MAX + 1]; /* the {ref} segment, percent-decoded */
    cdp_actor actor;                /* the verified key (routes with roles) */
    http_body body;
    int reads_body;
    /* An answer decided from the headers alone (route, auth, limits), sent once the request is
     * complete so the connection stays usable. */
    unsigned pending_status; /* 0: none */
    const char *pending_code;
    char pending_message[HTTP_MESSAGE_MAX];
    char allow[64];       /* 405: the Allow header */
    unsigned retry_after; /* 429: the Retry-After header */
    char request_id[64];
    struct timespec started;
    unsigned status_sent; /* 0 until a response is queued */
};

/* ---- router.c: matching, authentication, limits --------------------------------------- */

/* Runs on the first call for a request: finds the route, authenticates, applies role, rate
 * and purpose checks and prepares the body. Any refusal is left in request->pending_*. */
void http_route_request(http_request *request, const char *method, const char *url);

/* ---- response.c ---------------------------------------------------------------------------- */

/* The HTTP status of a library status (API.md's table; 500 for the rest). */
unsigned http_status_for(cdp_status status);

/* Queues a response and records its status. Takes ownership of body, released with
 * free_body (NULL: body is static). */
/* Streams size bytes of fd (takes ownership of fd). */
enum MHD_Result http_respond_fd(http_request *request, unsigned status, const char *content_type,
                                int fd, uint64_t size);
enum MHD_Result http_respond(http_request *request, unsigned status, const char *content_type,
                             void *body, size_t len, void (*free_body)(void *));
/* {"error": {"code", "message"}}; message may be any bytes (escaped, invalid UTF-8 replaced). */
enum MHD_Result http_respond_error(http_request *request, unsigned status, const char *code,
                                   const char *message);
/* The error answer for a failed library call: its mapped status, its code and, for client
 * errors, cdp_errmsg(db); a generic message for internal ones (the detail goes to stderr). */
enum MHD_Result http_respond_failure(http_request *request, cdp_status status);
/* Records a refusal to send when the request completes. */
void http_refuse(http_request *request, unsigned status, const char *code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result http_respond_pending(http_request *request);

/* Appends text as a JSON string body (quotes included) into out (cap bytes); returns the
 * length written, truncating at a character boundary. */
size_t http_json_quote(char *out, size_t cap, const char *text, size_t len);

#endif
