/* cdpctl import: Segment-Spec messages from a file, one JSON object a line, into the store
 * through cdp_ingest in batches, as a local ingest key of the given channel. Each line is
 * checked on its own first, so a line that is not JSON is reported with its number and the rest
 * still go in. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "progress.h"
#include "identity/segment.h"

#define IMPORT_BATCH_DEFAULT 500
#define IMPORT_PROGRESS_DEFAULT 0
/* Rejected lines listed in the stdout summary (all of them go to stderr). */
#define IMPORT_REJECTED_LISTED 1000

static const char import_verb[] = "import";

static const char import_usage[] =
    "usage: cdpctl import --data DIR --source NAME [--region R] [--batch N] [--progress N]\n"
    "                     [--json] FILE\n"
    "  Ingests Segment-Spec messages (identify, track, page, screen, group, alias; each with its\n"
    "  \"type\"), one JSON object a line; FILE - reads standard input. They arrive as from an\n"
    "  ingest key of channel NAME (web, ios, android, pos, call_center, chat, email, social,\n"
    "  marketplace, ...) in region R (default: the policy's default region; a message's country\n"
    "  still decides its home region). Blank lines are skipped. --batch: messages per ingest\n"
    "  call (1..500, default 500). On a terminal, a live progress line on stderr (lines, bytes\n"
    "  read of the file's size, events/s, ETA; CDP_PROGRESS=1 forces it, 0 turns it off).\n"
    "  --progress N: also a log line on stderr every N lines (default 0: none). The file is\n"
    "  streamed a line at a time: memory stays bounded whatever its size. Each rejected line is reported on stderr as \"line N: code: message\";\n"
    "  a line that is not JSON is rejected and the import goes on. At the end a JSON summary on\n"
    "  stdout: {\"lines\", \"blank\", \"accepted\", \"duplicates\", \"rejected\",\n"
    "  \"rejected_lines\": [{\"line\", \"code\", \"message\"}, ...first 1000]}; --json prints\n"
    "  it compact, on one line.\n"
    "  Exit 0 when every line was accepted or a duplicate (same messageId: stored once); 2 when\n"
    "  any line was rejected (the other lines are stored) or on bad usage; 1 on a runtime\n"
    "  failure (the import stops; the batches before it are stored).\n";

typedef struct import_args {
    const char *data_dir, *source, *region, *file;
    long batch, progress;
    int json;
} import_args;

static int parse_count(const char *text, long min, long max, long *out) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

/* 0 to go on, else the exit code (help: -1 mapped to 0 by the caller). */
static int import_parse(int argc, char **argv, import_args *args) {
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"source", required_argument, NULL, 's'},
        {"region", required_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"progress", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    args->batch = IMPORT_BATCH_DEFAULT;
    args->progress = IMPORT_PROGRESS_DEFAULT;
    int option;
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd':
            args->data_dir = optarg;
            break;
        case 's':
            args->source = optarg;
            break;
        case 'r':
            args->region = optarg;
            break;
        case 'b':
            if (parse_count(optarg, 1, IMPORT_BATCH_DEFAULT, &args->batch) != 0)
                return cli_usage_error(import_verb, import_usage,
                                       "--batch must be a number from 1 to 500");
            break;
        case 'p':
            if (parse_count(optarg, 0, 1000000000L, &args->progress) != 0)
                return cli_usage_error(import_verb, import_usage,
                                       "--progress must be a number of lines (0: none)");
            break;
        case 'j':
            args->json = 1;
            break;
        case 'h':
            fputs(import_usage, stdout);
            return -1;
        default:
            return cli_usage_error(import_verb, import_usage, "unknown or incomplete option");
        }
    }
    if (args->data_dir == NULL || args->source == NULL)
        return cli_usage_error(import_verb, import_usage,
                               "--data DIR and --source NAME are required");
    if (optind != argc - 1)
        return cli_usage_error(import_verb, import_usage,
                               optind == argc ? "FILE is required (- for standard input)"
                                              : "one FILE only");
    args->file = argv[optind];
    return 0;
}

/* The state of one import: the batch being built and the running totals. */
typedef struct importer {
    cdp_t *db;
    cdp_actor actor;
    char *body; /* {"batch":[line,line,...]} */
    size_t body_len, body_cap;
    long *line_numbers; /* of the messages in the batch, by index */
    size_t count;
    size_t batch_max;
    unsigned long long lines, blank, accepted, duplicates, rejected;
    json_t *rejected_lines;
    int rejected_listed_all;
} importer;

static void reject(importer *im, unsigned long long line, const char *code, const char *message) {
    im->rejected++;
    fprintf(stderr, "cdpctl import: line %llu: %s: %s\n", line, code, message);
    if (json_array_size(im->rejected_lines) < IMPORT_REJECTED_LISTED)
        json_array_append_new(im->rejected_lines,
                              json_pack("{s:I, s:s, s:s}", "line", (json_int_t)line, "code", code,
                                        "message", message));
    else
        im->rejected_listed_all = 0;
}

