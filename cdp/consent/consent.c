/* Consent records at rest: Avro encode/decode, the history key layout, the current-state
 * decision across merged members, the history export and the GPC opt-out. */
#include "consent/consent.h"

#include <avro.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "consent/tcf_map.h"
#include "store/codec.h"
#include "store/walk_cache.h"
#include "util/alloc.h"

#define PURPOSE_TOKEN_BYTES 16
#define KEY_TAIL_BYTES 13 /* 0x00 || time (8) || sequence (4) */
#define KEY_BYTES (CDP_PROFILE_ID_BYTES + PURPOSE_TOKEN_BYTES + KEY_TAIL_BYTES)

/* ---- states ---------------------------------------------------------------------------------- */

const char *cdp_consent_state_text(cdp_consent_state state) {
    switch (state) {
    case CDP_CONSENT_STATE_GRANTED:
        return "granted";
    case CDP_CONSENT_STATE_DENIED:
        return "denied";
    case CDP_CONSENT_STATE_WITHDRAWN:
        return "withdrawn";
    default:
        return "none";
    }
}

int cdp_consent_state_from_text(const char *text, cdp_consent_state *out) {
    static const cdp_consent_state states[] = {
        CDP_CONSENT_STATE_GRANTED, CDP_CONSENT_STATE_DENIED, CDP_CONSENT_STATE_WITHDRAWN};
    for (size_t i = 0; text != NULL && i < 3; i++)
        if (strcmp(text, cdp_consent_state_text(states[i])) == 0) {
            *out = states[i];
            return 0;
        }
    return -1;
}

/* 0 for a state that decides nothing stricter than b; used on time ties. */
static int stricter(cdp_consent_state a, cdp_consent_state b) {
    return a != CDP_CONSENT_STATE_GRANTED && b == CDP_CONSENT_STATE_GRANTED;
}

/* ---- Avro ------------------------------------------------------------------------------------ */

static int set_optional(avro_value_t *record, const char *name, const char *text) {
    avro_value_t field, branch;
    if (avro_value_get_by_name(record, name, &field, NULL) != 0)
        return -1;
    if (text == NULL)
        return avro_value_set_branch(&field, 0, &branch) || avro_value_set_null(&branch);
    return avro_value_set_branch(&field, 1, &branch) || avro_value_set_string(&branch, text);
}

static int set_string(avro_value_t *record, const char *name, const char *text) {
    avro_value_t field;
    return avro_value_get_by_name(record, name, &field, NULL) ||
           avro_value_set_string(&field, text);
}

cdp_status cdp_consent_record_encode(const cdp_consent_entry *entry, const char *profile_id_hex,
                                     cdp_buf *out, cdp_err *err) {
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    avro_value_iface_t *iface =
        avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_CONSENT));
    avro_value_t record, field, proof;
    if (iface == NULL || avro_generic_value_new(iface, &record) != 0) {
        if (iface != NULL)
            avro_value_iface_decref(iface);
        return cdp_err_set(err, CDP_NOMEM, "consent record: out of memory");
    }
    int rval = set_string(&record, "profile_id", profile_id_hex) ||
               set_string(&record, "purpose", entry->purpose);
    rval = rval || avro_value_get_by_name(&record, "state", &field, NULL) ||
           avro_value_set_enum(&field, (int)entry->state - (int)CDP_CONSENT_STATE_GRANTED);
    rval = rval || avro_value_get_by_name(&record, "time", &field, NULL) ||
           avro_value_set_long(&field, entry->time_ms);
    rval = rval || set_string(&record, "source", entry->source) ||
           set_optional(&record, "notice_version", entry->notice_version);
    rval = rval || avro_value_get_by_name(&record, "proof", &proof, NULL) ||
           set_optional(&proof, "tcf", entry->tcf) ||
           avro_value_get_by_name(&proof, "gpc", &field, NULL) ||
           avro_value_set_boolean(&field, entry->gpc != 0) ||
           set_optional(&proof, "request_id", entry->request_id);
    rval = rval || set_optional(&record, "basis", entry->basis);
    if (rval != 0)
        status = cdp_err_set(err, CDP_INTERNAL, "consent record: %s", avro_strerror());
    if (status == CDP_OK)
        status = cdp_codec_encode(CDP_SCHEMA_CONSENT, &record, out, err);
    avro_value_decref(&record);
    avro_value_iface_decref(iface);
    return status;
}

