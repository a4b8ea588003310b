/* Streaming audit exports: JSON Lines or an Avro object container file, one item at a time. */
#include "audit/export.h"

#include <avro.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/format.h"
#include "audit/log_internal.h"
#include "store/codec.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define AVRO_BLOCK_BYTES (256 * 1024)

cdp_status cdp_audit_format_parse(const char *name, cdp_audit_format *out) {
    if (name != NULL && strcmp(name, "jsonl") == 0) {
        *out = CDP_AUDIT_FORMAT_JSONL;
        return CDP_OK;
    }
    if (name != NULL && strcmp(name, "avro") == 0) {
        *out = CDP_AUDIT_FORMAT_AVRO;
        return CDP_OK;
    }
    return CDP_BAD_REQUEST;
}

void cdp_audit_filter_init(cdp_audit_filter *filter) {
    memset(filter, 0, sizeof *filter);
    filter->decision = -1;
}

typedef struct exporter {
    cdp_audit_log *log;
    audit_view view;
    const cdp_audit_filter *filter;
    cdp_audit_format format;
    cdp_audit_sink sink;
    void *context;
    cdp_status sink_status;
    cdp_err *err;
    int filtered;
    uint64_t first, end;
    uint64_t records, checkpoints;
    crypto_hash_sha256_state digest; /* of every item before the end */
    int sealed;
    cdp_audit_decoder decoder;
    audit_cursor *checkpoint_cursor;
    audit_filter_text filter_text;
    avro_value_iface_t *iface;
    avro_value_t item;
    int item_made;
    FILE *stream;
    avro_file_writer_t writer;
    uint8_t proof[CDP_MERKLE_MAX_HASHES][32];
    char note[CDP_NOTE_MAX + 1];
} exporter;

static cdp_status avro_failed(exporter *x, const char *what) {
    if (x->sink_status != CDP_OK)
        return cdp_err_set(x->err, x->sink_status, "audit export: writing failed");
    return cdp_err_set(x->err, CDP_INTERNAL, "audit export: %s: %s", what, avro_strerror());
}

/* ---- building items ------------------------------------------------------------------------- */

#define TRY(call, what)                                                                            \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            return avro_failed(x, what);                                                           \
    } while (0)

static const char *const branch_names[] = {"header", "record", "checkpoint", "end"};

/* Resets the item to `kind`, every other branch null; *branch is the kind's record. */
static cdp_status item_begin(exporter *x, audit_item_kind kind, avro_value_t *branch) {
    avro_value_t field, chosen;
    TRY(avro_value_reset(&x->item), "reset");
    TRY(avro_value_get_by_name(&x->item, "kind", &field, NULL), "kind");
    TRY(avro_value_set_enum(&field, (int)kind), "kind");
    for (int i = 0; i < 4; i++) {
        if (i == (int)kind)
            continue;
        TRY(avro_value_get_by_name(&x->item, branch_names[i], &field, NULL), branch_names[i]);
        TRY(avro_value_set_branch(&field, 0, &chosen), branch_names[i]);
        TRY(avro_value_set_null(&chosen), branch_names[i]);
    }
    TRY(avro_value_get_by_name(&x->item, branch_names[kind], &field, NULL), branch_names[kind]);
    TRY(avro_value_set_branch(&field, 1, branch), branch_names[kind]);
    return CDP_OK;
}

static cdp_status set_long(exporter *x, avro_value_t *record, const char *name, int64_t value) {
    avro_value_t field;
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): Avro C set it
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_long(&field, value), name);
    return CDP_OK;
}

static cdp_status set_string(exporter *x, avro_value_t *record, const char *name,
                             const char *value) {
    avro_value_t field;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_string(&field, value), name);
    return CDP_OK;
}