static void batch_reset(importer *im) {
    im->count = 0;
    im->body_len = (size_t)snprintf(im->body, im->body_cap, "{\"batch\":[");
}

/* Ingests the batch. CDP_OK unless the store failed (then the import stops). */
static cdp_status batch_flush(importer *im) {
    if (im->count == 0)
        return CDP_OK;
    memcpy(im->body + im->body_len, "]}", 3);
    cdp_ingest_result result;
    cdp_status status =
        cdp_ingest(im->db, &im->actor, "batch", im->body, im->body_len + 2, 0, &result);
    im->accepted += result.accepted;
    im->duplicates += result.duplicates;
    if (status == CDP_OK && result.errors_json != NULL) {
        json_t *errors = json_loads(result.errors_json, 0, NULL);
        size_t i;
        json_t *error;
        json_array_foreach(errors, i, error) {
            json_int_t index = json_integer_value(json_object_get(error, "index"));
            const char *code = json_string_value(json_object_get(error, "code"));
            const char *message = json_string_value(json_object_get(error, "message"));
            if (index >= 0 && (size_t)index < im->count)
                reject(im, (unsigned long long)im->line_numbers[index], code ? code : "?",
                       message ? message : "");
        }
        json_decref(errors);
    } else if (status == CDP_BAD_REQUEST || status == CDP_INVALID_JSON ||
               status == CDP_PAYLOAD_TOO_LARGE) {
        /* The body as a whole was refused (lines are checked one by one before, so this is
         * not expected): every line of it is rejected, and the import goes on. */
        for (size_t i = 0; i < im->count; i++)
            reject(im, (unsigned long long)im->line_numbers[i], cdp_status_code(status),
                   cdp_errmsg(im->db));
        status = CDP_OK;
    }
    cdp_ingest_result_clear(&result);
    batch_reset(im);
    return status;
}

/* Checks one non-blank line and adds it to the batch, flushing first when it would not fit.
 * full_len: the line's length in the file (more than len when the reader cut it). */
static cdp_status import_line(importer *im, const char *line, size_t len, uint64_t full_len) {
    unsigned long long number = im->lines;
    if (full_len > CDP_SEGMENT_EVENT_MAX) {
        char message[96];
        snprintf(message, sizeof message,
                 "line: %llu bytes, larger than a message may be (%u)",
                 (unsigned long long)full_len, CDP_SEGMENT_EVENT_MAX);
        reject(im, number, cdp_status_code(CDP_PAYLOAD_TOO_LARGE), message);
        return CDP_OK;
    }
    json_error_t error;
    json_t *message = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
    if (message == NULL || !json_is_object(message)) {
        char text[JSON_ERROR_TEXT_LENGTH + 48];
        if (message == NULL)
            snprintf(text, sizeof text, "line: not JSON: %s (column %d)", error.text, error.column);
        else
            snprintf(text, sizeof text, "line: not a JSON object (one message a line)");
        json_decref(message);
        reject(im, number, cdp_status_code(CDP_INVALID_JSON), text);
        return CDP_OK;
    }
    json_decref(message);
    /* 16: the comma, the closing "]}" and the NUL. */
    if (im->count == im->batch_max || im->body_len + len + 16 > CDP_SEGMENT_BATCH_MAX) {
        cdp_status status = batch_flush(im);
        if (status != CDP_OK)
            return status;
    }
    if (im->count > 0)
        im->body[im->body_len++] = ',';
    memcpy(im->body + im->body_len, line, len);
    im->body_len += len;
    im->line_numbers[im->count++] = (long)number;
    return CDP_OK;
}

/* Reads one line of in into line (cap bytes: at most cap - 1 kept, then a NUL) and returns the
 * bytes kept, -1 at the end of the input. *full_len gets the line's whole length with its
 * newline: a longer line is read to its end but not kept, so a file with a huge line (or no
 * newline at all) is still read in bounded memory. */
static ssize_t read_line(FILE *in, char *line, size_t cap, uint64_t *full_len) {
    size_t kept = 0;
    uint64_t length = 0;
    int c;
    while ((c = getc_unlocked(in)) != EOF) {
        length++;
        if (kept + 1 < cap)
            line[kept++] = (char)c;
        if (c == '\n')
            break;
    }
    line[kept] = '\0';
    *full_len = length;
    return length == 0 ? -1 : (ssize_t)kept;
}

static int is_blank(const char *line, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
            return 0;
    return 1;
}

/* Rejections come in line order within a batch, but a line refused before ingest (not JSON)
 * is reported before the earlier lines of its batch are ingested: list them by line. */