/* Copies a string (or, with optional, a ["null","string"] union) field; NULL for null. */
static int take_string(avro_value_t *record, const char *name, int optional, char **out) {
    avro_value_t field, branch;
    const char *text = NULL;
    size_t size = 0;
    if (avro_value_get_by_name(record, name, &field, NULL) != 0)
        return -1;
    if (optional) {
        int discriminant = 0;
        if (avro_value_get_discriminant(&field, &discriminant) != 0 ||
            avro_value_get_current_branch(&field, &branch) != 0)
            return -1;
        if (discriminant == 0)
            return 0;
        field = branch;
    }
    if (avro_value_get_string(&field, &text, &size) != 0 || size == 0)
        return -1;
    *out = cdp_strndup(text, size - 1);
    return *out == NULL ? -1 : 0;
}

cdp_status cdp_consent_record_decode(const uint8_t *bytes, size_t len, cdp_consent_record *out,
                                     cdp_err *err) {
    memset(out, 0, sizeof *out);
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    avro_value_iface_t *iface =
        avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_CONSENT));
    avro_value_t record, field, proof;
    if (iface == NULL || avro_generic_value_new(iface, &record) != 0) {
        if (iface != NULL)
            avro_value_iface_decref(iface);
        return cdp_err_set(err, CDP_NOMEM, "consent record: out of memory");
    }
    status = cdp_codec_decode(CDP_SCHEMA_CONSENT, bytes, len, &record, err);
    if (status == CDP_OK) {
        int symbol = 0, gpc = 0;
        int64_t time_ms = 0;
        int rval = take_string(&record, "profile_id", 0, &out->profile_id) ||
                   take_string(&record, "purpose", 0, &out->purpose) ||
                   avro_value_get_by_name(&record, "state", &field, NULL) ||
                   avro_value_get_enum(&field, &symbol) ||
                   avro_value_get_by_name(&record, "time", &field, NULL) ||
                   avro_value_get_long(&field, &time_ms) ||
                   take_string(&record, "source", 0, &out->source) ||
                   take_string(&record, "notice_version", 1, &out->notice_version) ||
                   avro_value_get_by_name(&record, "proof", &proof, NULL) ||
                   take_string(&proof, "tcf", 1, &out->tcf) ||
                   avro_value_get_by_name(&proof, "gpc", &field, NULL) ||
                   avro_value_get_boolean(&field, &gpc) ||
                   take_string(&proof, "request_id", 1, &out->request_id) ||
                   take_string(&record, "basis", 1, &out->basis);
        if (rval != 0 || symbol < 0 || symbol > 2)
            status = cdp_err_set(err, CDP_CORRUPT, "consent record: does not decode");
        out->state = (cdp_consent_state)(CDP_CONSENT_STATE_GRANTED + symbol);
        out->time_ms = time_ms;
        out->gpc = gpc;
    }
    avro_value_decref(&record);
    avro_value_iface_decref(iface);
    if (status != CDP_OK)
        cdp_consent_record_clear(out);
    return status;
}

void cdp_consent_record_clear(cdp_consent_record *record) {
    if (record == NULL)
        return;
    cdp_free(record->profile_id);
    cdp_free(record->purpose);
    cdp_free(record->source);
    cdp_free(record->notice_version);
    cdp_free(record->tcf);
    cdp_free(record->request_id);
    cdp_free(record->basis);
    memset(record, 0, sizeof *record);
}

/* ---- keys and writes ------------------------------------------------------------------------- */

