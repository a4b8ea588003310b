/* Audit records: token rules, and a direct Avro binary encoder/decoder for the flat
 * audit_record schema. Written by hand rather than through Avro C's generic values because it
 * sits on every audited access (no Avro allocations, no schema walk) and because decoding must
 * check every length before trusting it; tests check the bytes against Avro C both ways. */
#include "audit/record.h"

#include <string.h>

#include "store/codec.h"
#include "util/alloc.h"

/* Field order of schemas/audit_record.avsc. */
enum {
    FIELD_SEQ,
    FIELD_TIME,
    FIELD_REGION,
    FIELD_ACTOR_KEY_ID,
    FIELD_ACTOR_ROLE,
    FIELD_OPERATION,
    FIELD_PURPOSE,
    FIELD_LAWFUL_BASIS,
    FIELD_PROFILE_ID,
    FIELD_CATEGORIES,
    FIELD_DECISION,
    FIELD_REASON,
    FIELD_REQUEST_ID,
};

static const char *const decision_names[] = {"allow", "withhold", "deny"};

const char *cdp_audit_decision_name(cdp_audit_decision decision) {
    return (unsigned)decision < 3 ? decision_names[decision] : NULL;
}

cdp_status cdp_audit_decision_parse(const char *name, cdp_audit_decision *out) {
    for (int i = 0; i < 3; i++)
        if (name != NULL && strcmp(name, decision_names[i]) == 0) {
            *out = (cdp_audit_decision)i;
            return CDP_OK;
        }
    return CDP_BAD_REQUEST;
}

static int token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

static int token_ok_len(const char *text, size_t len) {
    if (len == 0 || len > CDP_AUDIT_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!token_char(text[i]))
            return 0;
    return 1;
}

int cdp_audit_token_ok(const char *text) {
    return text != NULL && token_ok_len(text, strnlen(text, CDP_AUDIT_TOKEN_MAX + 1));
}

static cdp_status check_token(const char *name, const char *value, int required, cdp_err *err) {
    if (value == NULL)
        return required ? cdp_err_set(err, CDP_BAD_REQUEST, "audit entry: %s is required", name)
                        : CDP_OK;
    if (!cdp_audit_token_ok(value))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "audit entry: %s must be 1..%d characters of [A-Za-z0-9_.:-] (the "
                           "log holds no personal data)",
                           name, CDP_AUDIT_TOKEN_MAX);
    return CDP_OK;
}

cdp_status cdp_audit_entry_check(const cdp_audit_entry *entry, cdp_err *err) {
    if (entry == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit entry: NULL");
    cdp_status status = check_token("actor_key_id", entry->actor_key_id, 1, err);
    if (status == CDP_OK)
        status = check_token("actor_role", entry->actor_role, 1, err);
    if (status == CDP_OK)
        status = check_token("operation", entry->operation, 1, err);
    if (status == CDP_OK)
        status = check_token("purpose", entry->purpose, 0, err);
    if (status == CDP_OK)
        status = check_token("lawful_basis", entry->lawful_basis, 0, err);
    if (status == CDP_OK)
        status = check_token("reason", entry->reason, 0, err);
    if (status == CDP_OK)
        status = check_token("request_id", entry->request_id, 0, err);
    if (status != CDP_OK)
        return status;
    if (entry->time_ms < 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "audit entry: time_ms is negative");
    if (cdp_audit_decision_name(entry->decision) == NULL)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "audit entry: decision %d is not allow, "
                           "withhold or deny",
                           (int)entry->decision);
    if (entry->category_count > CDP_AUDIT_MAX_CATEGORIES ||
        (entry->category_count > 0 && entry->categories == NULL))
        return cdp_err_set(err, CDP_BAD_REQUEST, "audit entry: %zu categories (0..%d allowed)",
                           entry->category_count, CDP_AUDIT_MAX_CATEGORIES);
    for (size_t i = 0; i < entry->category_count; i++)
        if (!cdp_audit_token_ok(entry->categories[i]))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "audit entry: categories[%zu] must be 1..%d characters of "
                               "[A-Za-z0-9_.:-]",
                               i, CDP_AUDIT_TOKEN_MAX);
    return CDP_OK;
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* Avro long: zigzag, then base-128 varint, low groups first. */
static size_t put_long(uint8_t *out, int64_t value) {
    uint64_t zigzag = ((uint64_t)value << 1) ^ (value < 0 ? UINT64_MAX : 0);
    size_t n = 0;
    while (zigzag >= 0x80) {
        out[n++] = (uint8_t)(zigzag | 0x80);
        zigzag >>= 7;
    }
    out[n++] = (uint8_t)zigzag;
    return n;
}

