/* The erasure ledger (see ledger.h): an fsync'd append-only file of JSON lines beside the
 * regions, read back line by line. */
#include "privacy/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/bytes.h"

#define LINE_MAX_BYTES (1u << 20) /* a receipt of a person with many identifiers fits easily */

struct cdp_ledger {
    char *path;
    int fd;
    uint64_t position;
    off_t size; /* bytes of complete lines */
    char id[CDP_LEDGER_ID_HEX + 1];
    pthread_mutex_t mutex;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cdp_status write_all(int fd, const char *bytes, size_t len, const char *path,
                            cdp_err *err) {
    while (len > 0) {
        ssize_t written = write(fd, bytes, len);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return cdp_err_set(err, CDP_IO, "%s: write: %s", path, strerror(errno));
        bytes += written;
        len -= (size_t)written;
    }
    return CDP_OK;
}

static cdp_status sync_parent(const char *path, cdp_err *err) {
    char *copy = cdp_strdup(path);
    if (copy == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    cdp_status status = CDP_OK;
    if (fd < 0 || fsync(fd) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: cannot sync its directory: %s", path,
                             strerror(errno));
    if (fd >= 0)
        close(fd);
    cdp_free(copy);
    return status;
}

static cdp_status create_file(const char *path, cdp_err *err) {
    uint8_t random_id[CDP_LEDGER_ID_HEX / 2];
    char hex[CDP_LEDGER_ID_HEX + 1];
    randombytes_buf(random_id, sizeof random_id);
    cdp_hex_encode(hex, random_id, sizeof random_id);
    json_t *header = json_pack("{s:s, s:s, s:I}", "ledger", CDP_LEDGER_FORMAT, "id", hex,
                               "created", (json_int_t)now_ms());
    char *text = header ? json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(header);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room for the NUL only: write it as the newline */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cdp_status status = CDP_OK;
    if (fd < 0)
        status = cdp_err_set(err, errno == EEXIST ? CDP_EXISTS : CDP_IO, "%s: %s", path,
                             strerror(errno));
    if (status == CDP_OK)
        status = write_all(fd, text, len + 1, path, err);
    if (status == CDP_OK && fsync(fd) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: fsync: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
    if (status == CDP_OK)
        status = sync_parent(path, err);
    return status;
}

/* Reads the file: header, entries in order (visit for those with seq > after; visit may be
 * NULL), the last seq and the offset where the complete lines end (a torn last line starts
 * there). */
typedef struct scan_result {
    char id[CDP_LEDGER_ID_HEX + 1];
    uint64_t position;
    off_t complete_end;
    int torn;
} scan_result;

static cdp_status scan_file(const char *path, uint64_t after, cdp_ledger_visit visit,
                            void *context, scan_result *result, cdp_err *err) {
    memset(result, 0, sizeof *result);
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return cdp_err_set(err, errno == ENOENT ? CDP_NOT_FOUND : CDP_IO, "%s: %s", path,
                           strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t line_number = 0;
    off_t offset = 0;
    cdp_status status = CDP_OK;
    while (status == CDP_OK && (len = getline(&line, &cap, file)) >= 0) {
        line_number++;
        if (len == 0 || line[len - 1] != '\n') {
            result->torn = 1; /* the last line, cut short by a crash mid-append */
            break;
        }
        if ((size_t)len > LINE_MAX_BYTES) {
            status = cdp_err_set(err, CDP_CORRUPT, "%s: line %zu: longer than %u bytes", path,
                                 line_number, LINE_MAX_BYTES);
            break;
        }
        json_t *parsed = json_loadb(line, (size_t)len - 1, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(parsed)) {
            json_decref(parsed);
            status = cdp_err_set(err, CDP_CORRUPT, "%s: line %zu: not a JSON object", path,
                                 line_number);
            break;
        }
        if (line_number == 1) {
            const char *format = json_string_value(json_object_get(parsed, "ledger"));
            const char *id = json_string_value(json_object_get(parsed, "id"));
            if (format == NULL || strcmp(format, CDP_LEDGER_FORMAT) != 0 || id == NULL ||
                strlen(id) != CDP_LEDGER_ID_HEX)
                status = cdp_err_set(err, CDP_CORRUPT,
                                     "%s: line 1: not a \"%s\" header with an id", path,
                                     CDP_LEDGER_FORMAT);
            else
                snprintf(result->id, sizeof result->id, "%s", id);
        } else {
            json_t *seq_json = json_object_get(parsed, "seq");
            json_int_t seq = json_is_integer(seq_json) ? json_integer_value(seq_json) : -1;
            if (seq != (json_int_t)(result->position + 1))
                status = cdp_err_set(err, CDP_CORRUPT, "%s: line %zu: seq: expected %llu", path,
                                     line_number, (unsigned long long)result->position + 1);
            else if (!json_is_string(json_object_get(parsed, "region")) ||
                     !json_is_string(json_object_get(parsed, "request_id")) ||
                     !json_is_array(json_object_get(parsed, "profiles")) ||
                     !json_is_array(json_object_get(parsed, "suppress")))
                status = cdp_err_set(err, CDP_CORRUPT,
                                     "%s: line %zu: needs region, request_id, profiles, suppress",
                                     path, line_number);
            else
                result->position = (uint64_t)seq;
            if (status == CDP_OK && visit != NULL && (uint64_t)seq > after)
                status = visit(context, (uint64_t)seq, parsed);
        }
        json_decref(parsed);
        offset += len;
        result->complete_end = offset;
    }
    if (status == CDP_OK && ferror(file))
        status = cdp_err_set(err, CDP_IO, "%s: read error", path);
    if (status == CDP_OK && line_number == 0)
        status = cdp_err_set(err, CDP_CORRUPT, "%s: empty (no header line)", path);
    if (status == CDP_OK && result->id[0] == '\0')
        status = cdp_err_set(err, CDP_CORRUPT, "%s: line 1: header is torn", path);
    free(line);
    fclose(file);
    return status;
}

cdp_status cdp_ledger_open(const char *path, int create, cdp_ledger **out, cdp_err *err) {
    *out = NULL;
    scan_result scan;
    cdp_status status = scan_file(path, 0, NULL, NULL, &scan, err);
    if (status == CDP_NOT_FOUND && create) {
        cdp_err_clear(err);
        status = create_file(path, err);
        if (status == CDP_OK)
            status = scan_file(path, 0, NULL, NULL, &scan, err);
    }
    if (status != CDP_OK)
        return status;
    cdp_ledger *ledger = cdp_calloc(1, sizeof *ledger);
    if (ledger == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    ledger->fd = -1;
    ledger->path = cdp_strdup(path);
    if (ledger->path == NULL || pthread_mutex_init(&ledger->mutex, NULL) != 0) {
        cdp_free(ledger->path);
        cdp_free(ledger);
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    ledger->position = scan.position;
    ledger->size = scan.complete_end;
    memcpy(ledger->id, scan.id, sizeof ledger->id);
    ledger->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (ledger->fd < 0)
        status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    /* A torn last line goes: the next append must start on a line of its own. */
    if (status == CDP_OK && scan.torn &&
        (ftruncate(ledger->fd, scan.complete_end) != 0 || fsync(ledger->fd) != 0))
        status = cdp_err_set(err, CDP_IO, "%s: cannot cut the torn last line: %s", path,
                             strerror(errno));
    if (status != CDP_OK) {
        cdp_ledger_close(ledger);
        return status;
    }
    *out = ledger;
    return CDP_OK;
}

void cdp_ledger_close(cdp_ledger *ledger) {
    if (ledger == NULL)
        return;
    if (ledger->fd >= 0)
        close(ledger->fd);
    pthread_mutex_destroy(&ledger->mutex);
    cdp_free(ledger->path);
    cdp_free(ledger);
}

uint64_t cdp_ledger_position(cdp_ledger *ledger) {
    pthread_mutex_lock(&ledger->mutex);
    uint64_t position = ledger->position;
    pthread_mutex_unlock(&ledger->mutex);
    return position;
}

const char *cdp_ledger_id(const cdp_ledger *ledger) { return ledger->id; }
const char *cdp_ledger_path(const cdp_ledger *ledger) { return ledger->path; }

cdp_status cdp_ledger_append(cdp_ledger *ledger, json_t *entry, uint64_t *seq, cdp_err *err) {
    pthread_mutex_lock(&ledger->mutex);
    uint64_t next = ledger->position + 1;
    cdp_status status = CDP_OK;
    char *text = NULL;
    if (json_object_set_new(entry, "seq", json_integer((json_int_t)next)) != 0 ||
        (text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    size_t len = text ? strlen(text) : 0;
    if (status == CDP_OK && len + 1 > LINE_MAX_BYTES)
        status = cdp_err_set(err, CDP_PAYLOAD_TOO_LARGE, "ledger entry: longer than %u bytes",
                             LINE_MAX_BYTES);
    if (status == CDP_OK) {
        text[len] = '\n'; /* replaces the NUL; the length is known */
        status = write_all(ledger->fd, text, len + 1, ledger->path, err);
    }
    if (status == CDP_OK && fdatasync(ledger->fd) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: fsync: %s", ledger->path, strerror(errno));
    if (status == CDP_OK) {
        ledger->position = next;
        ledger->size += (off_t)len + 1;
        if (seq != NULL)
            *seq = next;
    } else if (ledger->fd >= 0) {
        /* A partial line must not stay in front of the next one (best effort: a torn line
         * left behind is cut at the next open). */
        if (ftruncate(ledger->fd, ledger->size) != 0)
            (void)0;
    }
    pthread_mutex_unlock(&ledger->mutex);
    free(text);
    return status;
}

typedef struct find_context {
    const char *request_id;
    int found;
} find_context;

static cdp_status match_request(void *context, uint64_t seq, json_t *entry) {
    (void)seq;
    find_context *find = context;
    const char *id = json_string_value(json_object_get(entry, "request_id"));
    if (id != NULL && strcmp(id, find->request_id) == 0)
        find->found = 1;
    return CDP_OK;
}

cdp_status cdp_ledger_contains(cdp_ledger *ledger, const char *request_id, int *found,
                               cdp_err *err) {
    find_context find = {.request_id = request_id};
    scan_result scan;
    pthread_mutex_lock(&ledger->mutex);
    cdp_status status = scan_file(ledger->path, 0, match_request, &find, &scan, err);
    pthread_mutex_unlock(&ledger->mutex);
    *found = find.found;
    return status;
}

cdp_status cdp_ledger_foreach(cdp_ledger *ledger, uint64_t after, cdp_ledger_visit visit,
                              void *context, cdp_err *err) {
    scan_result scan;
    return scan_file(ledger->path, after, visit, context, &scan, err);
}

cdp_status cdp_ledger_peek(const char *path, char id[CDP_LEDGER_ID_HEX + 1], uint64_t *position,
                           cdp_err *err) {
    scan_result scan;
    cdp_status status = scan_file(path, 0, NULL, NULL, &scan, err);
    if (status == CDP_OK) {
        memcpy(id, scan.id, CDP_LEDGER_ID_HEX + 1);
        *position = scan.position;
    }
    return status;
}
