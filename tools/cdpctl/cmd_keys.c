/* cdpctl keys: API keys (`create`, `list`, `revoke`) and key epochs (`rotate`). An API key is
 * printed once, at creation; only its hash is stored (DIR/apikeys). The API-key verbs work on
 * the key file without opening the data directory, so they also work while `cdpctl serve`
 * holds it open (RocksDB allows one process per directory), and a running server picks the
 * change up on the next request. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api/apikeys.h"
#include "cli.h"
#include "progress.h"

static const char keys_usage[] =
    "usage: cdpctl keys create --data DIR --role ROLE [--region R] [--source NAME]\n"
    "                          [--purposes P,...] [--json]\n"
    "       cdpctl keys list --data DIR [--json]\n"
    "       cdpctl keys revoke --data DIR --id KEY_ID [--json]\n"
    "       cdpctl keys rotate --data DIR --region R [--json]\n"
    "  create: prints a new API key on stdout, once. ROLE: ingest, personalization, dpo,\n"
    "    auditor, admin. --region: the key's region (default: the policy's default region).\n"
    "    --source: the channel of an ingest key (web, ios, pos, ...). --purposes: the only\n"
    "    purposes the key may state (default: all its role allows). --json: prints\n"
    "    {\"key\", \"key_id\", \"role\", \"region\", \"source\"} instead of the bare key.\n"
    "  list: the keys as JSON (id, role, region, source, purposes, created_at, revoked).\n"
    "  revoke: the key stops working at once, in running servers too. --json: prints\n"
    "    {\"key_id\", \"revoked\": true}.\n"
    "  rotate: closes the region's key epoch: re-wraps every person's data key under a new\n"
    "    KEK, moves the identity index to a new blind-index key, then destroys the old keys.\n"
    "    Copies of the store made before (backups, copied directories) can no longer be\n"
    "    decrypted. Prints {\"region\", \"epoch\", \"rewrapped\"}; on a terminal, a progress\n"
    "    line on stderr while it runs.\n"
    "  list and rotate print JSON always; --json is accepted for uniformity.\n";

/* The options every keys verb shares; each verb says which ones it takes. */
typedef struct keys_args {
    const char *data_dir, *region, *role, *source, *purposes, *key_id;
    int json;
} keys_args;

enum { TAKES_REGION = 1, TAKES_ROLE = 2, TAKES_SOURCE = 4, TAKES_PURPOSES = 8, TAKES_ID = 16 };

/* Parses argv into *args; returns -1 after printing the usage error. */
static int parse_keys_args(const char *verb, int argc, char **argv, unsigned takes, keys_args *args,
                           int *exit_code) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},     {"region", required_argument, NULL, 'r'},
        {"role", required_argument, NULL, 'o'},     {"source", required_argument, NULL, 's'},
        {"purposes", required_argument, NULL, 'p'}, {"id", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        unsigned needed = option == 'r'   ? TAKES_REGION
                          : option == 'o' ? TAKES_ROLE
                          : option == 's' ? TAKES_SOURCE
                          : option == 'p' ? TAKES_PURPOSES
                          : option == 'i' ? TAKES_ID
                                          : 0;
        if (needed != 0 && !(takes & needed)) {
            *exit_code = cli_usage_error(verb, keys_usage, "option not taken by this command");
            return -1;
        }
        switch (option) {
        case 'd':
            args->data_dir = optarg;
            break;
        case 'r':
            args->region = optarg;
            break;
        case 'o':
            args->role = optarg;
            break;
        case 's':
            args->source = optarg;
            break;
        case 'p':
            args->purposes = optarg;
            break;
        case 'i':
            args->key_id = optarg;
            break;
        case 'j':
            args->json = 1;
            break;
        case 'h':
            fputs(keys_usage, stdout);
            *exit_code = EXIT_OK;
            return -1;
        default:
            *exit_code = cli_usage_error(verb, keys_usage, "unknown or incomplete option");
            return -1;
        }
    }
    if (optind < argc) {
        *exit_code = cli_usage_error(verb, keys_usage, "unexpected argument");
        return -1;
    }
    if (args->data_dir == NULL) {
        *exit_code = cli_usage_error(verb, keys_usage, "--data DIR is required");
        return -1;
    }
    return 0;
}

/* Refuses a path that is not a data directory, as cdp_open would (exit 2). */
static int check_data_dir(const char *verb, const char *data_dir) {
    char path[4096];
    struct stat info;
    snprintf(path, sizeof path, "%s/FORMAT", data_dir);
    if (stat(path, &info) == 0)
        return EXIT_OK;
    snprintf(path, sizeof path, "%s: no such data directory (cdpctl init)", data_dir);
    return cli_fail(verb, CDP_NOT_FOUND, path);
}

