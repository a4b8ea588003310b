/* Erasure (GDPR Art. 17, CCPA delete) of a whole merged person, in three steps:
 *
 * 1. Logical erase, ONE atomic batch in the person's home region (made durable by a WAL sync
 *    outside the region lock, before the receipt is returned): the wrapped data keys
 *    of the profile and of every profile merged into it (crypto-shredding), their profile,
 *    event, consent and merge records (every key under the profile-id prefixes), the identity
 *    index entries of every identifier (under every live blind-index epoch) and the message
 *    markers of their events, suppression entries for the identifiers, the audit record
 *    ("erasure", the profile id, no identifier) and an erasure journal entry in `meta`.
 *    Then the data keys are dropped from the key cache.
 * 2. Receipt: signed with the region's current audit key once the audit sequence is known; kept
 *    in the journal (state "purge_pending").
 * 3. Physical purge, batched over every pending erasure of a region: flush every memtable (the
 *    WAL files that held the person become obsolete and are deleted), compact the affected
 *    ranges with bottommost compaction forced, then mark the journal entries "done".
 *
 * Crash safety: a crash before step 1's write leaves nothing (retrying is safe); after it, the
 * journal's pending entry makes cdp_privacy_recover (run at open) sign the receipt (finding the
 * audit sequence through the audit log's person index) and purge. Every step is idempotent.
 *
 * Journal layout (column family `meta`; no personal data: pseudonymous ids, keyed hashes):
 *   "erasure/<request id>"         -> {"state", "members": [profile hex], "body": unsigned
 *                                      receipt} or, once signed, {"state", "members", "receipt"}
 *   "erasure.pending/<request id>" -> "" while the purge has not completed
 *   "erasure.profile/<profile hex>" -> request id (erasing profile:<id> again finds the receipt)
 * Suppression entries (`suppress`): blind(type, value) under the region's suppression key ->
 *   {"request_id", "time"}.
 *
 * Thread-safe: the logical erase holds the region's write lock (as ingest does); callers hold the
 * handle's shared lock so key epochs do not change meanwhile. */
#ifndef CDP_PRIVACY_ERASE_H
#define CDP_PRIVACY_ERASE_H

#include <stddef.h>
#include <stdint.h>

#include "cdp/cdp.h"
#include "identity/resolve.h"
#include "privacy/receipt.h"
#include "util/err.h"

#define CDP_ERASE_REQUEST_ID_MAX 63

/* Erases the person that type:value names (value normalized; type "profile": value is the
 * 32-hex profile id). request_id: a token of 1..63 characters [A-Za-z0-9_.:-] (the caller
 * generates one when the requester gave none). On success *receipt_json is the signed receipt;
 * caller owns it (free with cdp_free). Erasing a person already erased (their identifier is
 * suppressed, or the profile id or request id names a finished erasure) gives the stored
 * receipt again. CDP_NOT_FOUND when nobody holds the identifier and it is not suppressed;
 * CDP_CONFLICT when request_id was used for another erasure. The physical purge is left pending
 * (cdp_privacy_purge). */
cdp_status cdp_privacy_erase(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *type, const char *value, const char *request_id,
                             int64_t now_ms, char **receipt_json, cdp_err *err);

/* Completes the pending erasures of every region whose receipt is signed: purges physically
 * (one flush and one compaction per region for all of them) and marks them done. An erasure
 * still being signed by another thread is left for the next purge. *purged (may be NULL) counts
 * the erasures completed. */
cdp_status cdp_privacy_purge(const cdp_identity_env *env, size_t *purged, cdp_err *err);

/* Crash recovery, at open before any other call: signs the receipts a crash left unsigned (the
 * audit sequence found through the audit log's person index), then purges every pending
 * erasure. */
cdp_status cdp_privacy_recover(const cdp_identity_env *env, cdp_err *err);

/* Removes the suppression of type:value (value normalized) in every region, with an audit record
 * ("suppression.lift") in the same batch. CDP_NOT_FOUND when it is not suppressed. */
cdp_status cdp_privacy_lift(const cdp_identity_env *env, const cdp_actor *actor, const char *type,
                            const char *value, int64_t now_ms, cdp_err *err);

/* The same, with the DPO's reason for lifting (a token such as "fresh_consent", recorded as
 * the audit record's reason; NULL: none). */
cdp_status cdp_privacy_lift_with_reason(const cdp_identity_env *env, const cdp_actor *actor,
                                        const char *type, const char *value, const char *reason,
                                        int64_t now_ms, cdp_err *err);

/* 1 when type:value (normalized) is suppressed in some region. */
int cdp_privacy_is_suppressed(const cdp_identity_env *env, const char *type, const char *value);

#endif
