/* cdpctl serve: runs the HTTP server in the foreground until SIGINT or SIGTERM, then stops
 * gracefully (no new connections, requests in flight finish, the data directory is closed).
 * stderr gets one line at start and two at stop; requests are not logged. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http/server.h"

static const char serve_usage[] =
    "usage: cdpctl serve --data DIR [--listen HOST:PORT] [--threads N]\n"
    "  Serves the HTTP API of DIR until SIGINT or SIGTERM, then finishes the requests in\n"
    "  flight and closes DIR. --listen defaults to " CDP_HTTP_DEFAULT_LISTEN
    " (port 0: any free port,\n"
    "  printed at start); --threads to 4. Rate limits come from DIR/policies/roles.json.\n";

int cmd_serve(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"list-routes", no_argument, NULL, 'r'}, /* hidden: the route table as JSON, for tests */
        {NULL, 0, NULL, 0},
    };
    cdp_http_options http_options;
    cdp_http_options_default(&http_options);
    const char *data_dir = NULL;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'l':
            http_options.listen = optarg;
            break;
        case 't': {
            char *end = NULL;
            unsigned long threads = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || threads < 1 || threads > 256)
                return cli_usage_error("serve", serve_usage, "--threads: a number from 1 to 256");
            http_options.threads = (unsigned)threads;
            break;
        }
        case 'h':
            fputs(serve_usage, stdout);
            return EXIT_OK;
        case 'r': {
            char *routes = cdp_http_routes_describe();
            if (routes == NULL)
                return cli_fail("serve", CDP_NOMEM, "out of memory");
            puts(routes);
            free(routes);
            return EXIT_OK;
        }
        default:
            return cli_usage_error("serve", serve_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", serve_usage, "unexpected argument");
    if (data_dir == NULL)
        return cli_usage_error("serve", serve_usage, "--data DIR is required");

    /* Signals are taken by sigwait below; every thread started from here on (RocksDB's,
     * libmicrohttpd's) inherits the mask, so none of them is interrupted by them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char roles_file[4096];
    snprintf(roles_file, sizeof roles_file, "%s/policies/roles.json", data_dir);
    http_options.roles_file = roles_file;

    cdp_t *db = NULL;
    cdp_status status = cdp_open(data_dir, NULL, &db);
    if (status != CDP_OK) {
        int code = cli_fail("serve", status, cdp_errmsg(db));
        cdp_close(db);
        return code;
    }
    char error[512] = "";
    cdp_http_server *server = NULL;
    status = cdp_http_start(db, &http_options, &server, error, sizeof error);
    if (status != CDP_OK) {
        int code = cli_fail("serve", status, error);
        cdp_close(db);
        return code;
    }
    const char *listen = http_options.listen;
    const char *colon = strrchr(listen, ':');
    fprintf(stderr, "cdpctl serve: listening on http://%.*s:%u (data %s, %u threads)\n",
            (int)(colon - listen), listen, cdp_http_port(server), data_dir, http_options.threads);
    fflush(stderr);

    /* Wait for a stop signal, doing the periodic upkeep (audit checkpoints, retention) every
     * five seconds meanwhile. */
    int received = 0;
    for (;;) {
        struct timespec wait = {.tv_sec = 5, .tv_nsec = 0};
        received = sigtimedwait(&stop_signals, NULL, &wait);
        if (received == SIGINT || received == SIGTERM)
            break;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (cdp_maintain(db, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000) != CDP_OK)
            fprintf(stderr, "cdpctl serve: upkeep: %s\n", cdp_errmsg(db));
    }
    fprintf(stderr, "cdpctl serve: %s received, finishing requests in flight\n",
            received == SIGINT ? "SIGINT" : "SIGTERM");
    cdp_http_stop(server);
    cdp_close(db);
    fprintf(stderr, "cdpctl serve: stopped\n");
    return EXIT_OK;
}
