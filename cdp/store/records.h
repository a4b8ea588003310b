/* Typed C views of the records at rest (profile, event), converted to and from their Avro
 * schemas by cdp/store/codec. Upper layers work with these structs, not with avro_value_t.
 * All strings are NUL-terminated UTF-8 owned by the struct; *_clear frees them and zeroes the
 * struct (accepts a zeroed struct). Timestamps are milliseconds since the Unix epoch (UTC). */
#ifndef CDP_STORE_RECORDS_H
#define CDP_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"
#include "util/err.h"

/* An identifier held by a profile (plaintext lives only inside the encrypted profile). */
typedef struct cdp_identity_entry {
    char *type;           /* "email", "phone", "user_id", "anonymous_id", "device_id", ... */
    char *value;          /* normalized value */
    int64_t added_at;     /* when it joined the profile */
    char *source;         /* ingest source (channel) that brought it; may be NULL */
    char *message_id;     /* evidence: the message that brought it; may be NULL */
} cdp_identity_entry;

/* One trait, field by field: newest wins on merge, keeping where it came from. */
typedef struct cdp_trait_entry {
    char *name;       /* e.g. "email", "first_name", "address.city" */
    char *value_json; /* the JSON text of the value */
    char *source;     /* ingest source (web, ios, pos, ...); may be NULL */
    char *channel;    /* channel of the event that set it; may be NULL */
    int64_t updated_at;
    char *category;   /* data category from policies (contact, demographic, ...); may be NULL */
} cdp_trait_entry;

/* Per-channel summary: the omnichannel view. */
typedef struct cdp_channel_entry {
    char *channel;
    int64_t first_seen;
    int64_t last_seen;
    int64_t event_count;
} cdp_channel_entry;

typedef struct cdp_profile_record {
    char *profile_id; /* 32 lowercase hex characters (16 random bytes) */
    char *region;
    int64_t created_at;
    int64_t updated_at;
    int restricted; /* GDPR Art. 18: kept, not served */
    cdp_identity_entry *identities;
    size_t identity_count;
    cdp_trait_entry *traits;
    size_t trait_count;
    cdp_channel_entry *channels;
    size_t channel_count;
    char **merged_from; /* profile ids merged into this one */
    size_t merged_from_count;
    char *computed_json; /* JSON object of computed traits; may be NULL */
} cdp_profile_record;

typedef struct cdp_event_record {
    char *event_id;   /* 32 hex */
    char *message_id; /* Segment messageId */
    char *type;       /* identify, track, page, screen, group, alias */
    char *name;       /* track event name / page or screen name; may be NULL */
    int64_t timestamp;   /* the event's own time */
    int64_t received_at; /* when cdp stored it */
    char *source;  /* ingest source; may be NULL */
    char *channel; /* may be NULL */
    char *properties_json; /* JSON object text, "{}" when none */
    char *context_json;    /* JSON object text, "{}" when none */
    char *traits_json;      /* person traits the message carried (JSON object); may be NULL */
    char *identifiers_json; /* [[type, normalized value], ...] it carried; may be NULL */
} cdp_event_record;

/* Append the single-object encoding to out. */
cdp_status cdp_profile_record_encode(const cdp_profile_record *record, cdp_buf *out,
                                     cdp_err *err);
cdp_status cdp_event_record_encode(const cdp_event_record *record, cdp_buf *out, cdp_err *err);

/* Decode into *out (zeroed by the callee first); on error *out is left cleared.
 * Caller owns the contents (free with *_clear). */
cdp_status cdp_profile_record_decode(const uint8_t *bytes, size_t len, cdp_profile_record *out,
                                     cdp_err *err);
cdp_status cdp_event_record_decode(const uint8_t *bytes, size_t len, cdp_event_record *out,
                                   cdp_err *err);

void cdp_profile_record_clear(cdp_profile_record *record);
void cdp_event_record_clear(cdp_event_record *record);

#endif
