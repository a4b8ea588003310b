/* Offline verification of audit exports: needs only the file and the region's public key.
 * Both formats become the same JSON items (an Avro file through our own container reader, which
 * bounds every length and validates each datum before Avro C decodes it), checked in one pass
 * in constant memory. */
#include "audit/export.h"

#include <avro.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "audit/format.h"
#include "store/codec.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define OCF_MAX_BLOCK (64u << 20)
#define OCF_MAX_META 64

typedef struct verifier {
    uint8_t trusted[32];
    cdp_audit_verify_report *report;
    cdp_err *err;
    uint64_t line;
    int64_t seq; /* the record being checked, -1 otherwise */
    int have_header, ended, filtered;
    char region[CDP_REGION_NAME_MAX + 1];
    char origin[CDP_CHECKPOINT_ORIGIN_MAX + 1];
    uint64_t first, end, tree_size;
    uint8_t root[32];
    uint8_t keys[CDP_AUDIT_MAX_KEYS + 1][32];
    size_t key_count;
    cdp_merkle_frontier frontier; /* range mode: the tree so far */
    uint64_t segment_start;       /* range mode: first seq after the last checkpoint */
    int has_last;
    uint64_t last_seq; /* filtered mode */
    int has_checkpoint;
    uint64_t last_checkpoint;
    uint64_t records, checkpoints;
    crypto_hash_sha256_state digest;
    cdp_audit_decoder decoder;
    int has_from, has_to, decision;
    int64_t from_ms, to_ms;
    char actor[CDP_AUDIT_TOKEN_MAX + 1], operation[CDP_AUDIT_TOKEN_MAX + 1];
    char profile[2 * CDP_PROFILE_ID_BYTES + 1];
    audit_filter_text filter_text;
    uint8_t leaf[CDP_AUDIT_MAX_LEAF];
    uint8_t proof[CDP_MERKLE_MAX_HASHES][32];
} verifier;

