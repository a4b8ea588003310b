/* Consent records: one Avro record (schemas/consent_record.avsc) per decision, sealed with the
 * person's data key in the `consent` column family under
 *   profile id (16) || purpose token (16) || 0x00 || time (8, big-endian) || sequence (4, BE)
 * so the whole history is kept and the current state of a purpose is its last key. The purpose
 * token is BLAKE2b of the purpose name keyed with the person's data key: keys are stored in the
 * clear, and which purposes a person decided on is itself personal data. A merged
 * person's records stay under the member profiles' ids (and keys): reads walk the profile and
 * every profile in its merged_from list. Writes go into the caller's batch, so a consent change
 * is atomic with the message that carried it and its audit record. Thread-safe as the vault. */
#ifndef CDP_CONSENT_CONSENT_H
#define CDP_CONSENT_CONSENT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "policy/privacy.h"
#include "store/records.h"
#include "store/vault.h"
#include "util/bytes.h"
#include "util/err.h"

#define CDP_CONSENT_PURPOSE_MAX 64 /* bytes of a purpose id */

/* One decision to record. Strings borrowed for the call; optional ones may be NULL. */
typedef struct cdp_consent_entry {
    const char *purpose;        /* required, 1..64 bytes, no NUL */
    cdp_consent_state state;    /* GRANTED, DENIED or WITHDRAWN */
    int64_t time_ms;            /* when the person decided */
    const char *source;         /* required: web, ios, call_center, dsr, ... */
    const char *notice_version; /* optional */
    const char *tcf;            /* optional: the TC string it was read from */
    int gpc;                    /* a Global Privacy Control signal set it */
    const char *request_id;     /* optional */
    const char *basis;          /* optional lawful basis */
} cdp_consent_entry;

/* A stored decision, decoded. Strings owned by the struct (free with cdp_consent_record_clear);
 * optional ones NULL when absent. */
typedef struct cdp_consent_record {
    char *profile_id; /* 32 hex: the member profile it was recorded under */
    char *purpose;
    cdp_consent_state state;
    int64_t time_ms;
    char *source;
    char *notice_version;
    char *tcf;
    int gpc;
    char *request_id;
    char *basis;
} cdp_consent_record;

void cdp_consent_record_clear(cdp_consent_record *record); /* accepts a zeroed struct */

/* "granted", "denied", "withdrawn" ("none" for NONE). Static. */
const char *cdp_consent_state_text(cdp_consent_state state);
/* Parses one of the three recorded states; -1 for anything else (including "none"). */
int cdp_consent_state_from_text(const char *text, cdp_consent_state *out);

/* Single-object encoding of the record of entry for profile_id_hex (32 hex), appended to out. */
cdp_status cdp_consent_record_encode(const cdp_consent_entry *entry, const char *profile_id_hex,
                                     cdp_buf *out, cdp_err *err);
/* Decodes into *out (cleared first; cleared again on error). Caller owns the contents. */
cdp_status cdp_consent_record_decode(const uint8_t *bytes, size_t len, cdp_consent_record *out,
                                     cdp_err *err);

/* Seals the record of entry under the person's data key and adds it to batch.
 * CDP_BAD_REQUEST naming the field for a bad entry (empty purpose, state NONE, no source). */
cdp_status cdp_consent_put(cdp_vault *vault, cdp_batch *batch, const cdp_person *person,
                           const cdp_consent_entry *entry, cdp_err *err);

/* The current state of every purpose with a record: the deciding record per purpose, sorted by
 * purpose. Caller owns it (free with cdp_consent_view_clear). */
typedef struct cdp_consent_view {
    cdp_consent_record *current;
    size_t count;
    size_t records_read; /* records opened to decide (the newest of each purpose and its ties) */
} cdp_consent_view;

void cdp_consent_view_clear(cdp_consent_view *view); /* accepts a zeroed struct */
/* The deciding record of purpose in view, or NULL. Borrowed from view. */
const cdp_consent_record *cdp_consent_view_find(const cdp_consent_view *view,
                                                const char *purpose);

/* Reads the records of the owner and of each profile in merged_from (32-hex ids; members whose
 * data key is gone, e.g. erased, are skipped) and decides each purpose: the latest time wins
 * across members; on a tie the stricter state (denied or withdrawn over granted). One backward
 * prefix iteration per member, opening only the newest record of each purpose (and its ties). */
cdp_status cdp_consent_current(cdp_vault *vault, const cdp_person *owner,
                               const char *const *merged_from, size_t merged_count,
                               cdp_consent_view *out, cdp_err *err);

/* Every record of the owner and the merged members, oldest first, as a JSON array of
 * {"profile_id", "purpose", "state", "time", "source", "notice_version", "proof": {"tcf", "gpc",
 * "request_id"}, "basis"} (for the access export). Caller owns *json (free with cdp_free). */
cdp_status cdp_consent_history_json(cdp_vault *vault, const cdp_person *owner,
                                    const char *const *merged_from, size_t merged_count,
                                    char **json, cdp_err *err);

/* The person's regime, from the profile's region and its traits address.country and
 * address.state (cdp_policy_regime_for_country); NULL when the region is unknown. */
const char *cdp_consent_regime_of(const cdp_policy *policy, const cdp_profile_record *profile);

/* A GPC signal for the person: when their regime honours GPC, adds a DENIED record with
 * proof.gpc for every sale/share purpose whose current state is not already a GPC denial
 * (*written counts them; 0 when nothing needed writing). *honoured (may be NULL) says whether
 * the regime honours GPC. */
cdp_status cdp_consent_record_gpc(const cdp_policy *policy, cdp_vault *vault, cdp_batch *batch,
                                  const cdp_person *owner, const cdp_profile_record *profile,
                                  int64_t time_ms, const char *source, const char *request_id,
                                  int *honoured, size_t *written, cdp_err *err);

#endif
