/* cdpctl audit: export a region's audit log (JSON Lines or Avro), print its audit public key,
 * and verify an export offline with nothing but the file and that key. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/handle.h"
#include "audit/export.h"
#include "audit/log.h"
#include "cli.h"
#include "progress.h"
#include "crypto/keystore.h"
#include "crypto/rootkey.h"
#include "util/bytes.h"

int cmd_audit(int argc, char **argv);

static const char audit_usage[] =
    "usage: cdpctl audit <command> [options]\n"
    "  export --data DIR [--region R] [--from T] [--to T] [--actor KEY_ID] [--profile ID]\n"
    "         [--operation OP] [--decision allow|withhold|deny] --format jsonl|avro --out FILE\n"
    "         [--json]\n"
    "      Exports the region's audit log (default: the policy bundle's default region) with\n"
    "      its signed checkpoints. T is ISO-8601 (2024-05-01, 2024-05-01T12:00:00Z,\n"
    "      2024-05-01T14:00:00+02:00) or milliseconds since the epoch; a bare date as --to\n"
    "      means the end of that day. ID is a pseudonymous profile id (32 hex, or profile:ID).\n"
    "      Filters other than --from/--to give each record its inclusion proof. FILE - is\n"
    "      standard output. --json: the summary as {\"region\", \"records\", \"first_seq\",\n"
    "      \"end_seq\", \"checkpoints\", \"tree_size\", \"filtered\", \"out\"} on stdout (not\n"
    "      with --out -). On a terminal, bytes written so far show on stderr.\n"
    "  pubkey --data DIR --region R [--json]\n"
    "      Prints the region's audit public key (hex): what auditors verify exports with.\n"
    "      --json: {\"region\", \"pubkey\"}.\n"
    "  verify --pubkey HEX FILE [--json]\n"
    "      Verifies an export (either format) offline: Merkle tree, checkpoint signatures and\n"
    "      consistency, the export's seal. Exit 0 only if intact; 1 names the first bad line.\n"
    "      Prints {\"intact\": true, ...} (JSON always; --json is accepted).\n";

/* ---- arguments ---------------------------------------------------------------------------- */

static int parse_digits(const char **cursor, int count, int *out) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        char c = (*cursor)[i];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *cursor += count;
    *out = value;
    return 0;
}

/* ISO-8601 date or date-time (UTC, Z or an offset) or epoch milliseconds. end_of_day: a bare
 * date means its last millisecond. */
static int parse_time(const char *text, int end_of_day, int64_t *out) {
    size_t len = strlen(text);
    if (len > 0 && strspn(text, "0123456789") == len) {
        if (len > 15)
            return -1;
        *out = strtoll(text, NULL, 10);
        return *out > 0 ? 0 : -1;
    }
    const char *cursor = text;
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0, offset = 0;
    if (parse_digits(&cursor, 4, &year) || *cursor++ != '-' || parse_digits(&cursor, 2, &month) ||
        *cursor++ != '-' || parse_digits(&cursor, 2, &day) || month < 1 || month > 12 || day < 1 ||
        day > 31)
        return -1;
    int date_only = *cursor == '\0';
    if (!date_only) {
        if ((*cursor != 'T' && *cursor != ' ') || (cursor++, parse_digits(&cursor, 2, &hour)) ||
            *cursor++ != ':' || parse_digits(&cursor, 2, &minute) || hour > 23 || minute > 59)
            return -1;
        if (*cursor == ':' && (cursor++, parse_digits(&cursor, 2, &second) || second > 60))
            return -1;
        if (*cursor == '.') {
            cursor++;
            int digits = (int)strspn(cursor, "0123456789");
            if (digits == 0)
                return -1;
            for (int i = 0; i < 3; i++)
                millis = millis * 10 + (i < digits ? cursor[i] - '0' : 0);
            cursor += digits;
        }
        if (*cursor == 'Z') {
            cursor++;
        } else if (*cursor == '+' || *cursor == '-') {
            int sign = *cursor++ == '-' ? -1 : 1, offset_hours, offset_minutes = 0;
            if (parse_digits(&cursor, 2, &offset_hours))
                return -1;
            if (*cursor == ':')
                cursor++;
            if (*cursor != '\0' && parse_digits(&cursor, 2, &offset_minutes))
                return -1;
            offset = sign * (offset_hours * 60 + offset_minutes);
        }
        if (*cursor != '\0')
            return -1;
    }
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute,
                    .tm_sec = second};
    time_t seconds = timegm(&tm);
    if (seconds <= 0 || tm.tm_mday != day)
        return -1;
    *out = ((int64_t)seconds - (int64_t)offset * 60) * 1000 + millis;
    if (date_only && end_of_day)
        *out += 86400000 - 1;
    return 0;
}