/* Records where and why verification failed; evaluates to status. */
__attribute__((format(printf, 3, 4))) static void report_failure(verifier *v, cdp_status status,
                                                                 const char *format, ...) {
    char message[CDP_ERR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    const char *unit = v->report->format == CDP_AUDIT_FORMAT_AVRO ? "item" : "line";
    if (v->report->line == 0) {
        v->report->line = v->line;
        v->report->seq = v->seq;
        snprintf(v->report->message, sizeof v->report->message, "%s", message);
    }
    if (v->seq >= 0)
        cdp_err_set(v->err, status, "%s %" PRIu64 " (seq %" PRId64 "): %s", unit, v->line, v->seq,
                    message);
    else if (v->line > 0)
        cdp_err_set(v->err, status, "%s %" PRIu64 ": %s", unit, v->line, message);
    else
        cdp_err_set(v->err, status, "%s", message);
}
#define fail(v, status, ...) (report_failure((v), (status), __VA_ARGS__), (status))

/* ---- JSON helpers ------------------------------------------------------------------------- */

static int get_u64(json_t *object, const char *key, uint64_t *out) {
    json_t *value = json_object_get(object, key);
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(value);
    return 0;
}

static const char *get_string(json_t *object, const char *key) {
    return json_string_value(json_object_get(object, key));
}

/* Exactly these keys, no others. */
static int has_exactly(json_t *object, const char *const *keys, size_t count) {
    if (json_object_size(object) != count)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (json_object_get(object, keys[i]) == NULL)
            return 0;
    return 1;
}

static int get_hashes(json_t *array, uint8_t out[CDP_MERKLE_MAX_HASHES][32], size_t *count) {
    *count = 0;
    if (!json_is_array(array) || json_array_size(array) > CDP_MERKLE_MAX_HASHES)
        return -1;
    for (size_t i = 0; i < json_array_size(array); i++) {
        json_t *item = json_array_get(array, i);
        if (!json_is_string(item) || cdp_audit_base64_decode(out[i], 32, json_string_value(item),
                                                             json_string_length(item)) != 0)
            return -1;
    }
    *count = json_array_size(array);
    return 0;
}

/* An optional token of the filter: absent (null) or a token copied to out. */
static int get_filter_token(json_t *filter, const char *key, char *out, size_t cap, int *has) {
    json_t *value = json_object_get(filter, key);
    *has = 0;
    if (json_is_null(value))
        return 0;
    if (!json_is_string(value) || !cdp_audit_token_ok(json_string_value(value)) ||
        json_string_length(value) >= cap)
        return -1;
    snprintf(out, cap, "%s", json_string_value(value));
    *has = 1;
    return 0;
}

/* ---- items ---------------------------------------------------------------------------------- */

static cdp_status verify_header(verifier *v, json_t *line) {
    static const char *const keys[] = {"type",       "format",         "version",    "region",
                                       "origin",     "public_key",     "keys",       "mode",
                                       "filter",     "first_seq",      "end_seq",    "tree_size",
                                       "checkpoint", "start_frontier", "exported_at"};
    if (!has_exactly(line, keys, sizeof keys / sizeof keys[0]))
        return fail(v, CDP_CORRUPT, "the header does not have the fields of %s version %d",
                    CDP_AUDIT_EXPORT_FORMAT, CDP_AUDIT_EXPORT_VERSION);
    const char *format = get_string(line, "format"), *region = get_string(line, "region");
    const char *origin = get_string(line, "origin"), *mode = get_string(line, "mode");
    json_t *version = json_object_get(line, "version");
    if (format == NULL || strcmp(format, CDP_AUDIT_EXPORT_FORMAT) != 0 ||
        !json_is_integer(version) || json_integer_value(version) != CDP_AUDIT_EXPORT_VERSION)
        return fail(v, CDP_CORRUPT, "not a %s version %d", CDP_AUDIT_EXPORT_FORMAT,
                    CDP_AUDIT_EXPORT_VERSION);
    if (region == NULL || cdp_checkpoint_origin(v->origin, region, NULL) != CDP_OK ||
        origin == NULL || strcmp(origin, v->origin) != 0)
        return fail(v, CDP_CORRUPT, "bad region or origin");
    snprintf(v->region, sizeof v->region, "%s", region);
    snprintf(v->report->region, sizeof v->report->region, "%s", region);
    if (mode == NULL || (strcmp(mode, "range") != 0 && strcmp(mode, "filtered") != 0))
        return fail(v, CDP_CORRUPT, "mode must be range or filtered");
    v->filtered = strcmp(mode, "filtered") == 0;
    snprintf(v->report->mode, sizeof v->report->mode, "%s", mode);

    /* Keys of other epochs may sign intermediate checkpoints; the trusted key comes first. */
    memcpy(v->keys[0], v->trusted, 32);
    v->key_count = 1;
    json_t *key_list = json_object_get(line, "keys");
    if (!json_is_array(key_list) || json_array_size(key_list) > CDP_AUDIT_MAX_KEYS)
        return fail(v, CDP_CORRUPT, "keys must be a list of at most %d", CDP_AUDIT_MAX_KEYS);
    for (size_t i = 0; i < json_array_size(key_list); i++) {
        const char *hex = get_string(json_array_get(key_list, i), "public_key");
        if (hex == NULL || cdp_hex_decode(v->keys[v->key_count], 32, hex, strlen(hex)) != 0)
            return fail(v, CDP_CORRUPT, "keys[%zu].public_key is not 64 hex characters", i);
        if (memcmp(v->keys[v->key_count], v->trusted, 32) != 0)
            v->key_count++;
    }

    json_t *filter = json_object_get(line, "filter");
    int has_actor = 0, has_operation = 0, has_profile = 0, has_decision = 0;
    char decision[16] = "";
    json_t *from = json_object_get(filter, "from"), *to = json_object_get(filter, "to");
    if (!json_is_object(filter) || json_object_size(filter) != 6 ||
        !(json_is_null(from) || json_is_integer(from)) ||
        !(json_is_null(to) || json_is_integer(to)) ||
        get_filter_token(filter, "actor_key_id", v->actor, sizeof v->actor, &has_actor) != 0 ||
        get_filter_token(filter, "operation", v->operation, sizeof v->operation, &has_operation) !=
            0 ||
        get_filter_token(filter, "profile_id", v->profile, sizeof v->profile, &has_profile) != 0 ||
        get_filter_token(filter, "decision", decision, sizeof decision, &has_decision) != 0)
        return fail(v, CDP_CORRUPT, "malformed filter");
    v->has_from = json_is_integer(from);
    v->from_ms = v->has_from ? json_integer_value(from) : 0;
    v->has_to = json_is_integer(to);
    v->to_ms = v->has_to ? json_integer_value(to) : 0;
    v->decision = -1;
    cdp_audit_decision parsed;
    if (has_decision) {
        if (cdp_audit_decision_parse(decision, &parsed) != CDP_OK)
            return fail(v, CDP_CORRUPT, "unknown decision in the filter");
        v->decision = (int)parsed;
    }
    if (!has_actor)
        v->actor[0] = '\0';
    if (!has_operation)
        v->operation[0] = '\0';
    if (!has_profile)
        v->profile[0] = '\0';
    if (v->filtered != (has_actor || has_operation || has_profile || has_decision))
        return fail(v, CDP_CORRUPT, "mode %s does not fit the filter", mode);
    audit_format_filter_text(&v->filter_text, v->has_from, v->from_ms, v->has_to, v->to_ms,
                             has_actor ? v->actor : NULL, has_profile ? v->profile : NULL,
                             has_operation ? v->operation : NULL, has_decision ? decision : NULL);

    if (get_u64(line, "first_seq", &v->first) != 0 || get_u64(line, "end_seq", &v->end) != 0 ||
        get_u64(line, "tree_size", &v->tree_size) != 0 || v->first > v->end ||
        v->end > v->tree_size)
        return fail(v, CDP_CORRUPT, "first_seq <= end_seq <= tree_size does not hold");
    v->report->first_seq = v->first;
    v->report->end_seq = v->end;
    v->report->tree_size = v->tree_size;

    /* The final checkpoint: the one thing the given key must have signed for the tree. */
    const char *note = get_string(line, "checkpoint");
    size_t note_len = note ? strlen(note) : 0, text_len = 0;
    cdp_checkpoint_body body;
    cdp_err detail = {0};
    if (note == NULL || cdp_note_text_length(note, note_len, &text_len, &detail) != CDP_OK ||
        cdp_checkpoint_parse(note, text_len, &body, &detail) != CDP_OK)
        return fail(v, CDP_CORRUPT, "the final checkpoint is malformed: %s", detail.message);
    cdp_status status = cdp_note_verify(note, note_len, v->origin, v->trusted, &detail);
    if (status == CDP_NOT_FOUND) {
        const char *named = get_string(line, "public_key");
        return fail(v, CDP_CRYPTO,
                    "the final checkpoint is not signed by the given public key (the export "
                    "names key %s)",
                    named ? named : "?");
    }
    if (status != CDP_OK)
        return fail(v, CDP_CRYPTO, "the final checkpoint's signature does not verify: %s",
                    detail.message);
    if (strcmp(body.origin, v->origin) != 0 || body.tree_size != v->tree_size)
        return fail(v, CDP_CRYPTO,
                    "the final checkpoint is of %s size %" PRIu64 ", not %s %" PRIu64, body.origin,
                    body.tree_size, v->origin, v->tree_size);
    memcpy(v->root, body.root, 32);
    memcpy(v->report->root, body.root, 32);

    size_t count = 0;
    if (get_hashes(json_object_get(line, "start_frontier"), v->frontier.hashes, &count) != 0)
        return fail(v, CDP_CORRUPT, "start_frontier is not a list of base64 hashes");
    v->frontier.size = v->first;
    v->frontier.count = count;
    if (v->filtered ? count != 0 : !cdp_merkle_frontier_well_formed(&v->frontier))
        return fail(v, CDP_CORRUPT,
                    "start_frontier has %zu hashes, which does not fit seq %" PRIu64, count,
                    v->first);
    if (!json_is_integer(json_object_get(line, "exported_at")))
        return fail(v, CDP_CORRUPT, "exported_at is not a number");
    v->segment_start = v->first;
    v->have_header = 1;
    return CDP_OK;
}

/* Names the first field where the readable record and the leaf's decoding differ. */
static const char *first_difference(json_t *expected, json_t *given) {
    const char *key = NULL;
    json_t *value = NULL;
    if (!json_is_object(given))
        return "record";
    json_object_foreach(expected, key, value) {
        if (!json_equal(value, json_object_get(given, key)))
            return key;
    }
    json_object_foreach(given, key, value) {
        if (json_object_get(expected, key) == NULL)
            return key;
    }
    return NULL;
}

static int record_matches(const verifier *v, const cdp_audit_record *record) {
    char profile[2 * CDP_PROFILE_ID_BYTES + 1] = "";
    if (record->has_profile_id)
        cdp_hex_encode(profile, record->profile_id, CDP_PROFILE_ID_BYTES);
    return (v->actor[0] == '\0' || strcmp(v->actor, record->actor_key_id) == 0) &&
           (v->operation[0] == '\0' || strcmp(v->operation, record->operation) == 0) &&
           (v->profile[0] == '\0' || strcmp(v->profile, profile) == 0) &&
           (v->decision < 0 || v->decision == (int)record->decision);
}

static cdp_status verify_record(verifier *v, json_t *line) {
    static const char *const keys[] = {"type", "seq", "leaf", "record", "proof"};
    uint64_t seq = 0;
    if (get_u64(line, "seq", &seq) != 0 || !has_exactly(line, keys, 5))
        return fail(v, CDP_CORRUPT, "a record needs exactly seq, leaf, record and proof");
    v->seq = (int64_t)seq;
    if (!v->filtered && seq != v->frontier.size)
        return seq > v->frontier.size
                   ? fail(v, CDP_CRYPTO,
                          "record seq %" PRIu64 " is missing (the next record is seq %" PRIu64 ")",
                          v->frontier.size, seq)
                   : fail(v, CDP_CRYPTO, "out of order: seq %" PRIu64 " after seq %" PRIu64, seq,
                          v->frontier.size - 1);
    if (v->filtered && v->has_last && seq <= v->last_seq)
        return fail(v, CDP_CRYPTO, "out of order: seq %" PRIu64 " after seq %" PRIu64, seq,
                    v->last_seq);
    if (seq < v->first || seq >= v->end)
        return fail(v, CDP_CRYPTO,
                    "seq %" PRIu64 " is outside the exported range [%" PRIu64 ", %" PRIu64 ")", seq,
                    v->first, v->end);

    json_t *leaf64 = json_object_get(line, "leaf");
    size_t leaf_len = 0;
    const char *end = NULL;
    if (!json_is_string(leaf64) ||
        sodium_base642bin(v->leaf, sizeof v->leaf, json_string_value(leaf64),
                          json_string_length(leaf64), NULL, &leaf_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != json_string_value(leaf64) + json_string_length(leaf64))
        return fail(v, CDP_CRYPTO, "leaf is not base64 (or longer than %d bytes)",
                    CDP_AUDIT_MAX_LEAF);
    const cdp_audit_record *record = NULL;
    cdp_err detail = {0};
    if (cdp_audit_decode(&v->decoder, v->leaf, leaf_len, &record, &detail) != CDP_OK)
        return fail(v, CDP_CRYPTO, "the leaf does not decode: %s", detail.message);
    json_t *expected = cdp_audit_record_json(record);
    if (expected == NULL)
        return fail(v, CDP_NOMEM, "out of memory");
    const char *differs = first_difference(expected, json_object_get(line, "record"));
    char field[64] = "";
    if (differs != NULL) /* the name belongs to the objects */
        snprintf(field, sizeof field, "%s", differs);
    json_decref(expected);
    if (differs != NULL)
        return fail(v, CDP_CRYPTO, "the readable field \"%s\" does not match the leaf bytes",
                    field);
    if (record->seq != seq || strcmp(record->region, v->region) != 0)
        return fail(v, CDP_CRYPTO, "the leaf is record %" PRIu64 " of region %s", record->seq,
                    record->region);
    if ((v->has_from && record->time_ms < v->from_ms) || (v->has_to && record->time_ms > v->to_ms))
        return fail(v, CDP_CRYPTO, "time %" PRId64 " is outside the exported time range",
                    record->time_ms);
    if (v->filtered && !record_matches(v, record))
        return fail(v, CDP_CRYPTO, "the record does not match the export's filter");

    uint8_t leaf_hash[32];
    cdp_merkle_leaf_hash(leaf_hash, v->leaf, leaf_len);
    size_t count = 0;
    if (get_hashes(json_object_get(line, "proof"), v->proof, &count) != 0)
        return fail(v, CDP_CORRUPT, "proof is not a list of base64 hashes");
    if (v->filtered) {
        if (!cdp_merkle_verify_inclusion(seq, v->tree_size, leaf_hash,
                                         (const uint8_t(*)[32])v->proof, count, v->root))
            return fail(v, CDP_CRYPTO,
                        "the inclusion proof does not lead to the root of the final checkpoint");
        v->has_last = 1;
        v->last_seq = seq;
    } else {
        cdp_merkle_node completed[CDP_MERKLE_MAX_HASHES];
        size_t completed_count = 0;
        if (count != 0)
            return fail(v, CDP_CORRUPT, "a range export carries no per-record proofs");
        cdp_merkle_frontier_append(&v->frontier, leaf_hash, completed, &completed_count);
    }
    v->records++;
    v->report->records = v->records;
    return CDP_OK;
}

/* Checks a note's signatures: every known key that signed must verify, and one must have. */
static cdp_status verify_signatures(verifier *v, const char *note, size_t len, const char *what) {
    size_t verified = 0;
    cdp_err detail = {0};
    for (size_t i = 0; i < v->key_count; i++) {
        cdp_status status = cdp_note_verify(note, len, v->origin, v->keys[i], &detail);
        if (status == CDP_OK)
            verified++;
        else if (status != CDP_NOT_FOUND)
            return fail(v, CDP_CRYPTO, "%s: %s", what, detail.message);
    }
    if (verified == 0)
        return fail(v, CDP_CRYPTO, "%s is not signed by the given key or a key of the export",
                    what);
    return CDP_OK;
}

static cdp_status verify_checkpoint(verifier *v, json_t *line) {
    static const char *const keys[] = {"type", "tree_size", "time", "note", "proof"};
    uint64_t size = 0;
    const char *note = get_string(line, "note");
    if (!has_exactly(line, keys, 5) || get_u64(line, "tree_size", &size) != 0 || note == NULL ||
        !json_is_integer(json_object_get(line, "time")))
        return fail(v, CDP_CORRUPT, "a checkpoint needs exactly tree_size, time, note and proof");
    char what[64];
    snprintf(what, sizeof what, "the checkpoint of size %" PRIu64, size);
    size_t note_len = strlen(note), text_len = 0;
    cdp_checkpoint_body body;
    cdp_err detail = {0};
    if (cdp_note_text_length(note, note_len, &text_len, &detail) != CDP_OK ||
        cdp_checkpoint_parse(note, text_len, &body, &detail) != CDP_OK)
        return fail(v, CDP_CRYPTO, "%s is malformed: %s", what, detail.message);
    if (strcmp(body.origin, v->origin) != 0 || body.tree_size != size)
        return fail(v, CDP_CRYPTO, "%s says %s size %" PRIu64, what, body.origin, body.tree_size);
    cdp_status status = verify_signatures(v, note, note_len, what);
    if (status != CDP_OK)
        return status;
    if ((v->has_checkpoint && size <= v->last_checkpoint) || size < v->first || size > v->end)
        return fail(v, CDP_CRYPTO, "%s is out of order or outside [%" PRIu64 ", %" PRIu64 "]", what,
                    v->first, v->end);
    size_t count = 0;
    if (get_hashes(json_object_get(line, "proof"), v->proof, &count) != 0)
        return fail(v, CDP_CORRUPT, "proof is not a list of base64 hashes");
    if (v->filtered) {
        if (!cdp_merkle_verify_consistency(size, v->tree_size, body.root, v->root,
                                           (const uint8_t(*)[32])v->proof, count))
            return fail(v, CDP_CRYPTO, "%s is not consistent with the final checkpoint", what);
    } else {
        uint8_t root[32];
        if (size != v->frontier.size)
            return fail(v, CDP_CRYPTO,
                        "%s comes after record seq %" PRIu64 ": records seq %" PRIu64 "..%" PRIu64
                        " are missing",
                        what, v->frontier.size - 1, v->frontier.size, size - 1);
        cdp_merkle_frontier_root(&v->frontier, root);
        if (memcmp(root, body.root, 32) != 0)
            return fail(v, CDP_CRYPTO,
                        "%s does not match the records before it: a record of seq %" PRIu64
                        "..%" PRIu64 " was altered",
                        what, v->segment_start, size - 1);
        v->segment_start = size;
    }
    v->has_checkpoint = 1;
    v->last_checkpoint = size;
    v->checkpoints++;
    v->report->checkpoints = v->checkpoints;
    return CDP_OK;
}

static cdp_status verify_end(verifier *v, json_t *line) {
    static const char *const keys[] = {"type", "records", "checkpoints", "consistency", "seal"};
    uint64_t records = 0, checkpoints = 0;
    const char *seal = get_string(line, "seal");
    size_t count = 0;
    if (!has_exactly(line, keys, 5) || get_u64(line, "records", &records) != 0 ||
        get_u64(line, "checkpoints", &checkpoints) != 0 || seal == NULL ||
        get_hashes(json_object_get(line, "consistency"), v->proof, &count) != 0)
        return fail(v, CDP_CORRUPT,
                    "the end needs exactly records, checkpoints, consistency and "
                    "seal");
    if (!v->filtered) {
        if (v->frontier.size != v->end)
            return fail(v, CDP_CRYPTO,
                        "the export ends early: records seq %" PRIu64 "..%" PRIu64 " are missing",
                        v->frontier.size, v->end - 1);
        uint8_t root[32];
        cdp_merkle_frontier_root(&v->frontier, root);
        if (!cdp_merkle_verify_consistency(v->end, v->tree_size, root, v->root,
                                           (const uint8_t(*)[32])v->proof, count))
            return fail(v, CDP_CRYPTO,
                        "the records do not lead to the final checkpoint: a record of seq %" PRIu64
                        "..%" PRIu64 " was altered",
                        v->segment_start, v->end ? v->end - 1 : 0);
    } else if (count != 0) {
        return fail(v, CDP_CORRUPT, "a filtered export ends without a consistency proof");
    }
    if (records != v->records || checkpoints != v->checkpoints)
        return fail(v, CDP_CRYPTO,
                    "the end counts %" PRIu64 " records and %" PRIu64
                    " checkpoints; the file holds %" PRIu64 " and %" PRIu64,
                    records, checkpoints, v->records, v->checkpoints);
    uint8_t digest[32];
    char expected[1024];
    crypto_hash_sha256_final(&v->digest, digest);
    cdp_err detail = {0};
    if (audit_format_seal_text(expected, sizeof expected, v->region,
                               v->filtered ? "filtered" : "range", v->filter_text.text, v->first,
                               v->end, v->tree_size, v->root, v->records, v->checkpoints, digest,
                               &detail) != CDP_OK)
        return fail(v, CDP_CORRUPT, "%s", detail.message);
    size_t seal_len = strlen(seal), text_len = 0;
    cdp_status status = cdp_note_verify(seal, seal_len, v->origin, v->trusted, &detail);
    if (status == CDP_OK)
        status = cdp_note_text_length(seal, seal_len, &text_len, &detail);
    if (status != CDP_OK)
        return fail(v, CDP_CRYPTO, "the seal is not signed by the given key: %s", detail.message);
    if (text_len != strlen(expected) || memcmp(seal, expected, text_len) != 0)
        return fail(v, CDP_CRYPTO,
                    "the seal does not match the export (its records, range, "
                    "filter or counts were changed)");
    v->ended = 1;
    return CDP_OK;
}

static cdp_status verify_item(verifier *v, json_t *line) {
    v->seq = -1;
    if (v->ended)
        return fail(v, CDP_CRYPTO, "content after the end of the export");
    const char *type = get_string(line, "type");
    if (!json_is_object(line) || type == NULL)
        return fail(v, CDP_CORRUPT, "not an export item (no \"type\")");
    if (strcmp(type, "end") != 0 && audit_format_digest_item(&v->digest, line) != CDP_OK)
        return fail(v, CDP_NOMEM, "out of memory");
    if (!v->have_header) {
        if (strcmp(type, "header") != 0)
            return fail(v, CDP_CORRUPT, "the export does not start with a header");
        return verify_header(v, line);
    }
    if (strcmp(type, "record") == 0)
        return verify_record(v, line);
    if (strcmp(type, "checkpoint") == 0)
        return verify_checkpoint(v, line);
    if (strcmp(type, "end") == 0)
        return verify_end(v, line);
    return fail(v, CDP_CORRUPT, "unexpected item type \"%s\"", type);
}

/* ---- JSON Lines ----------------------------------------------------------------------------- */

static cdp_status verify_jsonl(verifier *v, FILE *in, const uint8_t *prefix, size_t prefix_len) {
    cdp_buf line = {0};
    cdp_status status = CDP_OK;
    size_t pending = 0;
    int c = 0;
    for (;;) {
        cdp_buf_reset(&line);
        int at_eof = 0;
        for (;;) {
            c = pending < prefix_len ? prefix[pending++] : getc(in);
            if (c == EOF) {
                at_eof = 1;
                break;
            }
            if (c == '\n')
                break;
            if (line.len >= CDP_AUDIT_MAX_LINE) {
                v->line++;
                status = fail(v, CDP_CORRUPT, "line longer than %u bytes", CDP_AUDIT_MAX_LINE);
                goto done;
            }
            uint8_t byte = (uint8_t)c;
            if (cdp_buf_append(&line, &byte, 1) != CDP_OK) {
                status = fail(v, CDP_NOMEM, "out of memory");
                goto done;
            }
        }
        if (ferror(in)) {
            status = fail(v, CDP_IO, "read error");
            goto done;
        }
        if (at_eof && line.len == 0)
            break;
        v->line++;
        json_error_t error;
        json_t *item =
            json_loadb((const char *)line.data, line.len, JSON_REJECT_DUPLICATES, &error);
        if (item == NULL) {
            status = fail(v, CDP_CORRUPT, "not JSON: %s", error.text);
            goto done;
        }
        status = verify_item(v, item);
        json_decref(item);
        if (status != CDP_OK || at_eof)
            break;
    }
done:
    cdp_buf_free(&line);
    return status;
}

/* ---- Avro object container files ------------------------------------------------------------ */

/* 0: a long read; 1: clean end of file before its first byte; -1: malformed or cut. */
static int read_long(FILE *in, int64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        int c = getc(in);
        if (c == EOF)
            return shift == 0 && !ferror(in) ? 1 : -1;
        if (shift == 63 && (c & 0x7e))
            return -1;
        value |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
            return 0;
        }
    }
    return -1;
}

