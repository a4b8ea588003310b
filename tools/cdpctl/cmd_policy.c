/* cdpctl policy check: validates a policy bundle without creating or opening a data directory,
 * so a policy change can be vetted (in CI, before `init` or a restart) on its own. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char policy_usage[] =
    "usage: cdpctl policy check DIR [--json]\n"
    "  Validates the policy bundle in DIR (regions.json, the privacy files, identity.json,\n"
    "  audit.json) as the server would load it. Prints \"ok: N regions, ...\" and exits 0, or\n"
    "  prints every problem as \"file: path: reason\" on stderr and exits 2. --json: prints\n"
    "  {\"ok\": true, \"summary\": \"N regions, ...\"} or {\"ok\": false, \"problems\":\n"
    "  [\"file: path: reason\", ...]} on stdout (the exit codes stay the same).\n";

int cmd_policy(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(policy_usage, stdout);
        return EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0)
        return cli_usage_error("policy", policy_usage, "expected the subcommand \"check\"");
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(policy_usage, stdout);
            return EXIT_OK;
        }
    int as_json = 0;
    /* --json anywhere after "check": take it out, the rest is DIR. */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
            for (int j = i; j + 1 < argc; j++)
                argv[j] = argv[j + 1];
            argc--;
            break;
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
    if (as_json && (status == CDP_OK || status == CDP_BAD_POLICY)) {
        json_t *problems = json_array();
        for (const char *line = report; status != CDP_OK && line != NULL && *line != '\0';) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            if (len > 0)
                json_array_append_new(problems, json_stringn(line, len));
            line = end ? end + 1 : NULL;
        }
        if (status == CDP_OK) {
            json_decref(problems);
            code = cli_print_json(json_pack("{s:b, s:s}", "ok", 1, "summary", report));
        } else {
            fprintf(stderr, "%s\n", report);
            cli_print_json(json_pack("{s:b, s:o}", "ok", 0, "problems", problems));
            code = EXIT_USAGE;
        }
    } else if (status == CDP_OK) {
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
