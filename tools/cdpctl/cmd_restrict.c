/* cdpctl restrict: restriction of processing (GDPR Art. 18), set or lifted by the local DPO. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char restrict_usage[] =
    "usage: cdpctl restrict --data DIR --id TYPE:VALUE [--lift] [--json]\n"
    "  Restricts processing of the person (their data is kept but served for no purpose except\n"
    "  legal_obligation and the DPO's own access); --lift ends the restriction. Prints\n"
    "  {\"profile_id\", \"restricted\", \"changed\"} (JSON always; --json is accepted).\n"
    "  Audited as the local DPO.\n";

int cmd_restrict(int argc, char **argv) {
    static const struct option options[] = {{"data", required_argument, NULL, 'd'},
                                            {"id", required_argument, NULL, 'i'},
                                            {"lift", no_argument, NULL, 'l'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *ref = NULL;
    int lift = 0, option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd')
            data_dir = optarg;
        else if (option == 'i')
            ref = optarg;
        else if (option == 'l')
            lift = 1;
        else if (option == 'j')
            continue; /* the answer is JSON already */
        else if (option == 'h') {
            fputs(restrict_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("restrict", restrict_usage, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("restrict", restrict_usage, "unexpected argument");
    if (data_dir == NULL || ref == NULL)
        return cli_usage_error("restrict", restrict_usage, "--data and --id are required");
    cdp_t *db = NULL;
    cdp_actor actor;
    char *json = NULL;
    int code = cli_open_as("restrict", data_dir, CDP_ROLE_DPO, &db, &actor);
    if (code != EXIT_OK)
        return code;
    cdp_status status = cdp_restrict(db, &actor, ref, !lift, &json);
    if (status != CDP_OK)
        code = cli_fail_subject("restrict", status, cdp_errmsg(db));
    else
        printf("%s\n", json);
    cdp_free(json);
    cdp_close(db);
    return code;
}