static int keys_create(int argc, char **argv) {
    keys_args args;
    int code = EXIT_OK;
    if (parse_keys_args("keys create", argc, argv,
                        TAKES_REGION | TAKES_ROLE | TAKES_SOURCE | TAKES_PURPOSES, &args,
                        &code) != 0)
        return code;
    cdp_role role;
    if (args.role == NULL)
        return cli_usage_error("keys create", keys_usage, "--role ROLE is required");
    if (cdp_role_parse(args.role, &role) != CDP_OK) {
        fprintf(stderr,
                "cdpctl keys create: --role: unknown role \"%s\" (ingest, personalization, "
                "dpo, auditor, admin)\n",
                args.role);
        return EXIT_USAGE;
    }
    code = check_data_dir("keys create", args.data_dir);
    if (code != EXIT_OK)
        return code;
    char policy_dir[4096];
    snprintf(policy_dir, sizeof policy_dir, "%s/policies", args.data_dir);
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    char *secret = NULL;
    cdp_actor info;
    cdp_status status = cdp_policy_load(policy_dir, &policy, &err);
    if (status == CDP_OK)
        status = cdp_apikeys_create_at(args.data_dir, policy, role, args.region, args.source,
                                       args.purposes, &secret, &info, &err);
    if (status == CDP_OK) {
        if (args.json)
            cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", secret, "key_id",
                                     info.key_id, "role", cdp_role_name(info.role), "region",
                                     info.region, "source", info.source));
        else
            printf("%s\n", secret);
        fflush(stdout);
        fprintf(stderr, "cdpctl keys create: key %s (role %s, region %s%s%s); shown once\n",
                info.key_id, cdp_role_name(info.role), info.region,
                info.source[0] ? ", source " : "", info.source);
    }
    code = status == CDP_OK ? EXIT_OK : cli_fail("keys create", status, err.message);
    cdp_free(secret);
    cdp_policy_free(policy);
    return code;
}

static int keys_list(int argc, char **argv) {
    keys_args args;
    int code = EXIT_OK;
    if (parse_keys_args("keys list", argc, argv, 0, &args, &code) != 0)
        return code;
    code = check_data_dir("keys list", args.data_dir);
    if (code != EXIT_OK)
        return code;
    cdp_err err = {0};
    char *json = NULL;
    cdp_status status = cdp_apikeys_list_at(args.data_dir, &json, &err);
    if (status == CDP_OK)
        printf("%s\n", json);
    code = status == CDP_OK ? EXIT_OK : cli_fail("keys list", status, err.message);
    cdp_free(json);
    return code;
}

static int keys_revoke(int argc, char **argv) {
    keys_args args;
    int code = EXIT_OK;
    if (parse_keys_args("keys revoke", argc, argv, TAKES_ID, &args, &code) != 0)
        return code;
    if (args.key_id == NULL)
        return cli_usage_error("keys revoke", keys_usage, "--id KEY_ID is required");
    code = check_data_dir("keys revoke", args.data_dir);
    if (code != EXIT_OK)
        return code;
    cdp_err err = {0};
    cdp_status status = cdp_apikeys_revoke_at(args.data_dir, args.key_id, &err);
    if (status == CDP_OK) {
        fprintf(stderr, "cdpctl keys revoke: key %s revoked\n", args.key_id);
        if (args.json)
            cli_print_json(json_pack("{s:s, s:b}", "key_id", args.key_id, "revoked", 1));
    }
    code = status == CDP_OK ? EXIT_OK : cli_fail("keys revoke", status, err.message);
    return code;
}

static int keys_rotate(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
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
        case 'j': /* the answer is JSON already */
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
        /* The re-wrap runs inside one library call: the line shows the people to re-wrap
         * (the region's data keys) and the time, then the count done. */
        cli_progress progress;
        uint64_t total = 0;
        cli_progress_begin(&progress, "keys rotate", "data keys re-wrapped", 0, 0);
        if (progress.enabled && cli_region_count(db, region, "data_keys", &total) == EXIT_OK)
            progress.total = total;
        cli_progress_phase(&progress, "re-wrapping");
        cli_progress_tick(&progress);
        status = cdp_close_epoch(db, region, &epoch, &rewrapped);
        progress.done = rewrapped;
        cli_progress_phase(&progress, status == CDP_OK ? "done" : "failed");
        cli_progress_end(&progress);
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
    if (strcmp(argv[1], "create") == 0)
        return keys_create(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return keys_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke") == 0)
        return keys_revoke(argc - 1, argv + 1);
    if (strcmp(argv[1], "rotate") == 0)
        return keys_rotate(argc - 1, argv + 1);
    return cli_usage_error("keys", keys_usage, "unknown keys command");
}