static int read_exact(FILE *in, cdp_buf *buf, size_t len) {
    cdp_buf_reset(buf);
    if (cdp_buf_reserve(buf, len + 1) != CDP_OK)
        return -1;
    if (len > 0 && fread(buf->data, 1, len, in) != len)
        return -1;
    buf->len = len;
    return 0;
}

static cdp_status inflate_block(verifier *v, const cdp_buf *in, cdp_buf *out) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (inflateInit2(&stream, -15) != Z_OK)
        return fail(v, CDP_NOMEM, "no memory for inflate");
    cdp_buf_reset(out);
    stream.next_in = in->data;
    stream.avail_in = (uInt)in->len;
    cdp_status status = CDP_OK;
    int result = Z_OK;
    while (result != Z_STREAM_END) {
        if (out->len >= OCF_MAX_BLOCK) {
            status = fail(v, CDP_CORRUPT, "a block inflates beyond %u bytes", OCF_MAX_BLOCK);
            break;
        }
        if (cdp_buf_reserve(out, 65536) != CDP_OK) {
            status = fail(v, CDP_NOMEM, "out of memory");
            break;
        }
        stream.next_out = out->data + out->len;
        stream.avail_out = (uInt)(out->cap - out->len);
        result = inflate(&stream, Z_NO_FLUSH);
        out->len = out->cap - stream.avail_out;
        if (result != Z_OK && result != Z_STREAM_END) {
            status = fail(v, CDP_CORRUPT, "a block does not inflate");
            break;
        }
        if (result == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
            status = fail(v, CDP_CORRUPT, "a block's deflate stream is cut");
            break;
        }
    }
    inflateEnd(&stream);
    return status;
}