static atomic_uint sequence;
static pthread_once_t sequence_once = PTHREAD_ONCE_INIT;

/* Seeded at random per process: records of one purpose at the same millisecond get distinct
 * keys within a process, and across restarts a collision needs the same ms and a 1 in 2^32. */
static void sequence_seed(void) { atomic_store(&sequence, randombytes_random()); }

/* The purpose in a key is a keyed hash under the person's data key, not its name: keys are not
 * encrypted, and "this person has a record about advertising" is itself personal. Stable for the
 * person across key epochs (the data key does not change), meaningless once they are erased. */
static void purpose_token(uint8_t out[PURPOSE_TOKEN_BYTES], const cdp_person *person,
                          const char *purpose) {
    crypto_generichash(out, PURPOSE_TOKEN_BYTES, (const uint8_t *)purpose, strlen(purpose),
                       person->data_key, sizeof person->data_key);
}

static void make_key(uint8_t key[KEY_BYTES], const cdp_person *person, const char *purpose,
                     int64_t time_ms, uint32_t seq) {
    memcpy(key, person->profile_id, CDP_PROFILE_ID_BYTES);
    purpose_token(key + CDP_PROFILE_ID_BYTES, person, purpose);
    uint8_t *tail = key + CDP_PROFILE_ID_BYTES + PURPOSE_TOKEN_BYTES;
    tail[0] = 0;
    /* Times before 1970 are refused by the callers; the cast keeps key order = time order. */
    cdp_store_be64(tail + 1, (uint64_t)time_ms);
    cdp_store_be32(tail + 9, seq);
}

/* Splits a stored key: the purpose token (borrowed from key) and the time. */
static int parse_key(const uint8_t *key, size_t len, const uint8_t **token, int64_t *time_ms) {
    if (len != KEY_BYTES || key[CDP_PROFILE_ID_BYTES + PURPOSE_TOKEN_BYTES] != 0)
        return -1;
    *token = key + CDP_PROFILE_ID_BYTES;
    *time_ms = (int64_t)cdp_load_be64(key + len - 12);
    return 0;
}

cdp_status cdp_consent_put(cdp_vault *vault, cdp_batch *batch, const cdp_person *person,
                           const cdp_consent_entry *entry, cdp_err *err) {
    if (entry->purpose == NULL || entry->purpose[0] == '\0' ||
        strlen(entry->purpose) > CDP_CONSENT_PURPOSE_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "purpose: required, 1 to %d bytes",
                           CDP_CONSENT_PURPOSE_MAX);
    if (entry->state != CDP_CONSENT_STATE_GRANTED && entry->state != CDP_CONSENT_STATE_DENIED &&
        entry->state != CDP_CONSENT_STATE_WITHDRAWN)
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: state must be granted, denied or withdrawn",
                           entry->purpose);
    if (entry->source == NULL || entry->source[0] == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "source: required");
    if (entry->time_ms < 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "timestamp: before 1970");
    pthread_once(&sequence_once, sequence_seed);
    char hex[2 * CDP_PROFILE_ID_BYTES + 1];
    cdp_hex_encode(hex, person->profile_id, CDP_PROFILE_ID_BYTES);
    cdp_buf encoded = {0};
    cdp_status status = cdp_consent_record_encode(entry, hex, &encoded, err);
    if (status == CDP_OK) {
        uint8_t key[KEY_BYTES];
        make_key(key, person, entry->purpose, entry->time_ms,
                 (uint32_t)atomic_fetch_add(&sequence, 1));
        status = cdp_vault_put(vault, batch, person, CDP_CF_CONSENT, key, sizeof key,
                               encoded.data, encoded.len, err);
    }
    cdp_buf_free_secret(&encoded);
    return status;
}

/* ---- reads ----------------------------------------------------------------------------------- */

