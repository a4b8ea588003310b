/* cdpctl init: creates a data directory (root key, keystore, policy copy, regions). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char init_usage[] =
    "usage: cdpctl init --data DIR [--policies DIR] [--json]\n"
    "  Creates DIR: a root key (DIR/root.key, mode 0600; or none when CDP_ROOT_KEY is set),\n"
    "  a sealed keystore, a copy of the policy bundle and one partition per region.\n"
    "  Refuses an existing DIR. --json: prints {\"data\": DIR, \"regions\": [...]} on stdout.\n";

int cmd_init(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"policies", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *policy_dir = NULL;
    int option, as_json = 0;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'p':
            policy_dir = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(init_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("init", init_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error("init", init_usage, "unexpected argument");
    if (data_dir == NULL)
        return cli_usage_error("init", init_usage, "--data DIR is required");

    cdp_options open_options;
    cdp_options_default(&open_options);
    open_options.create = 1;
    open_options.policy_dir = policy_dir;
    open_options.block_cache_bytes = 8u << 20;
    cdp_t *db = NULL;
    cdp_status status = cdp_open(data_dir, &open_options, &db);
    if (status != CDP_OK) {
        int code = cli_fail("init", status, cdp_errmsg(db));
        cdp_close(db);
        return code;
    }
    fprintf(stderr, "cdpctl init: created %s with regions", data_dir);
    for (size_t i = 0; i < cdp_region_count(db); i++)
        fprintf(stderr, " %s", cdp_region_id(db, i));
    fputc('\n', stderr);
    if (as_json) {
        json_t *regions = json_array();
        for (size_t i = 0; i < cdp_region_count(db); i++)
            json_array_append_new(regions, json_string(cdp_region_id(db, i)));
        cli_print_json(json_pack("{s:s, s:o}", "data", data_dir, "regions", regions));
    }
    cdp_close(db);
    return EXIT_OK;
}
