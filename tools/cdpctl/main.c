/* cdpctl: the command-line tool of shared/API.md. Dispatches to one function per verb. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: cdpctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  init --data DIR [--policies DIR]          create a data directory\n"
    "  keys create --data DIR --role ROLE [--region R] [--source NAME] [--purposes P,...]\n"
    "                                            create an API key; prints it once\n"
    "  keys list --data DIR                      list API keys (never their secrets)\n"
    "  keys revoke --data DIR --id KEY_ID        revoke an API key\n"
    "  keys rotate --data DIR --region R         close the region's key epoch: re-wrap every\n"
    "                                            data key, destroy the old keys\n"
    "  serve --data DIR [--listen HOST:PORT]     run the HTTP server until SIGINT/SIGTERM\n"
    "  audit export --data DIR [--region R] [--from T] [--to T] --format jsonl|avro --out FILE\n"
    "                                            export the audit log (signed checkpoints)\n"
    "  audit pubkey --data DIR --region R        print the region's audit public key (hex)\n"
    "  audit verify --pubkey HEX FILE            verify an export offline; exit 0 only if intact\n"
    "  restrict --data DIR --id TYPE:VALUE [--lift]\n"
    "                                            restrict processing of a person (Art. 18)\n"
    "  rectify --data DIR --id TYPE:VALUE --traits JSON\n"
    "                                            correct traits; old values leave events (Art. "
    "16)\n"
    "  dsr list --data DIR                       data-subject requests and their status\n"
    "  import --data DIR --source NAME FILE      ingest Segment-Spec events, one JSON object a\n"
    "                                            line (FILE - is stdin); progress on stderr\n"
    "  profile --data DIR --purpose P --id TYPE:VALUE\n"
    "                                            print the profile as the purpose may see it\n"
    "  export-subject --data DIR --id TYPE:VALUE --format json|avro --out FILE\n"
    "                                            access / portability export of the person\n"
    "  erase --data DIR --id TYPE:VALUE [--request-id ID]\n"
    "                                            erase a person; prints the signed receipt\n"
    "  erase verify --pubkey HEX FILE            verify an erasure receipt offline\n"
    "  erase lift --data DIR --id TYPE:VALUE     lift an erased identifier's suppression\n"
    "  backup --data DIR --out BACKUP_DIR        consistent backup (never the root key)\n"
    "  restore --from BACKUP_DIR --data DIR      restore; later erasures are applied again\n"
    "  policy check DIR                          validate a policy bundle; exit 2 on problems\n"
    "  stats --data DIR [--json]                 people, events, merges, erasures, bytes on\n"
    "                                            disk, per region and in total\n"
    "\n"
    "Run 'cdpctl <command> --help' for a command's options.\n"
    "Verbs whose result a script reads take --json (see each verb's --help).\n"
    "Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.\n";

int cli_exit_code(cdp_status status) {
    switch (status) {
    case CDP_OK:
        return EXIT_OK;
    case CDP_BAD_REQUEST:
    case CDP_INVALID_JSON:
    case CDP_INVALID_IDENTIFIER:
    case CDP_BAD_POLICY:
    case CDP_EXISTS:
    case CDP_MISUSE:
    case CDP_NOT_FOUND:
    case CDP_PAYLOAD_TOO_LARGE:
        return EXIT_USAGE;
    default:
        return EXIT_RUNTIME;
    }
}

int cli_fail(const char *verb, cdp_status status, const char *message) {
    fprintf(stderr, "cdpctl %s: %s (%s)\n", verb,
            message && *message ? message : cdp_strerror(status), cdp_status_code(status));
    return cli_exit_code(status);
}

int cli_fail_subject(const char *verb, cdp_status status, const char *message) {
    if (status != CDP_NOT_FOUND)
        return cli_fail(verb, status, message);
    fprintf(stderr, "cdpctl %s: not found: %s\n", verb,
            message && *message ? message : cdp_strerror(status));
    return EXIT_RUNTIME;
}

int cli_open_as(const char *verb, const char *data_dir, cdp_role role, cdp_t **db,
                cdp_actor *actor) {
    *db = NULL;
    cdp_status status = cdp_open(data_dir, NULL, db);
    if (status == CDP_OK)
        status = cdp_actor_local(*db, role, NULL, NULL, actor);
    if (status == CDP_OK)
        return EXIT_OK;
    int code = cli_fail(verb, status, cdp_errmsg(*db));
    cdp_close(*db);
    *db = NULL;
    return code;
}

int cli_usage_error(const char *verb, const char *verb_usage, const char *message) {
    if (message != NULL)
        fprintf(stderr, "cdpctl %s: %s\n", verb, message);
    fputs(verb_usage, stderr);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("cdpctl %s\n", CDP_VERSION_STRING);
        return EXIT_OK;
    }
    if (strcmp(command, "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(command, "keys") == 0)
        return cmd_keys(argc - 1, argv + 1);
    if (strcmp(command, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(command, "audit") == 0)
        return cmd_audit(argc - 1, argv + 1);
    if (strcmp(command, "restrict") == 0)
        return cmd_restrict(argc - 1, argv + 1);
    if (strcmp(command, "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(command, "profile") == 0)
        return cmd_profile(argc - 1, argv + 1);
    if (strcmp(command, "export-subject") == 0)
        return cmd_export_subject(argc - 1, argv + 1);
    if (strcmp(command, "erase") == 0)
        return cmd_erase(argc - 1, argv + 1);
    if (strcmp(command, "backup") == 0)
        return cmd_backup(argc - 1, argv + 1);
    if (strcmp(command, "restore") == 0)
        return cmd_restore(argc - 1, argv + 1);
    if (strcmp(command, "dsr") == 0)
        return cmd_dsr(argc - 1, argv + 1);
    if (strcmp(command, "rectify") == 0)
        return cmd_rectify(argc - 1, argv + 1);
    if (strcmp(command, "policy") == 0)
        return cmd_policy(argc - 1, argv + 1);
    if (strcmp(command, "stats") == 0)
        return cmd_stats(argc - 1, argv + 1);
    fprintf(stderr, "cdpctl: unknown command \"%s\"\n", command);
    fputs(usage, stderr);
    return EXIT_USAGE;
}