/* 1 if json (hostile, NUL-terminated, len bytes) is the schema of our exports, compared by
 * Parsing Canonical Form computed by our own parser (cdp_codec_canonical_form); 0 if not; -1 when
 * out of memory. Hostile text never reaches Avro C's schema parser: on some malformed schemas
 * avro_schema_from_json_length frees the schema it was building yet leaves the caller's pointer
 * set to it (a use after free on the caller's decref) and leaks parts of it (fuzz_audit_verify,
 * tests/fuzz/regressions/audit_verify/). */
static int schema_is_ours(avro_schema_t ours, const char *json, size_t len) {
    if (memchr(json, '\0', len) != NULL)
        return 0;
    int result = -1;
    cdp_buf ours_json = {0}, ours_form = {0}, file_form = {0};
    cdp_err ignored = {0};
    for (size_t cap = 16384; cap <= (1u << 20); cap *= 2) {
        cdp_buf_reset(&ours_json);
        if (cdp_buf_reserve(&ours_json, cap) != CDP_OK)
            goto done;
        avro_writer_t writer = avro_writer_memory((char *)ours_json.data, (int64_t)cap - 1);
        if (writer == NULL)
            goto done;
        int written = avro_schema_to_json(ours, writer);
        ours_json.len = (size_t)avro_writer_tell(writer);
        avro_writer_free(writer);
        if (written == 0)
            break;
        ours_json.len = 0;
    }
    if (ours_json.len == 0)
        goto done;
    ours_json.data[ours_json.len] = '\0';
    cdp_status status = cdp_codec_canonical_form((const char *)ours_json.data, &ours_form, &ignored);
    if (status != CDP_OK)
        goto done;
    status = cdp_codec_canonical_form(json, &file_form, &ignored);
    if (status == CDP_NOMEM)
        goto done;
    result = status == CDP_OK && file_form.len == ours_form.len &&
             memcmp(file_form.data, ours_form.data, ours_form.len) == 0;
done:
    cdp_buf_free(&ours_json);
    cdp_buf_free(&ours_form);
    cdp_buf_free(&file_form);
    return result;
}

