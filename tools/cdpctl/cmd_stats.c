/* cdpctl stats: what the store holds, per region and in total (cdp_stats: exact counts from
 * key-only scans, no personal data read), as a table for a person or JSON for a script. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char stats_verb[] = "stats";

static const char stats_usage[] =
    "usage: cdpctl stats --data DIR [--json]\n"
    "  Prints per region and in total: people (profiles held), events, merges (profiles merged\n"
    "  into another person, kept for their events), erasures (completed, from the erasure\n"
    "  ledger), suppressed identifiers, consent and merge records, identity index entries,\n"
    "  audit records held and bytes on disk. Counts are exact (key-only scans: nothing is\n"
    "  decrypted; the time grows with the store). --json: one JSON object\n"
    "  {\"exact\": true, \"regions\": [{\"region\", \"people\", ...}], \"totals\": {...}}.\n"
    "  Read as the local operator (role admin) and audited (admin.stats).\n"
    "  Exit 0 printed; 1 runtime failure; 2 bad usage or no such data directory.\n";

/* The table's columns: JSON field, heading. */
static const struct {
    const char *field, *heading;
} columns[] = {
    {"people", "people"},
    {"events", "events"},
    {"merges", "merges"},
    {"erasures", "erasures"},
    {"suppressed_identifiers", "suppressed"},
    {"consent_records", "consent"},
    {"audit_records", "audit"},
    {"bytes_on_disk", "bytes"},
};
#define COLUMNS (sizeof columns / sizeof columns[0])

static void print_row(const char *name, json_t *row) {
    printf("%-8s", name);
    for (size_t i = 0; i < COLUMNS; i++)
        printf(" %12" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(row, columns[i].field)));
    printf("\n");
}

static int print_table(const char *json) {
    json_t *root = json_loads(json, 0, NULL);
    if (root == NULL)
        return cli_fail(stats_verb, CDP_INTERNAL, "the statistics are not JSON");
    printf("%-8s", "region");
    for (size_t i = 0; i < COLUMNS; i++)
        printf(" %12s", columns[i].heading);
    printf("\n");
    size_t index;
    json_t *region;
    json_array_foreach(json_object_get(root, "regions"), index, region) {
        print_row(json_string_value(json_object_get(region, "region")), region);
    }
    print_row("total", json_object_get(root, "totals"));
    printf("(exact counts; bytes: files on disk)\n");
    json_decref(root);
    return EXIT_OK;
}

int cmd_stats(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL;
    int as_json = 0, option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(stats_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(stats_verb, stats_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error(stats_verb, stats_usage, "unexpected argument");
    if (data_dir == NULL || *data_dir == '\0')
        return cli_usage_error(stats_verb, stats_usage, "--data DIR is required");
    cdp_t *db = NULL;
    cdp_actor actor;
    int code = cli_open_as(stats_verb, data_dir, CDP_ROLE_ADMIN, &db, &actor);
    if (code != EXIT_OK)
        return code;
    char *json = NULL;
    cdp_status status = cdp_stats(db, &actor, &json);
    if (status != CDP_OK)
        code = cli_fail(stats_verb, status, cdp_errmsg(db));
    else if (as_json)
        printf("%s\n", json);
    else
        code = print_table(json);
    cdp_free(json);
    cdp_close(db);
    return code;
}
