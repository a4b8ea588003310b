/* cdpctl dsr list: the data-subject requests and their status; cdpctl rectify: rectification
 * (GDPR Art. 16) by the local DPO. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char dsr_usage[] =
    "usage: cdpctl dsr list --data DIR [--json]\n"
    "  Prints {\"requests\": [...]}: every data-subject request (OpenGDPR / OpenDSR) with its\n"
    "  type, regulation, request_status, times and due date. No identifier is ever stored.\n"
    "  The answer is JSON always; --json prints it compact on one line.\n";

static const char rectify_usage[] =
    "usage: cdpctl rectify --data DIR --id TYPE:VALUE --traits JSON [--json]\n"
    "  Sets the corrected traits (a JSON object) on the person and rewrites their stored events\n"
    "  so the old values are gone. Prints {\"profile_id\", \"rectified\", \"events_rewritten\"}.\n"
    "  Audited as the local DPO (\"dsr.rectify\"). The answer is JSON always (--json is accepted).\n";

int cmd_dsr(int argc, char **argv) {
    static const struct option options[] = {{"data", required_argument, NULL, 'd'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "list") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(dsr_usage, stdout);
            return EXIT_OK;
        }
        return cli_usage_error("dsr", dsr_usage, "expected a subcommand: list");
    }
    const char *data_dir = NULL;
    int option, as_json = 0;
    optind = 1;
    opterr = 0;
    argc--;
    argv++;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd')
            data_dir = optarg;
        else if (option == 'j')
            as_json = 1;
        else if (option == 'h') {
            fputs(dsr_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("dsr", dsr_usage, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("dsr", dsr_usage, "unexpected argument");
    if (data_dir == NULL)
        return cli_usage_error("dsr", dsr_usage, "--data is required");
    cdp_t *db;
    cdp_actor actor;
    int code = cli_open_as("dsr", data_dir, CDP_ROLE_DPO, &db, &actor);
    if (db == NULL)
        return code;
    char *json = NULL;
    cdp_status status = cdp_dsr_list(db, &actor, &json);
    if (status != CDP_OK)
        code = cli_fail("dsr", status, cdp_errmsg(db));
    else if (as_json)
        code = cli_print_json_text(json);
    else
        printf("%s\n", json);
    cdp_free(json);
    cdp_close(db);
    return code;
}

int cmd_rectify(int argc, char **argv) {
    static const struct option options[] = {{"data", required_argument, NULL, 'd'},
                                            {"id", required_argument, NULL, 'i'},
                                            {"traits", required_argument, NULL, 't'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *ref = NULL, *traits = NULL;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd')
            data_dir = optarg;
        else if (option == 'i')
            ref = optarg;
        else if (option == 't')
            traits = optarg;
        else if (option == 'j')
            continue; /* the answer is JSON already */
        else if (option == 'h') {
            fputs(rectify_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("rectify", rectify_usage, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("rectify", rectify_usage, "unexpected argument");
    if (data_dir == NULL || ref == NULL || traits == NULL)
        return cli_usage_error("rectify", rectify_usage, "--data, --id and --traits are required");
    cdp_t *db;
    cdp_actor actor;
    int code = cli_open_as("rectify", data_dir, CDP_ROLE_DPO, &db, &actor);
    if (db == NULL)
        return code;
    char *json = NULL;
    cdp_status status = cdp_rectify(db, &actor, ref, traits, &json);
    if (status != CDP_OK)
        code = cli_fail_subject("rectify", status, cdp_errmsg(db));
    else
        printf("%s\n", json);
    cdp_free(json);
    cdp_close(db);
    return code;
}
