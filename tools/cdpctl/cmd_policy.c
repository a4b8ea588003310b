/* cdpctl policy check: validates a policy bundle without creating or opening a data directory,
 * so a policy change can be vetted (in CI, before `init` or a restart) on its own. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char policy_usage[] =
    "usage: cdpctl policy check DIR\n"
    "  Validates the policy bundle in DIR (regions.json, the privacy files, identity.json,\n"
    "  audit.json) as the server would load it. Prints \"ok: N regions, ...\" and exits 0, or\n"
    "  prints every problem as \"file: path: reason\" on stderr and exits 2.\n";

int cmd_policy(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(policy_usage, stdout);
        return EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0)
        return cli_usage_error("policy", policy_usage, "expected the subcommand \"check\"");
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(policy_usage, stdout);
        return EXIT_OK;
    }
    if (argc != 3)
        return cli_usage_error("policy check", policy_usage,
                               argc < 3 ? "DIR is required" : "unexpected argument");
    const char *dir = argv[2];
    if (*dir == '\0' || *dir == '-')
        return cli_usage_error("policy check", policy_usage, "DIR must be a directory path");
    char *report = NULL;
    cdp_status status = cdp_policy_check(dir, &report);
    int code = EXIT_OK;
    if (status == CDP_OK) {
        printf("ok: %s\n", report);
    } else if (status == CDP_BAD_POLICY) {
        /* The report is already one "file: path: reason" per line; nothing to add to them. */
        fprintf(stderr, "%s\n", report);
        code = EXIT_USAGE;
    } else {
        code = cli_fail("policy check", status, report);
    }
    cdp_free(report);
    return code;
}
