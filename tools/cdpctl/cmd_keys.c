/* cdpctl keys: key management. `rotate` closes a region's key epoch. (API keys: `create`,
 * `list` and `revoke` arrive with the HTTP server.) */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char keys_usage[] =
    "usage: cdpctl keys rotate --data DIR --region R\n"
    "  Closes the region's key epoch: re-wraps every person's data key under a new KEK, moves\n"
    "  the identity index to a new blind-index key, then destroys the old keys. Copies of the\n"
    "  store made before (backups, copied directories) can no longer be decrypted.\n";

static int keys_rotate(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *region = NULL;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'h':
            fputs(keys_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("keys rotate", keys_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error("keys rotate", keys_usage, "unexpected argument");
    if (data_dir == NULL || region == NULL)
        return cli_usage_error("keys rotate", keys_usage, "--data DIR and --region R are required");
    cdp_t *db = NULL;
    cdp_status status = cdp_open(data_dir, NULL, &db);
    if (status == CDP_OK) {
        uint32_t epoch = 0;
        size_t rewrapped = 0;
        status = cdp_close_epoch(db, region, &epoch, &rewrapped);
        if (status == CDP_OK)
            printf("{\"region\": \"%s\", \"epoch\": %u, \"rewrapped\": %zu}\n", region, epoch,
                   rewrapped);
    }
    int code = status == CDP_OK ? EXIT_OK : cli_fail("keys rotate", status, cdp_errmsg(db));
    cdp_close(db);
    return code;
}

int cmd_keys(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(keys_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "rotate") == 0)
        return keys_rotate(argc - 1, argv + 1);
    return cli_usage_error("keys", keys_usage, "unknown keys command");
}
