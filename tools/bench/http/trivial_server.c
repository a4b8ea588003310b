/* The ceiling of tools/bench/http/run.sh: a libmicrohttpd daemon started with the same flags and
 * options as cdp/http/server.c whose only route answers every request with fixed bytes (a
 * profile GET response saved from cdp) and the same headers cdp sends, answering on the second
 * handler call as cdp does. What cdp serves below this is the cost of cdp itself.
 * usage: trivial_server BODY_FILE THREADS; prints "listening on http://127.0.0.1:PORT" on stderr
 * and runs until SIGINT or SIGTERM. Built by run.sh: cc -O2 trivial_server.c $(pkg-config --cflags
 * --libs libmicrohttpd). */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As cdp/http/server.c. */
#define CONNECTION_TIMEOUT_SECONDS 30u
#define CONNECTION_LIMIT 1024u
#define CONNECTION_MEMORY_LIMIT ((size_t)64 * 1024)
#define LISTEN_BACKLOG 1024u

static char *body;
static size_t body_len;
static atomic_ullong request_number;
static int first_call_marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_state) {
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    /* Answering on the first call makes libmicrohttpd 0.9.75 close keep-alive connections. */
    if (*request_state == NULL) {
        *request_state = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    char request_id[48];
    snprintf(request_id, sizeof request_id, "0badc0de-%llx",
             (unsigned long long)atomic_fetch_add(&request_number, 1) + 1);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(response, "Cache-Control", "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "X-Request-Id", request_id);
    enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_state,
                         enum MHD_RequestTerminationCode reason) {
    (void)cls, (void)connection, (void)reason;
    *request_state = NULL;
}

static size_t unescape_nothing(void *cls, struct MHD_Connection *connection, char *text) {
    (void)cls, (void)connection;
    return strlen(text);
}

static char *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    char *data = NULL;
    long size;
    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 &&
        fseek(file, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) != NULL) {
        *len = fread(data, 1, (size_t)size, file);
        if (*len != (size_t)size) {
            free(data);
            data = NULL;
        }
    }
    fclose(file);
    return data;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fputs("usage: trivial_server BODY_FILE THREADS\n", stderr);
        return 2;
    }
    unsigned threads = (unsigned)strtoul(argv[2], NULL, 10);
    if (threads < 1 || threads > 256) {
        fputs("trivial_server: THREADS: a number from 1 to 256\n", stderr);
        return 2;
    }
    body = read_file(argv[1], &body_len);
    if (body == NULL) {
        perror(argv[1]);
        return 1;
    }
    /* Block the stop signals before the daemon's threads start, so only sigwait sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_CONNECTION_LIMIT,
        threads > 1 ? threads : CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        CONNECTION_TIMEOUT_SECONDS, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_LIMIT, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        LISTEN_BACKLOG, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_nothing, NULL, MHD_OPTION_END);
    if (daemon == NULL) {
        fputs("trivial_server: cannot start the daemon\n", stderr);
        free(body);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "trivial_server: listening on http://127.0.0.1:%u (%u threads, %zu bytes)\n",
            info ? info->port : 0u, threads, body_len);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    MHD_stop_daemon(daemon);
    free(body);
    return 0;
}
