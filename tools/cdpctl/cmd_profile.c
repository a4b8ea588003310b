/* cdpctl profile: prints one person's profile as a stated purpose may see it, through the same
 * enforcement point as GET /v1/profiles/REF (so the read is audited). The operator at the
 * console acts with the dpo role: someone with the data directory and its root key is trusted
 * with the data already, and dpo is the role that answers for a person's data; the purpose
 * still decides what is shown. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char profile_verb[] = "profile";

static const char profile_usage[] =
    "usage: cdpctl profile --data DIR --purpose P --id TYPE:VALUE [--json]\n"
    "  Prints the profile (JSON) as purpose P may see it: traits the purpose may not see are\n"
    "  left out and counted in \"withheld\". TYPE:VALUE is an identifier (email:..., phone:...,\n"
    "  user_id:..., anonymous_id:..., device_id:..., an external id type) or profile:<id>.\n"
    "  The read is audited as the local operator (key id \"local\", role dpo).\n"
    "  Exit 0 printed; 1 no such person (\"not found\") or a runtime failure; 2 bad usage or a\n"
    "  malformed identifier. --json: the same JSON compact on one line (default: indented).\n";

int cmd_profile(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"purpose", required_argument, NULL, 'p'},
        {"id", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *purpose = NULL, *id = NULL;
    int option, as_json = 0;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'p':
            purpose = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(profile_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(profile_verb, profile_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error(profile_verb, profile_usage, "unexpected argument");
    if (data_dir == NULL || id == NULL)
        return cli_usage_error(profile_verb, profile_usage,
                               "--data DIR and --id TYPE:VALUE are required");
    if (purpose == NULL || *purpose == '\0')
        return cli_usage_error(profile_verb, profile_usage,
                               "--purpose P is required: personal data is read for a purpose");
    cdp_t *db = NULL;
    cdp_actor actor;
    char *json = NULL;
    int code;
    code = cli_open_as(profile_verb, data_dir, CDP_ROLE_DPO, &db, &actor);
    if (code != EXIT_OK)
        goto done;
    cdp_status status = cdp_profile_get(db, &actor, purpose, id, &json);
    if (status != CDP_OK) {
        code = cli_fail_subject(profile_verb, status, cdp_errmsg(db));
        goto done;
    }
    /* Indented for a person at a terminal; the library's text is compact. */
    json_t *parsed = json_loads(json, 0, NULL);
    char *pretty = parsed ? json_dumps(parsed, (as_json ? JSON_COMPACT : JSON_INDENT(2)) |
                                                   JSON_PRESERVE_ORDER)
                          : NULL;
    printf("%s\n", pretty ? pretty : json);
    free(pretty);
    json_decref(parsed);
    code = EXIT_OK;
done:
    cdp_free(json);
    cdp_close(db);
    return code;
}
