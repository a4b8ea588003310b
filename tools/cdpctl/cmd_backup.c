/* cdpctl backup / restore: a consistent backup of a data directory (never the root key), and a
 * restore that applies again every erasure recorded after the backup before the store serves. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "progress.h"

static const char backup_usage[] =
    "usage: cdpctl backup --data DIR --out BACKUP_DIR [--json]\n"
    "  writes a consistent backup of every region (RocksDB checkpoints), the sealed keystore,\n"
    "  policies, API keys, the erasure ledger and a manifest. NOT the root key: keep it\n"
    "  separately; restoring needs the same root key. BACKUP_DIR must not exist or be empty.\n"
    "  --json: prints {\"backup\": BACKUP_DIR, \"bytes\": N, \"files\": N} on stdout. On a\n"
    "  terminal, progress (phase, elapsed time) on stderr.\n";

static const char restore_usage[] =
    "usage: cdpctl restore --from BACKUP_DIR --data DIR [--json]\n"
    "  restores a backup into DIR (the stopped data directory, or a new one holding at most\n"
    "  root.key, erasures.ledger and apikeys). The root key comes from CDP_ROOT_KEY or\n"
    "  DIR/root.key. Every erasure DIR's ledger records after the backup is applied again and\n"
    "  purged before the store serves; then every region's key epoch is closed.\n"
    "  --json: prints {\"restored\": DIR, \"from\": BACKUP_DIR} on stdout. On a terminal,\n"
    "  progress (phase, elapsed time) on stderr.\n";

/* Parses --data and one more required option (name, letter) into *data and *other. */
static int parse(int argc, char **argv, const char *verb, const char *usage,
                 const char *other_name, const char **data, const char **other, int *json) {
    const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {other_name, required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd') {
            *data = optarg;
        } else if (option == 'o') {
            *other = optarg;
        } else if (option == 'j') {
            *json = 1;
        } else if (option == 'h') {
            fputs(usage, stdout);
            return -1;
        } else {
            return cli_usage_error(verb, usage, "unknown or incomplete option");
        }
    }
    if (*data == NULL || *other == NULL || optind != argc) {
        char message[128];
        snprintf(message, sizeof message, "--data DIR and --%s DIR are required", other_name);
        return cli_usage_error(verb, usage, message);
    }
    return EXIT_OK;
}

int cmd_backup(int argc, char **argv) {
    const char *data_dir = NULL, *out = NULL;
    int as_json = 0;
    int code = parse(argc, argv, "backup", backup_usage, "out", &data_dir, &out, &as_json);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    cdp_t *db = NULL;
    cdp_status status = cdp_open(data_dir, NULL, &db);
    cli_progress progress;
    cli_progress_begin(&progress, "backup", "files", 0, 0);
    if (status == CDP_OK) {
        cli_progress_phase(&progress, "checkpointing every region");
        cli_progress_tick(&progress);
        status = cdp_backup(db, out);
    }
    uint64_t files = 0, bytes = 0;
    if (status == CDP_OK)
        cli_tree_size(out, &files, &bytes);
    progress.done = files;
    progress.bytes_done = bytes;
    cli_progress_phase(&progress, status == CDP_OK ? "written" : "failed");
    cli_progress_end(&progress);
    if (status != CDP_OK)
        code = cli_fail("backup", status, cdp_errmsg(db));
    else {
        fprintf(stderr, "cdpctl backup: %s written (the root key is not in it)\n", out);
        if (as_json)
            code = cli_print_json(json_pack("{s:s, s:I, s:I}", "backup", out, "bytes",
                                            (json_int_t)bytes, "files", (json_int_t)files));
    }
    cdp_close(db);
    return code;
}

int cmd_restore(int argc, char **argv) {
    const char *data_dir = NULL, *from = NULL;
    int as_json = 0;
    int code = parse(argc, argv, "restore", restore_usage, "from", &data_dir, &from, &as_json);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    cli_progress progress;
    cli_progress_begin(&progress, "restore", "files", 0, 0);
    cli_progress_phase(&progress, "copying, re-applying later erasures, closing key epochs");
    cli_progress_tick(&progress);
    cdp_status status = cdp_restore(from, data_dir);
    cli_progress_phase(&progress, status == CDP_OK ? "restored" : "failed");
    cli_progress_end(&progress);
    if (status != CDP_OK) {
        code = cli_fail("restore", status, cdp_errmsg(NULL));
        /* A missing backup is bad input; a ledger or directory conflict too. */
        if (status == CDP_CORRUPT || status == CDP_CONFLICT)
            code = EXIT_USAGE;
        return code;
    }
    fprintf(stderr, "cdpctl restore: %s restored into %s; later erasures applied again\n", from,
            data_dir);
    if (as_json)
        return cli_print_json(json_pack("{s:s, s:s}", "restored", data_dir, "from", from));
    return EXIT_OK;
}