void cdp_consent_view_clear(cdp_consent_view *view) {
    if (view == NULL)
        return;
    for (size_t i = 0; i < view->count; i++)
        cdp_consent_record_clear(&view->current[i]);
    cdp_free(view->current);
    memset(view, 0, sizeof *view);
}

const cdp_consent_record *cdp_consent_view_find(const cdp_consent_view *view,
                                                const char *purpose) {
    for (size_t i = 0; purpose != NULL && i < view->count; i++)
        if (strcmp(view->current[i].purpose, purpose) == 0)
            return &view->current[i];
    return NULL;
}

/* Offers a decoded record to the view (takes ownership of its contents either way). */
static cdp_status view_offer(cdp_consent_view *view, cdp_consent_record *record, cdp_err *err) {
    size_t i = 0;
    while (i < view->count && strcmp(view->current[i].purpose, record->purpose) < 0)
        i++;
    if (i < view->count && strcmp(view->current[i].purpose, record->purpose) == 0) {
        cdp_consent_record *held = &view->current[i];
        int wins = record->time_ms > held->time_ms ||
                   (record->time_ms == held->time_ms && stricter(record->state, held->state));
        if (wins) {
            cdp_consent_record_clear(held);
            *held = *record;
        } else {
            cdp_consent_record_clear(record);
        }
        memset(record, 0, sizeof *record);
        return CDP_OK;
    }
    cdp_consent_record *grown =
        cdp_realloc(view->current, (view->count + 1) * sizeof *view->current);
    if (grown == NULL) {
        cdp_consent_record_clear(record);
        return cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
    }
    view->current = grown;
    memmove(&grown[i + 1], &grown[i], (view->count - i) * sizeof *grown);
    grown[i] = *record;
    view->count++;
    memset(record, 0, sizeof *record);
    return CDP_OK;
}

typedef cdp_status (*record_fn)(void *context, cdp_consent_record *record, cdp_err *err);

/* Walks one member's records newest first. With only_newest, a record older than the newest
 * of its purpose (already seen) is skipped from its key alone, without opening it. */
static cdp_status walk_member(cdp_vault *vault, const cdp_person *person, int only_newest,
                              record_fn fn, void *context, size_t *opened, cdp_err *err) {
    cdp_iter *iter = NULL;
    cdp_buf plain = {0};
    cdp_status status = cdp_region_iter_last(cdp_vault_region(vault), CDP_CF_CONSENT,
                                             person->profile_id, CDP_PROFILE_ID_BYTES, &iter, err);
    uint8_t group[PURPOSE_TOKEN_BYTES];
    int64_t group_time = 0;
    int have_group = 0;
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_prev(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len), *token = NULL;
        int64_t time_ms = 0;
        if (parse_key(key, key_len, &token, &time_ms) != 0) {
            status = cdp_err_set(err, CDP_CORRUPT, "consent: malformed key of %zu bytes", key_len);
            break;
        }
        int same_group = have_group && memcmp(token, group, sizeof group) == 0;
        if (only_newest && same_group && time_ms < group_time)
            continue;
        if (!same_group) {
            memcpy(group, token, sizeof group);
            group_time = time_ms;
            have_group = 1;
        }
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        cdp_consent_record record;
        status = cdp_vault_open(vault, person, CDP_CF_CONSENT, key, key_len, value, value_len,
                                &plain, err);
        if (status == CDP_OK)
            status = cdp_consent_record_decode(plain.data, plain.len, &record, err);
        uint8_t expected[PURPOSE_TOKEN_BYTES];
        if (status == CDP_OK)
            purpose_token(expected, person, record.purpose);
        if (status == CDP_OK && (memcmp(expected, token, sizeof expected) != 0 ||
                                 record.time_ms != time_ms)) {
            cdp_consent_record_clear(&record);
            status = cdp_err_set(err, CDP_CORRUPT, "consent: record does not match its key");
        }
        if (status == CDP_OK) {
            (*opened)++;
            status = fn(context, &record, err);
        }
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    return status;
}