static cdp_status verify_avro(verifier *v, FILE *in) {
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t item;
    int item_made = 0, deflate = 0, have_schema = 0;
    uint8_t sync[16], block_sync[16];
    cdp_buf key = {0}, value = {0}, block = {0}, raw = {0};
    cdp_status status = audit_format_schema(&schema, &iface, v->err);
    if (status != CDP_OK)
        return status;
    if (avro_generic_value_new(iface, &item) != 0)
        return fail(v, CDP_NOMEM, "out of memory");
    item_made = 1;

    /* Header: the metadata map, then the sync marker. */
    size_t entries = 0;
    for (;;) {
        int64_t count = 0, ignored = 0;
        if (read_long(in, &count) != 0) {
            status = fail(v, CDP_CORRUPT, "the container header is cut");
            goto done;
        }
        if (count == 0)
            break;
        if (count < 0) {
            if (count == INT64_MIN || read_long(in, &ignored) != 0) {
                status = fail(v, CDP_CORRUPT, "bad metadata block");
                goto done;
            }
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t key_len = 0, value_len = 0;
            if (++entries > OCF_MAX_META || read_long(in, &key_len) != 0 || key_len < 0 ||
                key_len > 1024 || read_exact(in, &key, (size_t)key_len) != 0 ||
                read_long(in, &value_len) != 0 || value_len < 0 || value_len > (1 << 20) ||
                read_exact(in, &value, (size_t)value_len) != 0) {
                status = fail(v, CDP_CORRUPT, "bad container metadata");
                goto done;
            }
            key.data[key.len] = '\0';
            if (strcmp((char *)key.data, "avro.codec") == 0) {
                if (value.len == 7 && memcmp(value.data, "deflate", 7) == 0)
                    deflate = 1;
                else if (!(value.len == 4 && memcmp(value.data, "null", 4) == 0)) {
                    status = fail(v, CDP_CORRUPT, "unsupported container codec");
                    goto done;
                }
            } else if (strcmp((char *)key.data, "avro.schema") == 0 && !have_schema) {
                value.data[value.len] = '\0'; /* read_exact keeps a byte for it */
                int same = schema_is_ours(schema, (const char *)value.data, value.len);
                if (same != 1) {
                    status = same < 0 ? fail(v, CDP_NOMEM, "out of memory")
                                      : fail(v, CDP_CORRUPT,
                                             "not a cdp audit export (its schema differs)");
                    goto done;
                }
                have_schema = 1;
            }
        }
    }
    if (!have_schema || fread(sync, 1, sizeof sync, in) != sizeof sync) {
        status = fail(v, CDP_CORRUPT, "the container header has no schema or sync marker");
        goto done;
    }

    for (;;) {
        int64_t count = 0, size = 0;
        int got = read_long(in, &count);
        if (got == 1)
            break; /* clean end of file */
        if (got != 0 || count < 0 || read_long(in, &size) != 0 || size < 0 ||
            size > OCF_MAX_BLOCK || read_exact(in, &block, (size_t)size) != 0 ||
            fread(block_sync, 1, sizeof block_sync, in) != sizeof block_sync) {
            v->line++;
            status = fail(v, CDP_CORRUPT, "a container block is cut or malformed");
            goto done;
        }
        if (memcmp(sync, block_sync, sizeof sync) != 0) {
            v->line++;
            status = fail(v, CDP_CORRUPT, "a container block's sync marker is wrong");
            goto done;
        }
        const cdp_buf *data = &block;
        if (deflate) {
            if ((status = inflate_block(v, &block, &raw)) != CDP_OK)
                goto done;
            data = &raw;
        }
        size_t offset = 0;
        for (int64_t i = 0; i < count; i++) {
            size_t used = 0;
            cdp_err detail = {0};
            v->line++;
            v->seq = -1;
            if (cdp_codec_validate(schema, data->data + offset, data->len - offset, &used,
                                   &detail) != CDP_OK) {
                status = fail(v, CDP_CORRUPT, "not an export item: %s", detail.message);
                goto done;
            }
            avro_reader_t reader =
                avro_reader_memory((const char *)data->data + offset, (int64_t)used);
            avro_value_reset(&item);
            int read = reader != NULL ? avro_value_read(reader, &item) : ENOMEM;
            avro_reader_free(reader);
            json_t *line = read == 0 ? audit_format_item_json(&item) : NULL;
            if (line == NULL) {
                status = fail(v, CDP_CORRUPT, "an item does not decode");
                goto done;
            }
            status = verify_item(v, line);
            json_decref(line);
            if (status != CDP_OK)
                goto done;
            offset += used;
        }
        if (offset != data->len) {
            status = fail(v, CDP_CORRUPT, "a container block has %zu trailing bytes",
                          data->len - offset);
            goto done;
        }
    }
    if (ferror(in))
        status = fail(v, CDP_IO, "read error");
done:
    if (item_made)
        avro_value_decref(&item);
    cdp_buf_free(&key);
    cdp_buf_free(&value);
    cdp_buf_free(&block);
    cdp_buf_free(&raw);
    return status;
}