/* A ["null", T] field: null, or the branch of T through *branch. */
static cdp_status set_optional(exporter *x, avro_value_t *record, const char *name, int present,
                               avro_value_t *branch) {
    avro_value_t field, chosen;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_branch(&field, present ? 1 : 0, &chosen), name);
    if (!present)
        TRY(avro_value_set_null(&chosen), name);
    *branch = chosen; /* the null branch when absent: harmless, and always set */
    return CDP_OK;
}

static cdp_status set_hashes(exporter *x, avro_value_t *record, const char *name,
                             const uint8_t (*hashes)[32], size_t count) {
    avro_value_t array, element;
    TRY(avro_value_get_by_name(record, name, &array, NULL), name);
    for (size_t i = 0; i < count; i++) {
        TRY(avro_value_append(&array, &element, NULL), name);
        TRY(avro_value_set_bytes(&element, (void *)hashes[i], 32), name);
    }
    return CDP_OK;
}

static cdp_status emit(exporter *x) {
    json_t *line = audit_format_item_json(&x->item);
    cdp_status status = line == NULL ? CDP_NOMEM
                        : x->sealed  ? CDP_OK
                                     : audit_format_digest_item(&x->digest, line);
    char *text = NULL;
    if (status == CDP_OK && x->format == CDP_AUDIT_FORMAT_JSONL)
        text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (status != CDP_OK || (x->format == CDP_AUDIT_FORMAT_JSONL && text == NULL))
        return cdp_err_set(x->err, CDP_NOMEM, "audit export: out of memory for a JSON line");
    if (x->format == CDP_AUDIT_FORMAT_AVRO) {
        if (avro_file_writer_append_value(x->writer, &x->item) != 0)
            return avro_failed(x, "append");
        return CDP_OK;
    }
    if (text == NULL)
        return cdp_err_set(x->err, CDP_NOMEM, "audit export: out of memory for a JSON line");
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: one write per line */
    status = x->sink(x->context, text, len + 1);
    free(text);
    if (status != CDP_OK)
        return cdp_err_set(x->err, status, "audit export: writing failed");
    return CDP_OK;
}

/* ---- items ------------------------------------------------------------------------------------
 */

