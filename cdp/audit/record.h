/* One audit record: what the enforcement point decided, as a typed entry going in and a
 * decoded record coming out, and its canonical bytes — Avro single-object encoding of
 * schemas/audit_record.avsc — which are the record's Merkle leaf.
 *
 * No personal data can enter: the profile is a 16-byte pseudonymous id, and every text field is
 * a token of 1..128 characters from [A-Za-z0-9_.:-] (policy names, key ids, request ids,
 * stable error codes). An e-mail address ('@'), an international phone number ('+'), a name
 * with a space, free text: all are refused with CDP_BAD_REQUEST before anything is written. */
#ifndef CDP_AUDIT_RECORD_H
#define CDP_AUDIT_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/region.h"
#include "util/bytes.h"
#include "util/err.h"

/* The symbols of the schema's AuditDecision enum, in order. */
typedef enum cdp_audit_decision {
    CDP_AUDIT_ALLOW = 0,    /* served in full */
    CDP_AUDIT_WITHHOLD = 1, /* served with some categories withheld */
    CDP_AUDIT_DENY = 2,     /* refused */
} cdp_audit_decision;

/* "allow", "withhold", "deny"; NULL for anything else. Static storage. */
const char *cdp_audit_decision_name(cdp_audit_decision decision);
/* CDP_BAD_REQUEST for an unknown name. */
cdp_status cdp_audit_decision_parse(const char *name, cdp_audit_decision *out);

#define CDP_AUDIT_TOKEN_MAX 128
#define CDP_AUDIT_MAX_CATEGORIES 64

/* 1 when text is a token: 1..CDP_AUDIT_TOKEN_MAX characters of [A-Za-z0-9_.:-]. */
int cdp_audit_token_ok(const char *text);

/* One decision to record. All pointers are borrowed for the call only. */
typedef struct cdp_audit_entry {
    int64_t time_ms;               /* decision time, ms since the epoch; 0: now. The log keeps
                                      times non-decreasing along seq (a smaller time is raised). */
    const char *actor_key_id;      /* required: the API key's public id ("local" for the CLI) */
    const char *actor_role;        /* required: "personalization", "dpo", ... */
    const char *operation;         /* required: "profile.read", "event.ingest", "dsr.erase", ... */
    const char *purpose;           /* NULL: none stated */
    const char *lawful_basis;      /* NULL: none */
    const uint8_t *profile_id;     /* CDP_PROFILE_ID_BYTES bytes, or NULL: no person concerned */
    const char *const *categories; /* data categories released (or asked for, when refused) */
    size_t category_count;         /* 0..CDP_AUDIT_MAX_CATEGORIES */
    cdp_audit_decision decision;
    const char *reason;     /* NULL: none; else a stable code ("consent_denied", ...) */
    const char *request_id; /* NULL: none */
} cdp_audit_entry;

/* CDP_OK, or CDP_BAD_REQUEST naming the first field that is missing or not a token. */
cdp_status cdp_audit_entry_check(const cdp_audit_entry *entry, cdp_err *err);

/* A decoded record. Strings are NUL-terminated, NULL when absent; everything is borrowed from
 * the decoder until its next decode or its free. */
typedef struct cdp_audit_record {
    uint64_t seq;
    int64_t time_ms;
    const char *region;
    const char *actor_key_id;
    const char *actor_role;
    const char *operation;
    const char *purpose;
    const char *lawful_basis;
    int has_profile_id;
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    const char *categories[CDP_AUDIT_MAX_CATEGORIES];
    size_t category_count;
    cdp_audit_decision decision;
    const char *reason;
    const char *request_id;
    const uint8_t *leaf; /* the canonical bytes decoded */
    size_t leaf_len;
} cdp_audit_record;

/* Appends the record's canonical bytes (single-object header + Avro binary) to out. The entry
 * must have passed cdp_audit_entry_check. */
cdp_status cdp_audit_record_encode(uint64_t seq, int64_t time_ms, const char *region,
                                   const cdp_audit_entry *entry, cdp_buf *out, cdp_err *err);

/* The same bytes in two parts, so that an append encodes everything but seq and time before it
 * takes the log's lock: the head (single-object header, seq, time: the record's first two
 * fields) into out, returning its length; then the body (every later field), appended to out.
 * The record is head || body. The codec must be initialised (cdp_codec_init) before the head. */
#define CDP_AUDIT_RECORD_HEAD_MAX (10 + 2 * 10) /* single-object header, two longs */
size_t cdp_audit_record_head(uint8_t out[CDP_AUDIT_RECORD_HEAD_MAX], uint64_t seq,
                             int64_t time_ms);
/* At most this many bytes of body for entry: encode_body reserves it (once) in out, so an out
 * with that much room is never reallocated. */
size_t cdp_audit_record_body_bound(const cdp_audit_entry *entry);
cdp_status cdp_audit_record_encode_body(const char *region, const cdp_audit_entry *entry,
                                        cdp_buf *out, cdp_err *err);

/* Decodes canonical bytes, checking the header, the schema fingerprint, every length against
 * the bytes left, every field's token rule, and that nothing trails: CDP_CORRUPT naming the
 * field otherwise. Strings are copied into the decoder's scratch buffer. */
typedef struct cdp_audit_decoder {
    cdp_buf scratch;
    cdp_audit_record record;
} cdp_audit_decoder;
/* Zero-initialise ({0}); cdp_audit_decoder_clear frees. */
cdp_status cdp_audit_decode(cdp_audit_decoder *decoder, const uint8_t *leaf, size_t len,
                            const cdp_audit_record **out, cdp_err *err);
void cdp_audit_decoder_clear(cdp_audit_decoder *decoder);

/* The record as the canonical JSON object of exports (schema field order; profile_id as 32 hex
 * characters; absent values as null). NULL when out of memory. Caller owns (json_decref). */
json_t *cdp_audit_record_json(const cdp_audit_record *record);

#endif
