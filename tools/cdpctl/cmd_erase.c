/* cdpctl erase: erases a person and prints the signed receipt; `erase verify` checks a receipt
 * offline; `erase lift` lifts the suppression of an identifier (DPO). The physical purge runs
 * before the receipt is printed, so a printed receipt means nothing of the person is left in
 * the live files. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "util/crashpoint.h"

#define RECEIPT_FILE_MAX (1u << 20)

static const char erase_usage[] =
    "usage: cdpctl erase --data DIR --id TYPE:VALUE [--request-id ID] [--json]\n"
    "       cdpctl erase verify --pubkey HEX [--json] FILE\n"
    "       cdpctl erase lift --data DIR --id TYPE:VALUE [--json]\n"
    "  erase: erases the whole merged person the identifier names (email:, phone:, user_id:,\n"
    "    anonymous_id:, device_id:, an external id type, or profile:<id>): data keys, profiles,\n"
    "    events, consent, merge history and identity index, purged physically; suppresses the\n"
    "    identifiers against re-ingestion; prints the receipt signed with the region's audit key.\n"
    "    --request-id: the data-subject request's id ([A-Za-z0-9_.:-], at most 63; default: a\n"
    "    new UUID). Erasing an erased person again prints the stored receipt.\n"
    "  verify: checks a receipt offline against the region's audit public key (cdpctl audit\n"
    "    pubkey); exit 0 only if it is intact and signed by that key.\n"
    "  lift: lifts the suppression of an identifier (the person came back with fresh consent).\n"
    "  --json: erase prints the receipt compact on one line; verify prints {\"valid\": true}\n"
    "    (a bad receipt: {\"valid\": false, \"code\", \"message\"}, exit 2); lift prints\n"
    "    {\"id\", \"suppressed\": false}. On a terminal, erase shows its phases on stderr.\n";

static int erase_verify(int argc, char **argv) {
    static const struct option options[] = {
        {"pubkey", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pubkey = NULL;
    int option, as_json = 0;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'k') {
            pubkey = optarg;
        } else if (option == 'j') {
            as_json = 1;
        } else if (option == 'h') {
            fputs(erase_usage, stdout);
            return EXIT_OK;
        } else {
            return cli_usage_error("erase verify", erase_usage, "unknown or incomplete option");
        }
    }
    if (pubkey == NULL || optind != argc - 1)
        return cli_usage_error("erase verify", erase_usage, "--pubkey HEX and one FILE needed");
    FILE *file = fopen(argv[optind], "rb");
    if (file == NULL) {
        fprintf(stderr, "cdpctl erase verify: %s: cannot open\n", argv[optind]);
        return EXIT_USAGE;
    }
    char *text = malloc(RECEIPT_FILE_MAX);
    size_t len = text != NULL ? fread(text, 1, RECEIPT_FILE_MAX, file) : 0;
    int too_big = text != NULL && len == RECEIPT_FILE_MAX;
    fclose(file);
    if (text == NULL || too_big) {
        free(text);
        fprintf(stderr, "cdpctl erase verify: %s\n",
                too_big ? "receipt file too large" : "out of memory");
        return too_big ? EXIT_USAGE : EXIT_RUNTIME;
    }
    cdp_status status = cdp_receipt_verify(text, len, pubkey);
    free(text);
    if (status != CDP_OK) {
        fprintf(stderr, "cdpctl erase verify: %s (%s)\n", cdp_errmsg(NULL),
                cdp_status_code(status));
        if (as_json)
            cli_print_json(json_pack("{s:b, s:s, s:s}", "valid", 0, "code",
                                     cdp_status_code(status), "message", cdp_errmsg(NULL)));
        /* A receipt that fails is bad input, not a failure of the tool. */
        return status == CDP_NOMEM || status == CDP_INTERNAL ? EXIT_RUNTIME : EXIT_USAGE;
    }
    if (as_json)
        return cli_print_json(json_pack("{s:b}", "valid", 1));
    printf("receipt OK\n");
    return EXIT_OK;
}

int cmd_erase(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"id", required_argument, NULL, 'i'},
        {"request-id", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int lift = 0, as_json = 0;
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return erase_verify(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "lift") == 0) {
        lift = 1;
        argc--;
        argv++;
    }
    const char *verb = lift ? "erase lift" : "erase";
    const char *data_dir = NULL, *ref = NULL, *request_id = NULL;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'i':
            ref = optarg;
            break;
        case 'r':
            if (lift)
                return cli_usage_error(verb, erase_usage, "lift takes no --request-id");
            request_id = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(erase_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(verb, erase_usage, "unknown or incomplete option");
        }
    }
    if (data_dir == NULL || ref == NULL || optind != argc)
        return cli_usage_error(verb, erase_usage, "--data DIR and --id TYPE:VALUE are required");

    cdp_t *db = NULL;
    cdp_actor actor;
    char *receipt = NULL;
    int code = EXIT_OK;
    cdp_status status = CDP_OK;
    code = cli_open_as(verb, data_dir, CDP_ROLE_DPO, &db, &actor);
    if (code != EXIT_OK)
        goto done;
    if (lift) {
        status = cdp_suppression_lift(db, &actor, ref);
        if (status == CDP_OK) {
            fprintf(stderr, "cdpctl erase lift: %s is no longer suppressed\n", ref);
            if (as_json)
                code = cli_print_json(json_pack("{s:s, s:b}", "id", ref, "suppressed", 0));
        } else /* not suppressed is a fact about the data, not bad usage */
            code = cli_fail_subject(verb, status, cdp_errmsg(db));
        goto done;
    }
    cli_progress progress;
    cli_progress_begin(&progress, verb, "people erased", 1, 0);
    cli_progress_phase(&progress, "erasing (keys, records, index, suppression, receipt)");
    cli_progress_tick(&progress);
    status = cdp_erase(db, &actor, ref, request_id, &receipt);
    if (status == CDP_OK) {
        progress.done = 1;
        cli_progress_phase(&progress, "purging (flush and compaction of every column family)");
    }
    if (status != CDP_OK) {
        cli_progress_phase(&progress, "failed");
        cli_progress_end(&progress);
        /* API.md: an unknown person is a runtime failure (1); a malformed ref is bad input (2). */
        code = cli_fail_subject(verb, status, cdp_errmsg(db));
        goto done;
    }
    status = cdp_erase_purge(db);
    cli_progress_phase(&progress, status == CDP_OK ? "erased and purged" : "purge failed");
    cli_progress_end(&progress);
    if (status != CDP_OK) {
        /* The erasure itself is done and recorded; the purge completes at the next open. */
        code = cli_fail(verb, status, cdp_errmsg(db));
        goto done;
    }
    cdp_crash_point("before_receipt");
    if (as_json) {
        code = cli_print_json_text(receipt);
    } else {
        printf("%s\n", receipt);
        if (fflush(stdout) != 0)
            code = EXIT_RUNTIME;
    }
done:
    cdp_free(receipt);
    cdp_close(db);
    return code;
}