static void put_long_buf(cdp_buf *out, int64_t value) {
    out->len += put_long(out->data + out->len, value);
}

static void put_string(cdp_buf *out, const char *text, size_t len) {
    put_long_buf(out, (int64_t)len);
    memcpy(out->data + out->len, text, len);
    out->len += len;
}

static void put_optional(cdp_buf *out, const char *text) {
    if (text == NULL) {
        put_long_buf(out, 0);
    } else {
        put_long_buf(out, 1);
        put_string(out, text, strlen(text));
    }
}

size_t cdp_audit_record_head(uint8_t out[CDP_AUDIT_RECORD_HEAD_MAX], uint64_t seq,
                             int64_t time_ms) {
    out[0] = 0xc3;
    out[1] = 0x01;
    uint64_t fingerprint = cdp_codec_fingerprint(CDP_SCHEMA_AUDIT_RECORD);
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(fingerprint >> (8 * i));
    size_t len = CDP_SINGLE_OBJECT_HEADER_BYTES;
    len += put_long(out + len, (int64_t)seq);
    len += put_long(out + len, time_ms);
    return len;
}

size_t cdp_audit_record_body_bound(const cdp_audit_entry *entry) {
    /* Every string is at most 128 bytes plus a 10-byte length, every other field 10 bytes. */
    return 16 * (10 + 1 + CDP_AUDIT_TOKEN_MAX) +
           entry->category_count * (10 + CDP_AUDIT_TOKEN_MAX) + 64;
}

cdp_status cdp_audit_record_encode_body(const char *region, const cdp_audit_entry *entry,
                                        cdp_buf *out, cdp_err *err) {
    if (cdp_buf_reserve(out, cdp_audit_record_body_bound(entry)) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "audit record: out of memory");
    put_string(out, region, strlen(region));
    put_string(out, entry->actor_key_id, strlen(entry->actor_key_id));
    put_string(out, entry->actor_role, strlen(entry->actor_role));
    put_string(out, entry->operation, strlen(entry->operation));
    put_optional(out, entry->purpose);
    put_optional(out, entry->lawful_basis);
    if (entry->profile_id != NULL) {
        char hex[2 * CDP_PROFILE_ID_BYTES + 1];
        cdp_hex_encode(hex, entry->profile_id, CDP_PROFILE_ID_BYTES);
        put_long_buf(out, 1);
        put_string(out, hex, 2 * CDP_PROFILE_ID_BYTES);
    } else {
        put_long_buf(out, 0);
    }
    if (entry->category_count > 0) {
        put_long_buf(out, (int64_t)entry->category_count);
        for (size_t i = 0; i < entry->category_count; i++)
            put_string(out, entry->categories[i], strlen(entry->categories[i]));
    }
    put_long_buf(out, 0); /* end of the categories array */
    put_long_buf(out, (int64_t)entry->decision);
    put_optional(out, entry->reason);
    put_optional(out, entry->request_id);
    return CDP_OK;
}

cdp_status cdp_audit_record_encode(uint64_t seq, int64_t time_ms, const char *region,
                                   const cdp_audit_entry *entry, cdp_buf *out, cdp_err *err) {
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    uint8_t head[CDP_AUDIT_RECORD_HEAD_MAX];
    size_t head_len = cdp_audit_record_head(head, seq, time_ms);
    if (cdp_buf_append(out, head, head_len) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "audit record: out of memory");
    return cdp_audit_record_encode_body(region, entry, out, err);
}