/* The keystore of a data directory (read only: no RocksDB, so it works while the server runs). */
static cdp_status open_keystore(const char *data_dir, cdp_rootkey **rootkey,
                                cdp_keystore **keystore, cdp_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, CDP_FILE_ROOT_KEY);
    cdp_status status = cdp_rootkey_load(path, rootkey, err);
    if (status == CDP_OK) {
        snprintf(path, sizeof path, "%s/%s", data_dir, CDP_FILE_KEYSTORE);
        status = cdp_keystore_open(path, *rootkey, keystore, err);
        if (status == CDP_NOT_FOUND)
            cdp_err_set(err, CDP_NOT_FOUND, "%s is not a cdp data directory (no keystore)",
                        data_dir);
    } else if (status == CDP_NOT_FOUND) {
        cdp_err_set(err, CDP_NOT_FOUND, "%s is not a cdp data directory (no root key)", data_dir);
    }
    return status;
}

/* ---- export --------------------------------------------------------------------------------- */

static const char export_verb[] = "audit export";

typedef struct export_args {
    const char *data_dir, *region, *format, *out, *actor, *operation, *decision, *profile;
    const char *from, *to;
    int json;
} export_args;

static int export_parse(int argc, char **argv, export_args *args) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"actor", required_argument, NULL, 'a'},
        {"profile", required_argument, NULL, 'p'},
        {"operation", required_argument, NULL, 'o'},
        {"decision", required_argument, NULL, 'D'},
        {"format", required_argument, NULL, 'F'},
        {"out", required_argument, NULL, 'O'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            args->data_dir = optarg;
            break;
        case 'r':
            args->region = optarg;
            break;
        case 'f':
            args->from = optarg;
            break;
        case 't':
            args->to = optarg;
            break;
        case 'a':
            args->actor = optarg;
            break;
        case 'p':
            args->profile = optarg;
            break;
        case 'o':
            args->operation = optarg;
            break;
        case 'D':
            args->decision = optarg;
            break;
        case 'F':
            args->format = optarg;
            break;
        case 'O':
            args->out = optarg;
            break;
        case 'j':
            args->json = 1;
            break;
        case 'h':
            fputs(audit_usage, stdout);
            return -1;
        default:
            return cli_usage_error(export_verb, audit_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error(export_verb, audit_usage, "unexpected argument");
    if (args->data_dir == NULL || args->format == NULL || args->out == NULL)
        return cli_usage_error(export_verb, audit_usage,
                               "--data DIR, --format jsonl|avro and --out FILE are required");
    if (args->json && strcmp(args->out, "-") == 0)
        return cli_usage_error(export_verb, audit_usage,
                               "--json: the export itself is on standard output (--out -); "
                               "write it to a FILE");
    return 0;
}

static int export_filter(const export_args *args, cdp_audit_filter *filter,
                         cdp_audit_format *format, uint8_t profile[CDP_PROFILE_ID_BYTES]) {
    cdp_audit_filter_init(filter);
    if (cdp_audit_format_parse(args->format, format) != CDP_OK)
        return cli_usage_error(export_verb, audit_usage, "--format must be jsonl or avro");
    if (args->from != NULL && parse_time(args->from, 0, &filter->from_ms) != 0)
        return cli_usage_error(export_verb, audit_usage, "--from is not an ISO-8601 time");
    if (args->to != NULL && parse_time(args->to, 1, &filter->to_ms) != 0)
        return cli_usage_error(export_verb, audit_usage, "--to is not an ISO-8601 time");
    if (filter->from_ms != 0 && filter->to_ms != 0 && filter->from_ms > filter->to_ms)
        return cli_usage_error(export_verb, audit_usage, "--from is after --to");
    if (args->actor != NULL && !cdp_audit_token_ok(args->actor))
        return cli_usage_error(export_verb, audit_usage, "--actor is not an API key id");
    if (args->operation != NULL && !cdp_audit_token_ok(args->operation))
        return cli_usage_error(export_verb, audit_usage, "--operation is not an operation name");
    filter->actor_key_id = args->actor;
    filter->operation = args->operation;
    if (args->decision != NULL) {
        cdp_audit_decision decision;
        if (cdp_audit_decision_parse(args->decision, &decision) != CDP_OK)
            return cli_usage_error(export_verb, audit_usage,
                                   "--decision must be allow, withhold or deny");
        filter->decision = (int)decision;
    }
    if (args->profile != NULL) {
        const char *hex =
            strncmp(args->profile, "profile:", 8) == 0 ? args->profile + 8 : args->profile;
        if (cdp_hex_decode(profile, CDP_PROFILE_ID_BYTES, hex, strlen(hex)) != 0)
            return cli_usage_error(export_verb, audit_usage,
                                   "--profile must be a pseudonymous profile id (32 hex "
                                   "characters), not an e-mail or other identifier");
        filter->profile_id = profile;
    }
    return 0;
}

static int audit_export(int argc, char **argv) {
    export_args args = {0};
    int code = export_parse(argc, argv, &args);
    if (code != 0)
        return code < 0 ? EXIT_OK : code;
    cdp_audit_filter filter;
    cdp_audit_format format;
    uint8_t profile[CDP_PROFILE_ID_BYTES];
    if ((code = export_filter(&args, &filter, &format, profile)) != 0)
        return code;

    cdp_t *db = NULL;
    cdp_rootkey *rootkey = NULL;
    cdp_keystore *keystore = NULL;
    cdp_audit_log *log = NULL;
    FILE *out = NULL;
    char partial[4096] = "";
    cdp_err err = {0};
    cdp_audit_export_stats stats = {0};
    cdp_status status = cdp_open(args.data_dir, NULL, &db);
    if (status != CDP_OK) {
        code = cli_fail(export_verb, status, cdp_errmsg(db));
        goto done;
    }
    const char *region =
        args.region ? args.region : cdp_policy_default_region(cdp_handle_policy(db));
    cdp_vault *vault = region ? cdp_handle_vault(db, region) : NULL;
    if (vault == NULL) {
        fprintf(stderr, "cdpctl %s: unknown region \"%s\"\n", export_verb, region ? region : "");
        code = EXIT_USAGE;
        goto done;
    }
    log = cdp_handle_audit_log(db, region); /* the handle owns it: not closed here */
    int to_stdout = args.out == NULL || strcmp(args.out, "-") == 0;
    if (to_stdout) {
        out = stdout;
    } else {
        /* Written beside the target and renamed: a failed export leaves no partial file. */
        snprintf(partial, sizeof partial, "%s.partial", args.out);
        out = fopen(partial, "wb");
        if (out == NULL) {
            fprintf(stderr, "cdpctl %s: cannot write %s\n", export_verb, args.out);
            code = EXIT_USAGE;
            partial[0] = '\0';
            goto done;
        }
    }
    cli_progress progress;
    cli_progress_begin(&progress, export_verb, "records", 0, 0);
    FILE *counted = cli_progress_wrap(&progress, out);
    status = cdp_audit_export_file(log, &filter, format, counted, &stats, &err);
    if (counted != out && fclose(counted) != 0 && status == CDP_OK)
        status = cdp_err_set(&err, CDP_IO, "writing %s failed", args.out);
    progress.done = stats.records;
    cli_progress_end(&progress);
    if (!to_stdout) {
        if (fclose(out) != 0 && status == CDP_OK)
            status = cdp_err_set(&err, CDP_IO, "writing %s failed", args.out);
        out = NULL;
        if (status == CDP_OK && rename(partial, args.out) != 0)
            status = cdp_err_set(&err, CDP_IO, "cannot rename %s to %s", partial, args.out);
    }
    if (status != CDP_OK) {
        code = cli_fail(export_verb, status, err.message);
        goto done;
    }
    partial[0] = '\0';
    fprintf(stderr,
            "cdpctl %s: region %s: %" PRIu64 " records (seqs [%" PRIu64 ", %" PRIu64 ")), %" PRIu64
            " checkpoints, tree size %" PRIu64 "%s\n",
            export_verb, region, stats.records, stats.first_seq, stats.end_seq, stats.checkpoints,
            stats.tree_size, stats.filtered ? ", filtered (with inclusion proofs)" : "");
    code = EXIT_OK;
    if (args.json)
        code = cli_print_json(json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "region", region, "records",
            (json_int_t)stats.records, "first_seq", (json_int_t)stats.first_seq, "end_seq",
            (json_int_t)stats.end_seq, "checkpoints", (json_int_t)stats.checkpoints,
            "tree_size", (json_int_t)stats.tree_size, "filtered", stats.filtered ? 1 : 0, "out",
            args.out));
done:
    if (partial[0] != '\0')
        unlink(partial);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
    cdp_close(db);
    return code;
}