/* ---- entry points --------------------------------------------------------------------------- */

cdp_status cdp_audit_verify_export(FILE *in, const uint8_t public_key[32],
                                   cdp_audit_verify_report *report, cdp_err *err) {
    cdp_audit_verify_report local;
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof *report);
    report->seq = -1;
    if (in == NULL || public_key == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit verify: NULL stream or key");
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    verifier *v = cdp_calloc(1, sizeof *v);
    if (v == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit verify: out of memory");
    memcpy(v->trusted, public_key, 32);
    v->report = report;
    v->err = err;
    v->seq = -1;
    crypto_hash_sha256_init(&v->digest);

    uint8_t magic[4];
    size_t got = fread(magic, 1, sizeof magic, in);
    if (got == sizeof magic && memcmp(magic, "Obj\x01", 4) == 0) {
        report->format = CDP_AUDIT_FORMAT_AVRO;
        status = verify_avro(v, in);
    } else {
        report->format = CDP_AUDIT_FORMAT_JSONL;
        status = verify_jsonl(v, in, magic, got);
    }
    v->seq = -1;
    if (status == CDP_OK && !v->have_header)
        status = fail(v, CDP_CORRUPT, "empty: no export header");
    else if (status == CDP_OK && !v->ended)
        status = v->records > 0
                     ? fail(v, CDP_CORRUPT,
                            "the export is cut after %s %" PRIu64 " (last record seq %" PRIu64
                            "): no end item",
                            report->format == CDP_AUDIT_FORMAT_AVRO ? "item" : "line", v->line,
                            v->filtered ? v->last_seq : v->frontier.size - 1)
                     : fail(v, CDP_CORRUPT, "the export is cut after %s %" PRIu64 ": no end item",
                            report->format == CDP_AUDIT_FORMAT_AVRO ? "item" : "line", v->line);
    cdp_audit_decoder_clear(&v->decoder);
    cdp_free(v);
    return status;
}

cdp_status cdp_audit_verify_export_path(const char *path, const uint8_t public_key[32],
                                        cdp_audit_verify_report *report, cdp_err *err) {
    FILE *in = path ? fopen(path, "rb") : NULL;
    if (in == NULL) {
        if (report != NULL) {
            memset(report, 0, sizeof *report);
            report->seq = -1;
        }
        return cdp_err_set(err, CDP_NOT_FOUND, "audit verify: cannot open %s",
                           path ? path : "(null)");
    }
    cdp_status status = cdp_audit_verify_export(in, public_key, report, err);
    fclose(in);
    return status;
}