/* ---- decoding ---------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *cursor;
    const uint8_t *end;
    cdp_audit_decoder *decoder;
    cdp_err *err;
} reader;

static const char *const field_names[] = {
    "seq",       "time",    "region",       "actor_key_id", "actor_role",
    "operation", "purpose", "lawful_basis", "profile_id",   "categories",
    "decision",  "reason",  "request_id",
};

static cdp_status corrupt(reader *r, int field, const char *why) {
    return cdp_err_set(r->err, CDP_CORRUPT, "audit record: %s: %s", field_names[field], why);
}

static cdp_status get_long(reader *r, int field, int64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->cursor >= r->end)
            return corrupt(r, field, "truncated number");
        uint8_t byte = *r->cursor++;
        if (shift == 63 && (byte & 0x7e))
            return corrupt(r, field, "number overflows 64 bits");
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
            return CDP_OK;
        }
    }
    return corrupt(r, field, "number longer than 10 bytes");
}

/* A token string, copied NUL-terminated into the scratch buffer (reserved large enough). */
static cdp_status get_token(reader *r, int field, const char **out) {
    int64_t len = 0;
    cdp_status status = get_long(r, field, &len);
    if (status != CDP_OK)
        return status;
    if (len < 0 || len > r->end - r->cursor)
        return corrupt(r, field, "length exceeds the bytes left");
    if (!token_ok_len((const char *)r->cursor, (size_t)len))
        return corrupt(r, field, "not a token of [A-Za-z0-9_.:-]");
    cdp_buf *scratch = &r->decoder->scratch;
    char *copy = (char *)scratch->data + scratch->len;
    memcpy(copy, r->cursor, (size_t)len);
    copy[len] = '\0';
    scratch->len += (size_t)len + 1;
    r->cursor += len;
    *out = copy;
    return CDP_OK;
}

static cdp_status get_optional(reader *r, int field, const char **out) {
    int64_t branch = 0;
    cdp_status status = get_long(r, field, &branch);
    if (status != CDP_OK)
        return status;
    *out = NULL;
    if (branch == 0)
        return CDP_OK;
    if (branch != 1)
        return corrupt(r, field, "union branch out of range");
    return get_token(r, field, out);
}