static cdp_status emit_header(exporter *x, const cdp_merkle_frontier *start) {
    avro_value_t header, field, element, member, branch;
    cdp_status status = item_begin(x, AUDIT_ITEM_HEADER, &header);
    uint8_t public_key[32];
    char hex[65], key_id[9];
    if (status == CDP_OK)
        status = cdp_audit_log_public_key(x->log, public_key, x->err);
    if (status != CDP_OK)
        return status;
    const char *origin = cdp_audit_log_origin(x->log);
    cdp_hex_encode(hex, public_key, 32);
    if ((status = set_string(x, &header, "format", CDP_AUDIT_EXPORT_FORMAT)) != CDP_OK)
        return status;
    TRY(avro_value_get_by_name(&header, "version", &field, NULL), "version");
    TRY(avro_value_set_int(&field, CDP_AUDIT_EXPORT_VERSION), "version");
    if ((status = set_string(x, &header, "region", cdp_audit_log_region(x->log))) != CDP_OK ||
        (status = set_string(x, &header, "origin", origin)) != CDP_OK ||
        (status = set_string(x, &header, "public_key", hex)) != CDP_OK)
        return status;
    audit_epoch_key keys[CDP_AUDIT_MAX_KEYS];
    size_t key_count = audit_log_epoch_keys(x->log, keys, CDP_AUDIT_MAX_KEYS);
    TRY(avro_value_get_by_name(&header, "keys", &field, NULL), "keys");
    for (size_t i = 0; i < key_count; i++) {
        TRY(avro_value_append(&field, &element, NULL), "keys");
        TRY(avro_value_get_by_name(&element, "epoch", &member, NULL), "keys");
        TRY(avro_value_set_int(&member, (int32_t)keys[i].epoch), "keys");
        cdp_hex_encode(hex, keys[i].public_key, 32);
        snprintf(key_id, sizeof key_id, "%08x", cdp_note_key_id(origin, keys[i].public_key));
        if ((status = set_string(x, &element, "public_key", hex)) != CDP_OK ||
            (status = set_string(x, &element, "key_id", key_id)) != CDP_OK)
            return status;
    }
    if ((status = set_string(x, &header, "mode", x->filtered ? "filtered" : "range")) != CDP_OK)
        return status;

    const cdp_audit_filter *filter = x->filter;
    avro_value_t filter_value;
    TRY(avro_value_get_by_name(&header, "filter", &filter_value, NULL), "filter");
    if ((status = set_optional(x, &filter_value, "from", filter->from_ms != 0, &branch)) != CDP_OK)
        return status;
    if (filter->from_ms != 0)
        // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): Avro C set it
        TRY(avro_value_set_long(&branch, filter->from_ms), "from");
    if ((status = set_optional(x, &filter_value, "to", filter->to_ms != 0, &branch)) != CDP_OK)
        return status;
    if (filter->to_ms != 0)
        // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): Avro C set it
        TRY(avro_value_set_long(&branch, filter->to_ms), "to");
    char profile_hex[2 * CDP_PROFILE_ID_BYTES + 1];
    if (filter->profile_id != NULL)
        cdp_hex_encode(profile_hex, filter->profile_id, CDP_PROFILE_ID_BYTES);
    const char *optional_names[] = {"actor_key_id", "profile_id", "operation", "decision"};
    const char *optional_values[] = {
        filter->actor_key_id, filter->profile_id ? profile_hex : NULL, filter->operation,
        filter->decision >= 0 ? cdp_audit_decision_name((cdp_audit_decision)filter->decision)
                              : NULL};
    for (int i = 0; i < 4; i++) {
        status =
            set_optional(x, &filter_value, optional_names[i], optional_values[i] != NULL, &branch);
        if (status != CDP_OK)
            return status;
        if (optional_values[i] != NULL)
            TRY(avro_value_set_string(&branch, optional_values[i]), optional_names[i]);
    }
    audit_format_filter_text(&x->filter_text, filter->from_ms != 0, filter->from_ms,
                             filter->to_ms != 0, filter->to_ms, optional_values[0],
                             optional_values[1], optional_values[2], optional_values[3]);

    if ((status = set_long(x, &header, "first_seq", (int64_t)x->first)) != CDP_OK ||
        (status = set_long(x, &header, "end_seq", (int64_t)x->end)) != CDP_OK ||
        (status = set_long(x, &header, "tree_size", (int64_t)x->view.tree_size)) != CDP_OK ||
        (status = set_string(x, &header, "checkpoint", x->view.checkpoint.note)) != CDP_OK ||
        (status = set_hashes(x, &header, "start_frontier", (const uint8_t(*)[32])start->hashes,
                             start->count)) != CDP_OK)
        return status;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    status =
        set_long(x, &header, "exported_at", (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    return status == CDP_OK ? emit(x) : status;
}

/* Emits the stored checkpoints of size up to `upto` (and at least first) not emitted yet. */
static cdp_status emit_checkpoints(exporter *x, uint64_t upto) {
    uint64_t size = 0;
    cdp_status status = CDP_OK;
    while (status == CDP_OK && audit_cursor_peek(x->checkpoint_cursor, &size) && size <= upto) {
        if (size >= x->first) {
            cdp_audit_checkpoint checkpoint;
            avro_value_t branch;
            size_t count = 0;
            status = audit_cursor_checkpoint(x->checkpoint_cursor, &checkpoint, x->err);
            if (status == CDP_OK && x->filtered)
                status = cdp_merkle_consistency_proof(audit_log_node, x->log, size,
                                                      x->view.tree_size, x->proof, &count, x->err);
            if (status == CDP_OK)
                status = item_begin(x, AUDIT_ITEM_CHECKPOINT, &branch);
            if (status == CDP_OK)
                status = set_long(x, &branch, "tree_size", (int64_t)size);
            if (status == CDP_OK)
                status = set_long(x, &branch, "time", checkpoint.time_ms);
            if (status == CDP_OK)
                status = set_string(x, &branch, "note", checkpoint.note);
            if (status == CDP_OK)
                status = set_hashes(x, &branch, "proof", (const uint8_t(*)[32])x->proof, count);
            if (status == CDP_OK)
                status = emit(x);
            x->checkpoints++;
        }
        audit_cursor_next(x->checkpoint_cursor);
    }
    if (status == CDP_OK)
        status = audit_cursor_status(x->checkpoint_cursor, x->err);
    return status;
}

static int matches(const exporter *x, const cdp_audit_record *record) {
    const cdp_audit_filter *filter = x->filter;
    return (filter->actor_key_id == NULL ||
            strcmp(filter->actor_key_id, record->actor_key_id) == 0) &&
           (filter->operation == NULL || strcmp(filter->operation, record->operation) == 0) &&
           (filter->decision < 0 || filter->decision == (int)record->decision) &&
           (filter->profile_id == NULL ||
            (record->has_profile_id &&
             memcmp(filter->profile_id, record->profile_id, CDP_PROFILE_ID_BYTES) == 0));
}

static cdp_status on_record(void *context, uint64_t seq, const uint8_t *leaf, size_t len) {
    exporter *x = context;
    cdp_status status = emit_checkpoints(x, seq);
    if (status != CDP_OK)
        return status;
    const cdp_audit_record *record = NULL;
    status = cdp_audit_decode(&x->decoder, leaf, len, &record, x->err);
    if (status == CDP_OK && record->seq != seq)
        status = cdp_err_set(x->err, CDP_CORRUPT, "audit: record %" PRIu64 " says seq %" PRIu64,
                             seq, record->seq);
    if (status != CDP_OK || (x->filtered && !matches(x, record)))
        return status;
    size_t count = 0;
    if (x->filtered)
        status = cdp_merkle_inclusion_proof(audit_log_node, x->log, seq, x->view.tree_size,
                                            x->proof, &count, x->err);
    avro_value_t branch, field;
    if (status == CDP_OK)
        status = item_begin(x, AUDIT_ITEM_RECORD, &branch);
    if (status == CDP_OK)
        status = set_long(x, &branch, "seq", (int64_t)seq);
    if (status != CDP_OK)
        return status;
    TRY(avro_value_get_by_name(&branch, "leaf", &field, NULL), "leaf");
    TRY(avro_value_set_bytes(&field, (void *)leaf, len), "leaf");
    TRY(avro_value_get_by_name(&branch, "record", &field, NULL), "record");
    status = cdp_codec_decode(CDP_SCHEMA_AUDIT_RECORD, leaf, len, &field, x->err);
    if (status == CDP_OK)
        status = set_hashes(x, &branch, "proof", (const uint8_t(*)[32])x->proof, count);
    if (status == CDP_OK)
        status = emit(x);
    if (status == CDP_OK)
        x->records++;
    return status;
}

/* Filtered by person: the index gives the seqs, in order. */
static cdp_status export_person(exporter *x) {
    audit_cursor *cursor = NULL;
    cdp_status status = audit_cursor_person(x->log, x->filter->profile_id, &cursor, x->err);
    uint64_t seq = 0;
    while (status == CDP_OK && audit_cursor_peek(cursor, &seq) && seq < x->end) {
        if (seq >= x->first) {
            uint8_t *leaf = NULL;
            size_t len = 0;
            status = audit_log_read_leaf(x->log, seq, &leaf, &len, x->err);
            if (status == CDP_OK)
                status = on_record(x, seq, leaf, len);
            cdp_region_free_value(leaf);
        }
        audit_cursor_next(cursor);
    }
    if (status == CDP_OK && cursor != NULL)
        status = audit_cursor_status(cursor, x->err);
    audit_cursor_free(cursor);
    return status;
}

static cdp_status emit_end(exporter *x) {
    size_t count = 0;
    cdp_status status = CDP_OK;
    if (!x->filtered)
        status = cdp_merkle_consistency_proof(audit_log_node, x->log, x->end, x->view.tree_size,
                                              x->proof, &count, x->err);
    uint8_t digest[32];
    crypto_hash_sha256_final(&x->digest, digest);
    x->sealed = 1;
    char text[1024];
    if (status == CDP_OK)
        status = audit_format_seal_text(
            text, sizeof text, cdp_audit_log_region(x->log), x->filtered ? "filtered" : "range",
            x->filter_text.text, x->first, x->end, x->view.tree_size, x->view.checkpoint.root,
            x->records, x->checkpoints, digest, x->err);
    if (status == CDP_OK)
        status = audit_log_sign(x->log, text, x->note, sizeof x->note, x->err);
    avro_value_t branch;
    if (status == CDP_OK)
        status = item_begin(x, AUDIT_ITEM_END, &branch);
    if (status == CDP_OK)
        status = set_long(x, &branch, "records", (int64_t)x->records);
    if (status == CDP_OK)
        status = set_long(x, &branch, "checkpoints", (int64_t)x->checkpoints);
    if (status == CDP_OK)
        status = set_hashes(x, &branch, "consistency", (const uint8_t(*)[32])x->proof, count);
    if (status == CDP_OK)
        status = set_string(x, &branch, "seal", x->note);
    return status == CDP_OK ? emit(x) : status;
}

static ssize_t stream_write(void *cookie, const char *bytes, size_t len) {
    exporter *x = cookie;
    if (x->sink_status != CDP_OK)
        return -1;
    x->sink_status = x->sink(x->context, bytes, len);
    return x->sink_status == CDP_OK ? (ssize_t)len : -1;
}

static cdp_status check_filter(const cdp_audit_filter *filter, cdp_err *err) {
    if (filter->from_ms < 0 || filter->to_ms < 0 ||
        (filter->from_ms != 0 && filter->to_ms != 0 && filter->from_ms > filter->to_ms))
        return cdp_err_set(err, CDP_BAD_REQUEST, "audit export: bad time range");
    if ((filter->actor_key_id != NULL && !cdp_audit_token_ok(filter->actor_key_id)) ||
        (filter->operation != NULL && !cdp_audit_token_ok(filter->operation)))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "audit export: actor and operation filters are [A-Za-z0-9_.:-] tokens");
    if (filter->decision < -1 || filter->decision > CDP_AUDIT_DENY)
        return cdp_err_set(err, CDP_BAD_REQUEST, "audit export: unknown decision");
    return CDP_OK;
}

/* Runs the export under a read view. */
static cdp_status export_items(exporter *x) {
    cdp_err *err = x->err;
    const cdp_audit_filter *filter = x->filter;
    uint64_t start = x->view.start, size = x->view.tree_size;
    cdp_status status = CDP_OK;
    x->first = start;
    x->end = size;
    if (filter->from_ms != 0)
        status = audit_log_seq_at_time(x->log, start, size, filter->from_ms, &x->first, err);
    if (status == CDP_OK && filter->to_ms != 0 && filter->to_ms < INT64_MAX)
        status = audit_log_seq_at_time(x->log, x->first, size, filter->to_ms + 1, &x->end, err);
    cdp_merkle_frontier start_frontier;
    cdp_merkle_frontier_init(&start_frontier);
    if (status == CDP_OK && !x->filtered)
        status = cdp_merkle_frontier_at(audit_log_node, x->log, x->first, &start_frontier, err);
    if (status == CDP_OK)
        status = audit_cursor_checkpoints(x->log, &x->checkpoint_cursor, err);
    if (status == CDP_OK && x->format == CDP_AUDIT_FORMAT_AVRO) {
        cookie_io_functions_t io = {.write = stream_write};
        avro_schema_t schema = NULL;
        avro_value_iface_t *iface = NULL;
        status = audit_format_schema(&schema, &iface, err);
        if (status == CDP_OK && (x->stream = fopencookie(x, "w", io)) == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "audit export: no stream");
        if (status == CDP_OK &&
            avro_file_writer_create_with_codec_fp(x->stream, "audit-export", 1, schema, &x->writer,
                                                  "deflate", AVRO_BLOCK_BYTES) != 0) {
            status = avro_failed(x, "container file");
            fclose(x->stream); /* the writer did not take it */
        }
        x->stream = NULL;
    }
    if (status == CDP_OK)
        status = emit_header(x, &start_frontier);
    if (status == CDP_OK && x->filtered && filter->profile_id != NULL)
        status = export_person(x);
    else if (status == CDP_OK)
        status = audit_log_scan(x->log, x->first, x->end, on_record, x, err);
    if (status == CDP_OK)
        status = emit_checkpoints(x, x->end);
    if (status == CDP_OK)
        status = emit_end(x);
    if (x->writer != NULL) {
        if (avro_file_writer_close(x->writer) != 0 && status == CDP_OK)
            status = avro_failed(x, "close");
        x->writer = NULL;
    }
    return status;
}

cdp_status cdp_audit_export(cdp_audit_log *log, const cdp_audit_filter *filter,
                            cdp_audit_format format, cdp_audit_sink sink, void *context,
                            cdp_audit_export_stats *stats, cdp_err *err) {
    cdp_audit_filter everything;
    if (filter == NULL) {
        cdp_audit_filter_init(&everything);
        filter = &everything;
    }
    if (log == NULL || sink == NULL ||
        (format != CDP_AUDIT_FORMAT_JSONL && format != CDP_AUDIT_FORMAT_AVRO))
        return cdp_err_set(err, CDP_MISUSE, "audit export: NULL log or sink, or bad format");
    cdp_status status = check_filter(filter, err);
    if (status != CDP_OK)
        return status;
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    if ((status = audit_format_schema(&schema, &iface, err)) != CDP_OK)
        return status;
    exporter *x = cdp_calloc(1, sizeof *x);
    if (x == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit export: out of memory");
    x->log = log;
    x->filter = filter;
    x->format = format;
    x->sink = sink;
    x->context = context;
    x->err = err;
    x->iface = iface;
    x->filtered = filter->actor_key_id != NULL || filter->profile_id != NULL ||
                  filter->operation != NULL || filter->decision >= 0;
    crypto_hash_sha256_init(&x->digest);
    if (avro_generic_value_new(iface, &x->item) != 0)
        status = cdp_err_set(err, CDP_NOMEM, "audit export: %s", avro_strerror());
    else
        x->item_made = 1;
    if (status == CDP_OK)
        status = audit_log_begin_read(log, &x->view, err);
    if (status == CDP_OK) {
        status = export_items(x);
        audit_log_end_read(log);
    }
    if (status == CDP_OK && stats != NULL) {
        stats->records = x->records;
        stats->checkpoints = x->checkpoints;
        stats->first_seq = x->first;
        stats->end_seq = x->end;
        stats->tree_size = x->view.tree_size;
        stats->filtered = x->filtered;
    }
    audit_cursor_free(x->checkpoint_cursor);
    cdp_audit_decoder_clear(&x->decoder);
    if (x->item_made)
        avro_value_decref(&x->item);
    cdp_free(x);
    return status;
}

static cdp_status file_sink(void *context, const void *bytes, size_t len) {
    return fwrite(bytes, 1, len, (FILE *)context) == len ? CDP_OK : CDP_IO;
}

cdp_status cdp_audit_export_file(cdp_audit_log *log, const cdp_audit_filter *filter,
                                 cdp_audit_format format, FILE *out, cdp_audit_export_stats *stats,
                                 cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit export: NULL stream");
    cdp_status status = cdp_audit_export(log, filter, format, file_sink, out, stats, err);
    if (status == CDP_OK && fflush(out) != 0)
        status = cdp_err_set(err, CDP_IO, "audit export: writing failed");
    return status;
}