/* Opens one stored record, checks it against its key and hands it to fn. */
static cdp_status open_record(cdp_vault *vault, const cdp_person *person, const uint8_t *key,
                              size_t key_len, const uint8_t *value, size_t value_len,
                              cdp_buf *plain, record_fn fn, void *context, size_t *opened,
                              cdp_err *err) {
    const uint8_t *token = NULL;
    int64_t time_ms = 0;
    cdp_consent_record record;
    if (parse_key(key, key_len, &token, &time_ms) != 0)
        return cdp_err_set(err, CDP_CORRUPT, "consent: malformed key of %zu bytes", key_len);
    cdp_status status =
        cdp_vault_open(vault, person, CDP_CF_CONSENT, key, key_len, value, value_len, plain, err);
    if (status == CDP_OK)
        status = cdp_consent_record_decode(plain->data, plain->len, &record, err);
    if (status != CDP_OK)
        return status;
    uint8_t expected[PURPOSE_TOKEN_BYTES];
    purpose_token(expected, person, record.purpose);
    if (memcmp(expected, token, sizeof expected) != 0 || record.time_ms != time_ms) {
        cdp_consent_record_clear(&record);
        return cdp_err_set(err, CDP_CORRUPT, "consent: record does not match its key");
    }
    (*opened)++;
    return fn(context, &record, err);
}

/* The records at the latest time of one purpose group, copied (sealed) while a forward walk
 * passes them: key || value each, ends[i] the end of record i. */
typedef struct group_tail {
    cdp_buf bytes;
    size_t *ends;
    size_t *value_lens;
    size_t count, cap;
} group_tail;