cdp_status cdp_audit_decode(cdp_audit_decoder *decoder, const uint8_t *leaf, size_t len,
                            const cdp_audit_record **out, cdp_err *err) {
    *out = NULL;
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    if (leaf == NULL || len < CDP_SINGLE_OBJECT_HEADER_BYTES)
        return cdp_err_set(err, CDP_CORRUPT, "audit record: %zu bytes, shorter than a header", len);
    uint64_t fingerprint = 0;
    for (int i = 7; i >= 0; i--)
        fingerprint = fingerprint << 8 | leaf[2 + i];
    if (leaf[0] != 0xc3 || leaf[1] != 0x01 ||
        fingerprint != cdp_codec_fingerprint(CDP_SCHEMA_AUDIT_RECORD))
        return cdp_err_set(err, CDP_CORRUPT,
                           "audit record: not an audit_record single object (header or schema "
                           "fingerprint differs)");
    /* Strings copied out are never longer, together, than the bytes; plus one NUL each. */
    decoder->scratch.len = 0;
    if (cdp_buf_reserve(&decoder->scratch, 2 * len + 16) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "audit record: out of memory");
    cdp_audit_record *record = &decoder->record;
    memset(record, 0, sizeof *record);
    reader r = {leaf + CDP_SINGLE_OBJECT_HEADER_BYTES, leaf + len, decoder, err};
    int64_t number = 0;
    const char *profile_hex = NULL;

    if ((status = get_long(&r, FIELD_SEQ, &number)) != CDP_OK)
        return status;
    if (number < 0)
        return corrupt(&r, FIELD_SEQ, "negative");
    record->seq = (uint64_t)number;
    if ((status = get_long(&r, FIELD_TIME, &record->time_ms)) != CDP_OK)
        return status;
    if (record->time_ms < 0)
        return corrupt(&r, FIELD_TIME, "negative");
    if ((status = get_token(&r, FIELD_REGION, &record->region)) != CDP_OK ||
        (status = get_token(&r, FIELD_ACTOR_KEY_ID, &record->actor_key_id)) != CDP_OK ||
        (status = get_token(&r, FIELD_ACTOR_ROLE, &record->actor_role)) != CDP_OK ||
        (status = get_token(&r, FIELD_OPERATION, &record->operation)) != CDP_OK ||
        (status = get_optional(&r, FIELD_PURPOSE, &record->purpose)) != CDP_OK ||
        (status = get_optional(&r, FIELD_LAWFUL_BASIS, &record->lawful_basis)) != CDP_OK ||
        (status = get_optional(&r, FIELD_PROFILE_ID, &profile_hex)) != CDP_OK)
        return status;
    if (profile_hex != NULL) {
        for (const char *c = profile_hex; *c; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                return corrupt(&r, FIELD_PROFILE_ID, "not lowercase hex");
        if (strlen(profile_hex) != 2 * CDP_PROFILE_ID_BYTES ||
            cdp_hex_decode(record->profile_id, CDP_PROFILE_ID_BYTES, profile_hex,
                           strlen(profile_hex)) != 0)
            return corrupt(&r, FIELD_PROFILE_ID, "not 32 hex characters");
        record->has_profile_id = 1;
    }
    for (;;) { /* array blocks: count (negative: followed by a byte size), items; 0 ends */
        int64_t count = 0;
        if ((status = get_long(&r, FIELD_CATEGORIES, &count)) != CDP_OK)
            return status;
        if (count == 0)
            break;
        if (count < 0) {
            int64_t block_bytes = 0;
            if (count == INT64_MIN ||
                (status = get_long(&r, FIELD_CATEGORIES, &block_bytes)) != CDP_OK)
                return status != CDP_OK ? status : corrupt(&r, FIELD_CATEGORIES, "bad count");
            count = -count;
        }
        if (count > (int64_t)(CDP_AUDIT_MAX_CATEGORIES - record->category_count))
            return corrupt(&r, FIELD_CATEGORIES, "more than 64 categories");
        for (int64_t i = 0; i < count; i++)
            if ((status = get_token(&r, FIELD_CATEGORIES,
                                    &record->categories[record->category_count++])) != CDP_OK)
                return status;
    }
    if ((status = get_long(&r, FIELD_DECISION, &number)) != CDP_OK)
        return status;
    if (number < 0 || number > 2)
        return corrupt(&r, FIELD_DECISION, "enum symbol out of range");
    record->decision = (cdp_audit_decision)number;
    if ((status = get_optional(&r, FIELD_REASON, &record->reason)) != CDP_OK ||
        (status = get_optional(&r, FIELD_REQUEST_ID, &record->request_id)) != CDP_OK)
        return status;
    if (r.cursor != r.end)
        return cdp_err_set(err, CDP_CORRUPT, "audit record: %zu trailing bytes",
                           (size_t)(r.end - r.cursor));
    record->leaf = leaf;
    record->leaf_len = len;
    *out = record;
    return CDP_OK;
}

void cdp_audit_decoder_clear(cdp_audit_decoder *decoder) {
    if (decoder != NULL) {
        cdp_buf_free(&decoder->scratch);
        memset(&decoder->record, 0, sizeof decoder->record);
    }
}

/* ---- JSON -------------------------------------------------------------------------------- */

static int set_optional(json_t *object, const char *key, const char *value) {
    return json_object_set_new(object, key, value ? json_string(value) : json_null());
}

json_t *cdp_audit_record_json(const cdp_audit_record *record) {
    json_t *object = json_object();
    json_t *categories = json_array();
    int failed = object == NULL || categories == NULL;
    char hex[2 * CDP_PROFILE_ID_BYTES + 1];
    if (!failed) {
        failed |= json_object_set_new(object, "seq", json_integer((json_int_t)record->seq));
        failed |= json_object_set_new(object, "time", json_integer(record->time_ms));
        failed |= json_object_set_new(object, "region", json_string(record->region));
        failed |= json_object_set_new(object, "actor_key_id", json_string(record->actor_key_id));
        failed |= json_object_set_new(object, "actor_role", json_string(record->actor_role));
        failed |= json_object_set_new(object, "operation", json_string(record->operation));
        failed |= set_optional(object, "purpose", record->purpose);
        failed |= set_optional(object, "lawful_basis", record->lawful_basis);
        if (record->has_profile_id)
            cdp_hex_encode(hex, record->profile_id, CDP_PROFILE_ID_BYTES);
        failed |= set_optional(object, "profile_id", record->has_profile_id ? hex : NULL);
        for (size_t i = 0; i < record->category_count; i++)
            failed |= json_array_append_new(categories, json_string(record->categories[i]));
        failed |= json_object_set(object, "categories", categories);
        failed |= json_object_set_new(object, "decision",
                                      json_string(cdp_audit_decision_name(record->decision)));
        failed |= set_optional(object, "reason", record->reason);
        failed |= set_optional(object, "request_id", record->request_id);
    }
    json_decref(categories);
    if (failed) {
        json_decref(object);
        return NULL;
    }
    return object;
}