static void sort_rejected(json_t *list) {
    size_t count = json_array_size(list);
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(list, j - 1), *b = json_array_get(list, j);
            if (json_integer_value(json_object_get(a, "line")) <=
                json_integer_value(json_object_get(b, "line")))
                break;
            json_incref(a);
            json_array_set(list, j - 1, b);
            json_array_set_new(list, j, a);
        }
}

static void print_summary(const importer *im, int compact) {
    sort_rejected(im->rejected_lines);
    json_t *summary = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:O, s:b}", "lines", (json_int_t)im->lines, "blank",
        (json_int_t)im->blank, "accepted", (json_int_t)im->accepted, "duplicates",
        (json_int_t)im->duplicates, "rejected", (json_int_t)im->rejected, "rejected_lines",
        im->rejected_lines, "rejected_lines_complete", im->rejected_listed_all);
    char *text = summary ? json_dumps(summary, (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_PRESERVE_ORDER) : NULL;
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(summary);
    fprintf(stderr,
            "cdpctl import: %llu lines: %llu accepted, %llu duplicates, %llu rejected, %llu "
            "blank\n",
            im->lines, im->accepted, im->duplicates, im->rejected, im->blank);
}

int cmd_import(int argc, char **argv) {
    import_args args;
    int code = import_parse(argc, argv, &args);
    if (code != 0)
        return code < 0 ? EXIT_OK : code;
    int from_stdin = strcmp(args.file, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(args.file, "r");
    if (in == NULL) {
        fprintf(stderr, "cdpctl import: cannot read %s\n", args.file);
        return EXIT_USAGE;
    }
    importer im;
    memset(&im, 0, sizeof im);
    im.batch_max = (size_t)args.batch;
    im.body_cap = CDP_SEGMENT_BATCH_MAX + 16;
    im.body = malloc(im.body_cap);
    im.line_numbers = calloc(im.batch_max, sizeof *im.line_numbers);
    im.rejected_lines = json_array();
    im.rejected_listed_all = 1;
    /* One message at most, plus its newline and a byte to tell a longer line. */
    size_t line_cap = CDP_SEGMENT_EVENT_MAX + 3;
    char *line = malloc(line_cap);
    cli_progress progress;
    memset(&progress, 0, sizeof progress);
    cdp_status status = CDP_OK;
    if (im.body == NULL || im.line_numbers == NULL || im.rejected_lines == NULL || line == NULL) {
        code = cli_fail(import_verb, CDP_NOMEM, "out of memory");
        goto done;
    }
    status = cdp_open(args.data_dir, NULL, &im.db);
    if (status == CDP_OK)
        status = cdp_actor_local(im.db, CDP_ROLE_INGEST, args.region, args.source, &im.actor);
    if (status != CDP_OK) {
        code = cli_fail(import_verb, status, cdp_errmsg(im.db));
        goto done;
    }
    batch_reset(&im);
    /* The size of a regular file gives the ETA; a pipe's is unknown. */
    struct stat info;
    uint64_t bytes_total =
        fstat(fileno(in), &info) == 0 && S_ISREG(info.st_mode) ? (uint64_t)info.st_size : 0;
    uint64_t bytes_read = 0;
    cli_progress_begin(&progress, import_verb, "lines", 0, bytes_total);
    ssize_t read;
    uint64_t full_len = 0;
    while (status == CDP_OK && (read = read_line(in, line, line_cap, &full_len)) != -1) {
        im.lines++;
        bytes_read += full_len;
        size_t len = (size_t)read;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
            full_len--;
        }
        if (is_blank(line, len) && full_len == len)
            im.blank++;
        else
            status = import_line(&im, line, len, full_len);
        if (args.progress > 0 && im.lines % (unsigned long long)args.progress == 0)
            fprintf(stderr,
                    "cdpctl import: %llu lines read (%llu accepted, %llu duplicates, %llu "
                    "rejected so far)\n",
                    im.lines, im.accepted, im.duplicates, im.rejected);
        cli_progress_update(&progress, im.lines, bytes_read);
    }
    if (status == CDP_OK && ferror(in)) {
        fprintf(stderr, "cdpctl import: reading %s failed after line %llu\n", args.file, im.lines);
        code = EXIT_RUNTIME;
        goto done_summary;
    }
    if (status == CDP_OK)
        status = batch_flush(&im);
    if (status != CDP_OK) {
        code = cli_fail(import_verb, status, cdp_errmsg(im.db));
        if (code == EXIT_USAGE) /* the store, not the input: a runtime failure */
            code = EXIT_RUNTIME;
        goto done_summary;
    }
    code = im.rejected > 0 ? EXIT_USAGE : EXIT_OK;
done_summary:
    cli_progress_end(&progress);
    print_summary(&im, args.json);
done:
    free(line);
    cdp_close(im.db);
    free(im.body);
    free(im.line_numbers);
    json_decref(im.rejected_lines);
    if (!from_stdin)
        fclose(in);
    return code;
}