static cdp_status tail_add(group_tail *tail, const uint8_t *key, const uint8_t *value,
                           size_t value_len, cdp_err *err) {
    if (tail->count == tail->cap) {
        size_t cap = tail->cap ? 2 * tail->cap : 4;
        size_t *ends = cdp_realloc(tail->ends, cap * sizeof *ends);
        if (ends != NULL)
            tail->ends = ends;
        size_t *lens = ends != NULL ? cdp_realloc(tail->value_lens, cap * sizeof *lens) : NULL;
        if (lens == NULL)
            return cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
        tail->value_lens = lens;
        tail->cap = cap;
    }
    if (cdp_buf_append(&tail->bytes, key, KEY_BYTES) != CDP_OK ||
        cdp_buf_append(&tail->bytes, value, value_len) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
    tail->value_lens[tail->count] = value_len;
    tail->ends[tail->count++] = tail->bytes.len;
    return CDP_OK;
}

/* Opens the group's latest records newest (highest sequence) first, as the backward walk
 * would meet them, then empties the tail. When opened_log is not NULL each record is also
 * appended to it as value length (4, BE) || key || sealed value, in the order opened (for the
 * walk cache); *log_ok drops to 0 when it cannot grow. */
static cdp_status tail_flush(group_tail *tail, cdp_vault *vault, const cdp_person *person,
                             cdp_buf *plain, record_fn fn, void *context, size_t *opened,
                             cdp_buf *opened_log, int *log_ok, cdp_err *err) {
    cdp_status status = CDP_OK;
    for (size_t i = tail->count; status == CDP_OK && i > 0; i--) {
        size_t end = tail->ends[i - 1], value_len = tail->value_lens[i - 1];
        const uint8_t *key = tail->bytes.data + end - value_len - KEY_BYTES;
        if (opened_log != NULL && *log_ok) {
            uint8_t length[4];
            cdp_store_be32(length, (uint32_t)value_len);
            *log_ok = cdp_buf_append(opened_log, length, sizeof length) == CDP_OK &&
                      cdp_buf_append(opened_log, key, KEY_BYTES + value_len) == CDP_OK;
        }
        status = open_record(vault, person, key, KEY_BYTES, key + KEY_BYTES, value_len, plain,
                             fn, context, opened, err);
    }
    tail->count = 0;
    cdp_buf_reset(&tail->bytes);
    return status;
}

/* Opens the records a cached walk opened, in the same order. */
static cdp_status replay_opened(const cdp_buf *opened_log, cdp_vault *vault,
                                const cdp_person *person, cdp_buf *plain, record_fn fn,
                                void *context, size_t *opened, cdp_err *err) {
    size_t offset = 0;
    cdp_status status = CDP_OK;
    while (status == CDP_OK && offset < opened_log->len) {
        if (opened_log->len - offset < 4 + KEY_BYTES)
            return cdp_err_set(err, CDP_CORRUPT, "consent: cached walk is truncated");
        size_t value_len = cdp_load_be32(opened_log->data + offset);
        const uint8_t *key = opened_log->data + offset + 4;
        if (opened_log->len - offset - 4 - KEY_BYTES < value_len)
            return cdp_err_set(err, CDP_CORRUPT, "consent: cached walk is truncated");
        status = open_record(vault, person, key, KEY_BYTES, key + KEY_BYTES, value_len, plain,
                             fn, context, opened, err);
        offset += 4 + KEY_BYTES + value_len;
    }
    return status;
}

/* walk_member with only_newest, walking forward: a memtable skiplist steps back only by
 * searching again, so the backward walk costs a search per record and a forward one a single
 * seek. Per purpose group (keys sorted by time, then sequence) only the records at its latest
 * time are opened, newest first: the same records, in the same order, as the backward walk. */
static cdp_status walk_member_newest(cdp_vault *vault, const cdp_person *person, record_fn fn,
                                     void *context, size_t *opened, cdp_err *err) {
    cdp_region *region = cdp_vault_region(vault);
    cdp_walk_cache *cache = cdp_region_walk_cache(region);
    cdp_buf plain = {0}, opened_log = {0};
    /* A walk no consent write has touched since is replayed from the cache: the same sealed
     * records, opened in the same order, without an iterator. The count is read before the
     * records are, so a write racing with this walk leaves an entry that is never used. */
    uint64_t generation = cache != NULL ? cdp_walk_cache_generation(cache, person->profile_id) : 0;
    if (cache != NULL && cdp_walk_cache_get(cache, person->profile_id, &opened_log)) {
        cdp_status status =
            replay_opened(&opened_log, vault, person, &plain, fn, context, opened, err);
        cdp_buf_free_secret(&plain);
        cdp_buf_free(&opened_log);
        return status;
    }
    int log_ok = cache != NULL;
    cdp_iter *iter = NULL;
    group_tail tail = {0};
    cdp_status status = cdp_region_iter(region, CDP_CF_CONSENT, person->profile_id,
                                        CDP_PROFILE_ID_BYTES, &iter, err);
    uint8_t group[PURPOSE_TOKEN_BYTES];
    int64_t group_time = 0;
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len), *token = NULL;
        int64_t time_ms = 0;
        if (parse_key(key, key_len, &token, &time_ms) != 0) {
            status = cdp_err_set(err, CDP_CORRUPT, "consent: malformed key of %zu bytes", key_len);
            break;
        }
        if (tail.count > 0 && memcmp(token, group, sizeof group) != 0) {
            status = tail_flush(&tail, vault, person, &plain, fn, context, opened,
                                cache != NULL ? &opened_log : NULL, &log_ok, err);
        } else if (tail.count > 0 && time_ms > group_time) {
            tail.count = 0; /* a later time in the same group: the earlier ones are not read */
            cdp_buf_reset(&tail.bytes);
        }
        if (status != CDP_OK)
            break;
        memcpy(group, token, sizeof group);
        group_time = time_ms;
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        status = tail_add(&tail, key, value, value_len, err);
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    if (status == CDP_OK)
        status = tail_flush(&tail, vault, person, &plain, fn, context, opened,
                            cache != NULL ? &opened_log : NULL, &log_ok, err);
    if (status == CDP_OK && log_ok)
        cdp_walk_cache_put(cache, person->profile_id, generation, opened_log.data,
                           opened_log.len);
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    cdp_buf_free(&opened_log);
    cdp_buf_free(&tail.bytes);
    cdp_free(tail.ends);
    cdp_free(tail.value_lens);
    return status;
}