/* ---- pubkey --------------------------------------------------------------------------------- */

static int audit_pubkey(int argc, char **argv) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *region = NULL;
    int option, as_json = 0;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            data_dir = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(audit_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("audit pubkey", audit_usage, "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage_error("audit pubkey", audit_usage, "unexpected argument");
    if (data_dir == NULL || region == NULL)
        return cli_usage_error("audit pubkey", audit_usage,
                               "--data DIR and --region R are required");
    cdp_rootkey *rootkey = NULL;
    cdp_keystore *keystore = NULL;
    const cdp_region_keys *keys = NULL;
    cdp_err err = {0};
    cdp_status status = open_keystore(data_dir, &rootkey, &keystore, &err);
    if (status == CDP_OK) {
        status = cdp_keystore_current(keystore, region, &keys, &err);
        if (status == CDP_NOT_FOUND)
            cdp_err_set(&err, CDP_NOT_FOUND, "unknown region \"%s\"", region);
    }
    int code = EXIT_OK;
    if (status == CDP_OK) {
        char hex[2 * CDP_AUDIT_PUBLIC_KEY_BYTES + 1];
        cdp_hex_encode(hex, keys->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES);
        if (as_json)
            code = cli_print_json(json_pack("{s:s, s:s}", "region", region, "pubkey", hex));
        else
            printf("%s\n", hex);
    } else {
        code = cli_fail("audit pubkey", status, err.message);
    }
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
    return code;
}

/* ---- verify --------------------------------------------------------------------------------- */

static int audit_verify(int argc, char **argv) {
    static const struct option options[] = {
        {"pubkey", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pubkey = NULL;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'k':
            pubkey = optarg;
            break;
        case 'j': /* the answer is JSON already */
            break;
        case 'h':
            fputs(audit_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("audit verify", audit_usage, "unknown or incomplete option");
        }
    }
    if (pubkey == NULL || optind != argc - 1)
        return cli_usage_error("audit verify", audit_usage,
                               "--pubkey HEX and one FILE are required");
    uint8_t key[32];
    if (cdp_hex_decode(key, sizeof key, pubkey, strlen(pubkey)) != 0)
        return cli_usage_error("audit verify", audit_usage,
                               "--pubkey must be 64 hex characters (cdpctl audit pubkey)");
    const char *path = argv[optind];
    cdp_audit_verify_report report;
    cdp_err err = {0};
    cdp_status status = cdp_audit_verify_export_path(path, key, &report, &err);
    if (status != CDP_OK) {
        char message[CDP_ERR_MESSAGE_MAX + 512];
        snprintf(message, sizeof message, "%s: NOT INTACT: %s", path, err.message);
        if (status == CDP_NOT_FOUND)
            snprintf(message, sizeof message, "cannot open %s", path);
        return cli_fail("audit verify", status, message);
    }
    char root[65];
    cdp_hex_encode(root, report.root, 32);
    printf("{\"intact\": true, \"format\": \"%s\", \"region\": \"%s\", \"mode\": \"%s\", "
           "\"records\": %" PRIu64 ", \"checkpoints\": %" PRIu64 ", \"first_seq\": %" PRIu64
           ", \"end_seq\": %" PRIu64 ", \"tree_size\": %" PRIu64 ", \"root\": \"%s\"}\n",
           report.format == CDP_AUDIT_FORMAT_AVRO ? "avro" : "jsonl", report.region, report.mode,
           report.records, report.checkpoints, report.first_seq, report.end_seq, report.tree_size,
           root);
    return EXIT_OK;
}

int cmd_audit(int argc, char **argv) {
    if (argc < 2) {
        fputs(audit_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(audit_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "export") == 0)
        return audit_export(argc - 1, argv + 1);
    if (strcmp(argv[1], "pubkey") == 0)
        return audit_pubkey(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return audit_verify(argc - 1, argv + 1);
    return cli_usage_error("audit", audit_usage, "unknown audit command");
}
