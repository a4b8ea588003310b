/* Segment Spec messages (identify, track, page, screen, group, alias) parsed and validated into
 * a typed view, as the Segment and RudderStack SDKs send them. Validation names the field and the
 * reason; nothing is stored here. Identifiers come out raw (not yet normalized): the identity
 * module normalizes them with the person's country. Thread-safe (no shared state). */
#ifndef CDP_IDENTITY_SEGMENT_H
#define CDP_IDENTITY_SEGMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_SEGMENT_EVENT_MAX (32u * 1024u)  /* bytes of one message, as Segment */
#define CDP_SEGMENT_BATCH_MAX (500u * 1024u) /* bytes of one batch body, as Segment */
#define CDP_SEGMENT_BATCH_COUNT_MAX 2500     /* messages in one batch */

typedef enum cdp_segment_type {
    CDP_SEGMENT_IDENTIFY,
    CDP_SEGMENT_TRACK,
    CDP_SEGMENT_PAGE,
    CDP_SEGMENT_SCREEN,
    CDP_SEGMENT_GROUP,
    CDP_SEGMENT_ALIAS,
} cdp_segment_type;

/* One identifier as it arrived. type: "user_id", "anonymous_id", "email", "phone",
 * "device_id", or an external id type from context.externalIds[].type ("loyalty_id", ...);
 * for alias, "previous_id" is reported as type "user_id" with is_previous = 1. */
typedef struct cdp_raw_identifier {
    const char *type;  /* borrowed: static string or from the message's JSON */
    const char *value; /* borrowed from the message's JSON (NUL-terminated UTF-8), or for a
                          number its decimal text in the message's identifier_text */
    size_t value_len;
    const char *field; /* where it came from: "userId", "traits.email", "context.externalIds[2].id"
                          (static string or in the message's identifier_field) */
    int is_previous;   /* alias previousId */
} cdp_raw_identifier;

#define CDP_SEGMENT_IDENTIFIERS_MAX 64
#define CDP_SEGMENT_ID_TEXT_MAX 24    /* a numeric id as decimal text, with its NUL */
#define CDP_SEGMENT_FIELD_TEXT_MAX 32 /* "context.externalIds[63].id" with its NUL */

typedef struct cdp_segment_message {
    json_t *root; /* the message object; one reference held (released by clear) */
    cdp_segment_type type;
    const char *type_name;  /* "identify", ... */
    const char *message_id; /* messageId; when absent, a deterministic id derived from the
                               message's canonical bytes (so retries dedupe), in generated_id:
                               "gen-" + 32 hex digits; sentAt and receivedAt are left out of it
                               because they change when a message is retried */
    char generated_id[48];
    int64_t timestamp;   /* ms since epoch: timestamp, else originalTimestamp, else receivedAt
                            or sentAt, else the time of parsing */
    int64_t sent_at;     /* ms, or 0 */
    const char *event;   /* track: event name (required) */
    const char *name;    /* page/screen name; may be NULL */
    const char *group_id;
    const char *channel; /* channel (top level, as Segment), else context.channel; may be NULL */
    const char *country; /* ISO alpha-2 upper-case copy in country_buf from traits.address.country,
                            else context.location.country, else context.traits.address.country;
                            NULL if none or not an alpha-2 code (a country NAME like "Norway" is
                            looked up in ISO 3166 names where unambiguous) */
    char country_buf[3];
    const char *locale;  /* context.locale */
    const char *timezone; /* context.timezone */
    json_t *traits;     /* borrowed: traits (identify/group) or context.traits; may be NULL */
    json_t *properties; /* borrowed: properties (track/page/screen); may be NULL */
    json_t *context;    /* borrowed; may be NULL */
    cdp_raw_identifier identifiers[CDP_SEGMENT_IDENTIFIERS_MAX];
    size_t identifier_count;
    /* Storage that identifiers[i] (and group_id) may point into: numbers as decimal text, field
       paths with an index. The struct is not to be copied: its pointers refer into it. */
    char identifier_text[CDP_SEGMENT_IDENTIFIERS_MAX][CDP_SEGMENT_ID_TEXT_MAX];
    char identifier_field[CDP_SEGMENT_IDENTIFIERS_MAX][CDP_SEGMENT_FIELD_TEXT_MAX];
    char group_id_text[CDP_SEGMENT_ID_TEXT_MAX];
} cdp_segment_message;

/* Validates and views one message object (takes a new reference to it). Rules:
 * - type in the six above (also accepted when the route gives it: type_hint non-NULL and the
 *   message has no type, or the same type);
 * - at least one of userId / anonymousId (strings or numbers, numbers turned to their decimal
 *   text), except alias: userId and previousId required; group: groupId required;
 * - track: event, a non-empty string <= 200 bytes;
 * - traits, properties, context: objects when present; timestamps ISO-8601 / RFC 3339 (with
 *   zone or Z; fractional seconds ok) within years 2000..2100;
 * - messageId: string <= 100 bytes when present;
 * - serialized size of the message <= CDP_SEGMENT_EVENT_MAX (CDP_PAYLOAD_TOO_LARGE).
 * Errors: CDP_BAD_REQUEST (or CDP_PAYLOAD_TOO_LARGE) with "field: reason", e.g.
 * "userId: required (or anonymousId)", "timestamp: not an ISO-8601 time", "event: required for
 * track". On error *out is cleared. Caller owns *out (free with cdp_segment_message_clear). */
cdp_status cdp_segment_parse(json_t *message, const char *type_hint, cdp_segment_message *out,
                             cdp_err *err);

void cdp_segment_message_clear(cdp_segment_message *message); /* accepts a zeroed struct */

/* Parses a request body (UTF-8 JSON text, <= CDP_SEGMENT_BATCH_MAX else CDP_PAYLOAD_TOO_LARGE)
 * with JSON_REJECT_DUPLICATES into *out: CDP_INVALID_JSON with line/column on bad JSON; nesting
 * deeper than 64 levels is CDP_INVALID_JSON. Caller owns *out (json_decref). */
cdp_status cdp_segment_decode_json(const char *body, size_t len, json_t **out, cdp_err *err);

/* ISO-8601 / RFC 3339 to ms since epoch; 0 on success, -1 if invalid. */
int cdp_segment_parse_time(const char *text, int64_t *ms);

#endif