/* The owner, then each merged member whose data key still exists. */
static cdp_status walk_members(cdp_vault *vault, const cdp_person *owner,
                               const char *const *merged_from, size_t merged_count,
                               int only_newest, record_fn fn, void *context, size_t *opened,
                               cdp_err *err) {
    cdp_status status = only_newest ? walk_member_newest(vault, owner, fn, context, opened, err)
                                    : walk_member(vault, owner, 0, fn, context, opened, err);
    for (size_t m = 0; status == CDP_OK && m < merged_count; m++) {
        uint8_t member_id[CDP_PROFILE_ID_BYTES];
        if (merged_from[m] == NULL ||
            cdp_hex_decode(member_id, sizeof member_id, merged_from[m], strlen(merged_from[m])) != 0)
            return cdp_err_set(err, CDP_CORRUPT, "consent: merged profile id is not 32 hex");
        cdp_person member;
        status = cdp_vault_load_person(vault, member_id, &member, err);
        if (status == CDP_NOT_FOUND) {
            cdp_err_clear(err);
            status = CDP_OK;
            continue;
        }
        if (status == CDP_OK)
            status = only_newest
                         ? walk_member_newest(vault, &member, fn, context, opened, err)
                         : walk_member(vault, &member, 0, fn, context, opened, err);
        cdp_person_wipe(&member);
    }
    return status;
}

static cdp_status offer_fn(void *context, cdp_consent_record *record, cdp_err *err) {
    return view_offer(context, record, err);
}

cdp_status cdp_consent_current(cdp_vault *vault, const cdp_person *owner,
                               const char *const *merged_from, size_t merged_count,
                               cdp_consent_view *out, cdp_err *err) {
    memset(out, 0, sizeof *out);
    cdp_status status = walk_members(vault, owner, merged_from, merged_count, 1, offer_fn, out,
                                     &out->records_read, err);
    if (status != CDP_OK)
        cdp_consent_view_clear(out);
    return status;
}

static json_t *optional_string(const char *text) {
    return text != NULL ? json_string(text) : json_null();
}

static json_t *record_json(const cdp_consent_record *record) {
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:{s:o, s:b, s:o}, s:o}", "profile_id",
                     record->profile_id, "purpose", record->purpose, "state",
                     cdp_consent_state_text(record->state), "time", (json_int_t)record->time_ms,
                     "source", record->source, "notice_version",
                     optional_string(record->notice_version), "proof", "tcf",
                     optional_string(record->tcf), "gpc", record->gpc, "request_id",
                     optional_string(record->request_id), "basis",
                     optional_string(record->basis));
}

static cdp_status append_fn(void *context, cdp_consent_record *record, cdp_err *err) {
    json_t *item = record_json(record);
    cdp_consent_record_clear(record);
    if (item == NULL || json_array_append_new(context, item) != 0)
        return cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
    return CDP_OK;
}

static int by_time(const void *a, const void *b) {
    json_int_t ta = json_integer_value(json_object_get(*(json_t *const *)a, "time"));
    json_int_t tb = json_integer_value(json_object_get(*(json_t *const *)b, "time"));
    return ta < tb ? -1 : ta > tb;
}

