/* The ingest path's parse + validate + normalize steps for one Segment message, without a
 * store, with the invariants fuzz_segment and fuzz_batch assert on every accepted message. */
#ifndef CDP_FUZZ_SEGMENT_CHECK_H
#define CDP_FUZZ_SEGMENT_CHECK_H

#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "identity/normalize.h"
#include "identity/segment.h"
#include "policy/policy.h"

static inline int segment_refusal_status(cdp_status status) {
    return status == CDP_BAD_REQUEST || status == CDP_PAYLOAD_TOO_LARGE ||
           status == CDP_INVALID_JSON || status == CDP_INVALID_IDENTIFIER || status == CDP_NOMEM;
}

static inline int is_hex_text(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    return 1;
}

/* Checks an accepted message's view, then normalizes its identifiers as identity resolution does
 * (the message's country, else the write key's region default: "NO" here). */
static inline void segment_check_accepted(const cdp_segment_message *message) {
    FUZZ_CHECK(message->root != NULL && json_is_object(message->root), "root is not an object");
    FUZZ_CHECK(message->type_name != NULL && message->message_id != NULL, "missing type or id");
    size_t id_len = strlen(message->message_id);
    if (message->message_id == message->generated_id)
        FUZZ_CHECK(id_len == 36 && strncmp(message->message_id, "gen-", 4) == 0 &&
                       is_hex_text(message->message_id + 4, 32),
                   "generated id \"%s\"", message->message_id);
    else
        FUZZ_CHECK(id_len <= 100, "messageId of %zu bytes accepted", id_len);
    if (message->type == CDP_SEGMENT_TRACK)
        FUZZ_CHECK(message->event != NULL && message->event[0] != '\0' &&
                       strlen(message->event) <= 200,
                   "track without a valid event");
    if (message->type == CDP_SEGMENT_GROUP)
        FUZZ_CHECK(message->group_id != NULL, "group without groupId");
    if (message->country != NULL)
        FUZZ_CHECK(message->country == message->country_buf && cdp_iso3166_valid(message->country),
                   "country \"%s\"", message->country);
    FUZZ_CHECK(message->identifier_count <= CDP_SEGMENT_IDENTIFIERS_MAX, "%zu identifiers",
               message->identifier_count);
    FUZZ_CHECK(message->identifier_count > 0, "accepted with no identifier");
    const char *country = message->country != NULL ? message->country : "NO";
    cdp_buf normalized = {0};
    for (size_t i = 0; i < message->identifier_count; i++) {
        const cdp_raw_identifier *raw = &message->identifiers[i];
        FUZZ_CHECK(raw->type != NULL && raw->value != NULL && raw->field != NULL,
                   "identifier %zu incomplete", i);
        FUZZ_CHECK(memchr(raw->value, '\0', raw->value_len) == NULL &&
                       raw->value[raw->value_len] == '\0',
                   "identifier %zu (%s): length does not match its text", i, raw->field);
        cdp_err err = {0};
        cdp_status status = cdp_normalize_identifier(raw->type, raw->value, raw->value_len,
                                                     country, &normalized, &err);
        if (status != CDP_OK) {
            FUZZ_CHECK(status == CDP_INVALID_IDENTIFIER || status == CDP_NOMEM,
                       "%s: status %d (%s)", raw->field, (int)status, err.message);
            FUZZ_CHECK_REFUSAL(status, err);
        } else {
            FUZZ_CHECK(cdp_utf8_valid((const char *)normalized.data, normalized.len),
                       "%s: normalized to invalid UTF-8", raw->field);
        }
    }
    cdp_buf_free(&normalized);
}

/* Parses message (borrowed) with type_hint; on success checks the view and that the message,
 * serialized and parsed again, gives the same view (what a retry of the same event does: the
 * derived id must not change, or retries would not dedupe). Returns the status. */
static inline cdp_status segment_check_one(json_t *message, const char *type_hint) {
    cdp_segment_message parsed, again;
    memset(&parsed, 0, sizeof parsed);
    memset(&again, 0, sizeof again);
    cdp_err err = {0};
    cdp_status status = cdp_segment_parse(message, type_hint, &parsed, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(segment_refusal_status(status), "status %d (%s)", (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        FUZZ_CHECK(parsed.root == NULL, "refused, yet the view holds the message");
        return status;
    }
    segment_check_accepted(&parsed);
    char *text = json_dumps(message, JSON_COMPACT);
    if (text != NULL) {
        json_t *copy = NULL;
        cdp_err copy_err = {0};
        cdp_status copy_status = cdp_segment_decode_json(text, strlen(text), &copy, &copy_err);
        if (copy_status != CDP_NOMEM) {
            FUZZ_CHECK(copy_status == CDP_OK, "its own serialization does not decode: %s",
                       copy_err.message);
            cdp_status again_status = cdp_segment_parse(copy, type_hint, &again, &copy_err);
            if (again_status != CDP_NOMEM) {
                FUZZ_CHECK(again_status == CDP_OK, "re-parse refused: %s", copy_err.message);
                FUZZ_CHECK(again.type == parsed.type &&
                               strcmp(again.message_id, parsed.message_id) == 0 &&
                               again.identifier_count == parsed.identifier_count,
                           "re-parse differs: id %s vs %s", again.message_id, parsed.message_id);
                if (json_object_get(message, "timestamp") != NULL ||
                    json_object_get(message, "originalTimestamp") != NULL)
                    FUZZ_CHECK(again.timestamp == parsed.timestamp, "timestamp differs");
            }
        }
        json_decref(copy);
        free(text);
    }
    cdp_segment_message_clear(&again);
    cdp_segment_message_clear(&parsed);
    return status;
}

#endif
