/* The libmicrohttpd daemon: start, the per-request life cycle (first call: route and check;
 * upload calls: accumulate the body; last call: answer; completed: metrics and free) and the
 * graceful stop. Answers always go out on a call after the first: answering on the first call
 * makes libmicrohttpd 0.9.75 close keep-alive connections (shared/LIBRARIES.md). */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

#define CONNECTION_TIMEOUT_SECONDS 30u
#define CONNECTION_LIMIT 1024u
#define CONNECTION_MEMORY_LIMIT ((size_t)64 * 1024)
#define LISTEN_BACKLOG 1024u

void cdp_http_options_default(cdp_http_options *options) {
    memset(options, 0, sizeof *options);
    options->listen = CDP_HTTP_DEFAULT_LISTEN;
    options->threads = CDP_HTTP_DEFAULT_THREADS;
    options->drain_seconds = CDP_HTTP_DEFAULT_DRAIN_SECONDS;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The last call of a request with a body: turn the body's state into an answer or run the
 * handler. */
static enum MHD_Result answer_with_body(http_request *request) {
    switch (http_body_finish(&request->body)) {
    case HTTP_BODY_OK:
        break;
    case HTTP_BODY_TOO_LARGE:
        return http_respond_error(request, 413, "payload_too_large",
                                  request->body.gzip ? "body: larger than the limit once inflated"
                                                     : "body: larger than the limit");
    case HTTP_BODY_BAD_GZIP:
        return http_respond_error(request, 400, "bad_request",
                                  "body: Content-Encoding is gzip but the body is not valid gzip");
    case HTTP_BODY_NOMEM:
        return http_respond_error(request, 500, "internal", "internal error");
    }
    if (!http_utf8_valid(request->body.data, request->body.len))
        return http_respond_error(request, 400, "invalid_json",
                                  "body: not valid UTF-8 (JSON text must be UTF-8)");
    return request->route->handle(request);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_state) {
    cdp_http_server *server = cls;
    http_request *request = *request_state;
    (void)version;
    if (request == NULL) {
        request = calloc(1, sizeof *request);
        if (request == NULL)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &request->started);
        request->server = server;
        request->connection = connection;
        *request_state = request;
        http_metrics_in_flight(server->metrics, +1);
        http_route_request(request, method, url);
        /* A declared body over the limit is refused now rather than read and thrown away;
         * libmicrohttpd then closes the connection, which is what the client needs anyway. */
        if (request->pending_status == 413)
            return http_respond_pending(request);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (request->pending_status == 0 && request->reads_body)
            http_body_feed(&request->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (request->status_sent != 0)
        return MHD_YES;
    if (request->pending_status != 0)
        return http_respond_pending(request);
    if (request->reads_body)
        return answer_with_body(request);
    return request->route->handle(request);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_state,
                         enum MHD_RequestTerminationCode reason) {
    cdp_http_server *server = cls;
    http_request *request = *request_state;
    (void)connection, (void)reason;
    if (request == NULL)
        return;
    if (request->status_sent != 0)
        http_metrics_observe(server->metrics, request->route_index, request->status_sent,
                             seconds_since(&request->started));
    http_body_free(&request->body);
    free(request);
    *request_state = NULL;
    http_metrics_in_flight(server->metrics, -1);
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    cdp_http_server *server = cls;
    (void)connection, (void)socket_context;
    http_metrics_connections(server->metrics, code == MHD_CONNECTION_NOTIFY_STARTED ? +1 : -1);
}

/* Leaves the URL as received: the router splits the path before decoding its parts. */
static size_t unescape_nothing(void *cls, struct MHD_Connection *connection, char *text) {
    (void)cls, (void)connection;
    return strlen(text);
}

/* libmicrohttpd's own error lines (bind failures, but also clients sending garbage). At most
 * LOG_BURST lines per minute reach stderr, so a misbehaving client cannot flood the log. */
#define LOG_BURST 10
static void log_daemon_error(void *cls, const char *format, va_list args) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static time_t window;
    static unsigned printed, suppressed;
    (void)cls;
    time_t now = time(NULL);
    pthread_mutex_lock(&lock);
    if (now - window >= 60) {
        if (suppressed > 0)
            fprintf(stderr, "cdpctl serve: (%u more libmicrohttpd messages suppressed)\n",
                    suppressed);
        window = now;
        printed = suppressed = 0;
    }
    if (printed < LOG_BURST) {
        printed++;
        fputs("cdpctl serve: ", stderr);
        vfprintf(stderr, format, args);
    } else {
        suppressed++;
    }
    pthread_mutex_unlock(&lock);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *address,
                        socklen_t *address_len, char *error, size_t error_cap) {
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    char *end = NULL;
    unsigned long number = strtoul(port, &end, 10);
    if (*port == '\0' || *end != '\0' || number > 65535)
        goto bad;
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int result = getaddrinfo(host[0] ? host : NULL, port, &hints, &found);
    if (result != 0) {
        snprintf(error, error_cap, "--listen %s: %s", listen, gai_strerror(result));
        return -1;
    }
    memcpy(address, found->ai_addr, found->ai_addrlen);
    *address_len = found->ai_addrlen;
    freeaddrinfo(found);
    return 0;
bad:
    snprintf(error, error_cap, "--listen %s: expected HOST:PORT or [IPV6]:PORT", listen);
    return -1;
}

cdp_status cdp_http_start(cdp_t *db, const cdp_http_options *options, cdp_http_server **out,
                          char *error, size_t error_cap) {
    cdp_http_options defaults;
    struct sockaddr_storage address;
    socklen_t address_len = 0;
    http_rate rates[HTTP_ROLE_SLOTS];
    cdp_status status = CDP_OK;
    *out = NULL;
    if (options == NULL) {
        cdp_http_options_default(&defaults);
        options = &defaults;
    }
    if (parse_listen(options->listen ? options->listen : CDP_HTTP_DEFAULT_LISTEN, &address,
                     &address_len, error, error_cap) != 0)
        return CDP_BAD_REQUEST;
    if (http_rates_load(options->roles_file, rates, error, error_cap) != 0)
        return CDP_BAD_REQUEST;
    cdp_http_server *server = calloc(1, sizeof *server);
    if (server == NULL) {
        snprintf(error, error_cap, "out of memory");
        return CDP_NOMEM;
    }
    server->db = db;
    server->drain_seconds =
        options->drain_seconds ? options->drain_seconds : CDP_HTTP_DEFAULT_DRAIN_SECONDS;
    unsigned char random[4] = {0};
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
        memset(random, 0, sizeof random);
    snprintf(server->request_id_prefix, sizeof server->request_id_prefix, "%02x%02x%02x%02x",
             random[0], random[1], random[2], random[3]);
    const char **labels = calloc(2 * http_route_count + 1, sizeof *labels);
    for (size_t i = 0; labels != NULL && i < http_route_count; i++) {
        labels[i] = http_routes[i].method;
        labels[http_route_count + i] = http_routes[i].pattern;
    }
    if (labels != NULL)
        server->metrics = http_metrics_new(http_route_count, labels, labels + http_route_count);
    free(labels);
    server->limiter = http_ratelimiter_new(rates);
    if (server->metrics == NULL || server->limiter == NULL) {
        snprintf(error, error_cap, "out of memory");
        status = CDP_NOMEM;
        goto fail;
    }
    /* jansson's hashtable seed must be set before any thread creates an object. */
    json_object_seed(0);
    unsigned threads = options->threads ? options->threads : CDP_HTTP_DEFAULT_THREADS;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server,
        /* First, or libmicrohttpd warns that earlier options may log through its own logger. */
        MHD_OPTION_EXTERNAL_LOGGER, log_daemon_error, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&address,
        /* One thread: no pool (libmicrohttpd warns about a pool of one and ignores it). */
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_CONNECTION_LIMIT,
        threads > 1 ? threads : CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        CONNECTION_TIMEOUT_SECONDS, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_LIMIT, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        LISTEN_BACKLOG, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, server, MHD_OPTION_UNESCAPE_CALLBACK, unescape_nothing, NULL,
        MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(error, error_cap, "cannot listen on %s (address in use, or not local?)",
                 options->listen ? options->listen : CDP_HTTP_DEFAULT_LISTEN);
        status = CDP_IO;
        goto fail;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : 0;
    *out = server;
    return CDP_OK;
fail:
    http_ratelimiter_free(server->limiter);
    http_metrics_free(server->metrics);
    free(server);
    return status;
}

unsigned cdp_http_port(const cdp_http_server *server) { return server ? server->port : 0; }

void cdp_http_stop(cdp_http_server *server) {
    if (server == NULL)
        return;
    atomic_store(&server->draining, 1);
    /* Stop accepting: the listening socket is handed back to us to close. Open connections
     * keep being served until their requests in flight are done. */
    MHD_socket listener = MHD_quiesce_daemon(server->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    struct timespec started, pause = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &started);
    while (http_metrics_in_flight(server->metrics, 0) > 0 &&
           seconds_since(&started) < (double)server->drain_seconds)
        nanosleep(&pause, NULL);
    MHD_stop_daemon(server->daemon);
    http_ratelimiter_free(server->limiter);
    http_metrics_free(server->metrics);
    free(server);
}