cdp_status cdp_consent_history_json(cdp_vault *vault, const cdp_person *owner,
                                    const char *const *merged_from, size_t merged_count,
                                    char **json, cdp_err *err) {
    *json = NULL;
    json_t *list = json_array();
    size_t opened = 0;
    if (list == NULL)
        return cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
    cdp_status status =
        walk_members(vault, owner, merged_from, merged_count, 0, append_fn, list, &opened, err);
    json_t **items = NULL;
    size_t count = json_array_size(list);
    if (status == CDP_OK && count > 0) {
        items = cdp_malloc(count * sizeof *items);
        if (items == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
        for (size_t i = 0; items != NULL && i < count; i++)
            items[i] = json_incref(json_array_get(list, i));
        if (items != NULL) {
            qsort(items, count, sizeof *items, by_time);
            json_array_clear(list);
            for (size_t i = 0; i < count; i++)
                json_array_append_new(list, items[i]);
        }
    }
    cdp_free(items);
    if (status == CDP_OK) {
        char *text = json_dumps(list, JSON_COMPACT);
        *json = text ? cdp_strdup(text) : NULL;
        free(text);
        if (*json == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "consent: out of memory");
    }
    json_decref(list);
    return status;
}

/* ---- regime and GPC -------------------------------------------------------------------------- */

/* address.<field> as text, copied into out (cap bytes): from a trait "address" holding an object
 * (as identify sends it) or a flat trait "address.<field>"; NULL when neither is a string. */
static const char *address_text(const cdp_profile_record *profile, const char *field, char *out,
                                size_t cap) {
    char flat[32];
    snprintf(flat, sizeof flat, "address.%s", field);
    const char *found = NULL;
    for (size_t i = 0; i < profile->trait_count && found == NULL; i++) {
        int whole = strcmp(profile->traits[i].name, "address") == 0;
        if (!whole && strcmp(profile->traits[i].name, flat) != 0)
            continue;
        json_t *value = json_loads(profile->traits[i].value_json, JSON_DECODE_ANY, NULL);
        const char *text = json_string_value(whole ? json_object_get(value, field) : value);
        if (text != NULL && strlen(text) < cap) {
            snprintf(out, cap, "%s", text);
            found = out;
        }
        json_decref(value);
    }
    return found;
}

const char *cdp_consent_regime_of(const cdp_policy *policy, const cdp_profile_record *profile) {
    char country[8], state[8];
    const char *country_text = address_text(profile, "country", country, sizeof country);
    const char *state_text = address_text(profile, "state", state, sizeof state);
    /* Subdivision codes are upper case in the policy ("CA"). */
    for (char *c = state; state_text != NULL && *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    return cdp_policy_regime_for_country(policy, profile->region, country_text, state_text);
}

cdp_status cdp_consent_record_gpc(const cdp_policy *policy, cdp_vault *vault, cdp_batch *batch,
                                  const cdp_person *owner, const cdp_profile_record *profile,
                                  int64_t time_ms, const char *source, const char *request_id,
                                  int *honoured, size_t *written, cdp_err *err) {
    *written = 0;
    int honours = cdp_consent_regime_honours_gpc(policy, cdp_consent_regime_of(policy, profile));
    if (honoured != NULL)
        *honoured = honours;
    if (!honours)
        return CDP_OK;
    cdp_consent_view view;
    cdp_status status =
        cdp_consent_current(vault, owner, (const char *const *)profile->merged_from,
                            profile->merged_from_count, &view, err);
    size_t count = 0;
    const char *const *purposes = cdp_consent_sale_share_purposes(policy, &count);
    for (size_t i = 0; status == CDP_OK && i < count; i++) {
        const cdp_consent_record *held = cdp_consent_view_find(&view, purposes[i]);
        if (held != NULL && held->gpc && held->state == CDP_CONSENT_STATE_DENIED)
            continue; /* already opted out by GPC: once per person, not once per event */
        cdp_consent_entry entry = {
            .purpose = purposes[i],
            .state = CDP_CONSENT_STATE_DENIED,
            .time_ms = time_ms,
            .source = source != NULL && *source ? source : "gpc",
            .gpc = 1,
            .request_id = request_id != NULL && *request_id ? request_id : NULL,
        };
        status = cdp_consent_put(vault, batch, owner, &entry, err);
        if (status == CDP_OK)
            (*written)++;
    }
    cdp_consent_view_clear(&view);
    return status;
}
