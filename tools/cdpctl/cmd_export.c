/* cdpctl export-subject: the access / portability export of one person (cdp_subject_export)
 * into a file. The file holds personal data: it is created 0600 beside the target, written,
 * synced and only then moved into place, so a failed export never leaves a partial file under
 * the requested name, and an existing file is not replaced unless asked. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

static const char export_subject_verb[] = "export-subject";

static const char export_subject_usage[] =
    "usage: cdpctl export-subject --data DIR --id TYPE:VALUE --format json|avro --out FILE\n"
    "                             [--force] [--json]\n"
    "  Writes everything held on the person (GDPR Art. 15/20, CCPA right to know): profile,\n"
    "  identities, traits with their sources, computed traits, channels, every event (of the\n"
    "  profile and of every profile merged into it), merge history, consent records and the\n"
    "  audit entries about them. json: one JSON document; avro: an Avro object container file\n"
    "  (schemas/subject_export.avsc). FILE is created with mode 0600 (personal data) and\n"
    "  appears only once complete; an existing FILE is refused unless --force replaces it;\n"
    "  FILE - writes to standard output. The export is audited (subject.export, as the local\n"
    "  operator with the dpo role). Exit 0 written; 1 no such person (\"not found\") or a\n"
    "  runtime failure; 2 bad usage, a malformed identifier or an existing FILE.\n"
    "  --json: prints {\"out\", \"format\", \"bytes\"} on stdout (not with --out -). On a\n"
    "  terminal, bytes written so far show on stderr.\n";

typedef struct export_subject_args {
    const char *data_dir, *id, *format, *out;
    int force, json;
} export_subject_args;

static int export_subject_parse(int argc, char **argv, export_subject_args *args) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"id", required_argument, NULL, 'i'},
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            args->data_dir = optarg;
            break;
        case 'i':
            args->id = optarg;
            break;
        case 'f':
            args->format = optarg;
            break;
        case 'o':
            args->out = optarg;
            break;
        case 'F':
            args->force = 1;
            break;
        case 'j':
            args->json = 1;
            break;
        case 'h':
            fputs(export_subject_usage, stdout);
            return -1;
        default:
            return cli_usage_error(export_subject_verb, export_subject_usage,
                                   "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error(export_subject_verb, export_subject_usage, "unexpected argument");
    if (args->data_dir == NULL || args->id == NULL || args->format == NULL || args->out == NULL)
        return cli_usage_error(export_subject_verb, export_subject_usage,
                               "--data DIR, --id TYPE:VALUE, --format json|avro and --out FILE "
                               "are required");
    if (args->json && strcmp(args->out, "-") == 0)
        return cli_usage_error(export_subject_verb, export_subject_usage,
                               "--json: the export itself is on standard output (--out -); "
                               "write it to a FILE");
    if (strcmp(args->format, "json") != 0 && strcmp(args->format, "avro") != 0)
        return cli_usage_error(export_subject_verb, export_subject_usage,
                               "--format must be json or avro");
    return 0;
}

/* The result of the export call: not found is a runtime outcome (1), as for `profile`. */
static int export_failed(cdp_t *db, cdp_status status) {
    return cli_fail_subject(export_subject_verb, status, cdp_errmsg(db));
}

int cmd_export_subject(int argc, char **argv) {
    export_subject_args args;
    int code = export_subject_parse(argc, argv, &args);
    if (code != 0)
        return code < 0 ? EXIT_OK : code;
    int to_stdout = strcmp(args.out, "-") == 0;
    struct stat info;
    if (!to_stdout && !args.force && lstat(args.out, &info) == 0) {
        fprintf(stderr, "cdpctl %s: %s exists; remove it, choose another path or use --force\n",
                export_subject_verb, args.out);
        return EXIT_USAGE;
    }
    cdp_t *db = NULL;
    cdp_actor actor;
    FILE *out = NULL;
    char partial[4096] = "";
    cdp_status status = CDP_OK;
    code = cli_open_as(export_subject_verb, args.data_dir, CDP_ROLE_DPO, &db, &actor);
    if (code != EXIT_OK)
        goto done;
    if (to_stdout) {
        out = stdout;
    } else {
        /* mkstemp creates the file 0600 whatever the umask. */
        int written = snprintf(partial, sizeof partial, "%s.partial-XXXXXX", args.out);
        int fd = written > 0 && (size_t)written < sizeof partial ? mkstemp(partial) : -1;
        if (fd < 0 || (out = fdopen(fd, "wb")) == NULL) {
            if (fd >= 0) {
                close(fd);
                unlink(partial);
            }
            partial[0] = '\0';
            fprintf(stderr, "cdpctl %s: cannot write beside %s\n", export_subject_verb, args.out);
            code = EXIT_USAGE;
            goto done;
        }
    }
    cli_progress progress;
    cli_progress_begin(&progress, export_subject_verb, "exports", 1, 0);
    FILE *counted = cli_progress_wrap(&progress, out);
    status = cdp_subject_export(db, &actor, args.id, args.format, counted);
    if (counted != out && fclose(counted) != 0 && status == CDP_OK)
        status = CDP_IO;
    if (status == CDP_OK)
        progress.done = 1;
    cli_progress_end(&progress);
    if (status != CDP_OK) {
        code = export_failed(db, status);
        goto done;
    }
    if (!to_stdout) {
        int failed = fflush(out) != 0 || fsync(fileno(out)) != 0;
        failed |= fclose(out) != 0;
        out = NULL;
        if (failed) {
            code = cli_fail(export_subject_verb, CDP_IO, "writing the export failed");
            goto done;
        }
        /* Without --force, link() refuses a FILE that appeared meanwhile; rename() replaces. */
        if (args.force ? rename(partial, args.out) != 0 : link(partial, args.out) != 0) {
            fprintf(stderr, "cdpctl %s: cannot create %s%s\n", export_subject_verb, args.out,
                    args.force ? "" : " (does it exist now?)");
            code = EXIT_USAGE;
            goto done;
        }
        if (!args.force)
            unlink(partial);
        partial[0] = '\0';
        struct stat written;
        long long bytes = stat(args.out, &written) == 0 ? (long long)written.st_size : -1LL;
        fprintf(stderr, "cdpctl %s: wrote %s (%s, %lld bytes, mode 0600)\n", export_subject_verb,
                args.out, args.format, bytes);
        if (args.json &&
            cli_print_json(json_pack("{s:s, s:s, s:I}", "out", args.out, "format", args.format,
                                     "bytes", (json_int_t)bytes)) != EXIT_OK) {
            code = EXIT_RUNTIME;
            goto done;
        }
    }
    code = EXIT_OK;
done:
    if (out != NULL && out != stdout)
        fclose(out);
    if (partial[0] != '\0')
        unlink(partial);
    cdp_close(db);
    return code;
}
