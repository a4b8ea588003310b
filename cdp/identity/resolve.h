/* Identity resolution: one Segment message into the store. Normalizes its identifiers, finds the
 * profiles they belong to (in every region, by blind index), decides merges under the identity
 * rules (unique ids, per-type limits and windows, caps, quarantine of mass merges), folds traits,
 * channels and computed traits into the profile, and writes the whole effect of the message in
 * one atomic batch in the person's home region. Thread-safe: writes are serialised per region. */
#ifndef CDP_IDENTITY_RESOLVE_H
#define CDP_IDENTITY_RESOLVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "audit/log.h"
#include "cdp/cdp.h"
#include "identity/rules.h"
#include "identity/segment.h"
#include "policy/policy.h"
#include "store/vault.h"
#include "util/err.h"

/* Counters for metrics (process-wide, monotonic). */
typedef struct cdp_identity_counters {
    _Atomic unsigned long long events;
    _Atomic unsigned long long duplicates;
    _Atomic unsigned long long profiles_created;
    _Atomic unsigned long long merges;
    _Atomic unsigned long long merge_refusals;
    _Atomic unsigned long long quarantined;
    _Atomic unsigned long long blocked_identifiers;
    _Atomic unsigned long long erasures; /* people erased (cdp/privacy/erase.c) */
} cdp_identity_counters;

struct cdp_ledger; /* the erasure ledger, cdp/privacy/ledger.h */

/* What resolution works over; borrowed from the handle. */
typedef struct cdp_identity_env {
    cdp_vault *const *vaults;       /* one per region, in region_ids order */
    cdp_audit_log *const *audit_logs; /* one per region: every write is audited in its batch */
    const char *const *region_ids;
    pthread_mutex_t *region_locks;  /* one per region */
    size_t region_count;
    const cdp_policy *policy;
    const cdp_identity_rules *rules;
    cdp_identity_counters *counters;
    /* Benchmark only (cdp_handle_bench_disable_audit): measure what the audit costs. Never set
     * by any public call. */
    int audit_disabled;
    /* Benchmark only (cdp_handle_bench_disable_enforcement): reads skip the access decision and
     * the consent look-up, so cdp-bench can report what enforcement costs. Never set by any
     * public call. */
    int enforcement_disabled;
    /* The data directory's erasure ledger (cdp/privacy/ledger.h): every completed erasure is
     * appended to it. NULL: none (environments built by tests without a data directory). */
    struct cdp_ledger *ledger;
} cdp_identity_env;

typedef struct cdp_ingest_outcome {
    int duplicate;         /* the messageId was stored before: nothing written */
    int created;           /* a new profile was made */
    size_t merged;         /* profiles merged into the target by this message */
    size_t refusals;       /* merges or identifier attachments refused by a rule */
    size_t region_index;   /* where it was written (for the WAL sync) */
    char profile_id[33];
} cdp_ingest_outcome;

/* Stores one parsed message. now_ms: the receive time. */
cdp_status cdp_identity_ingest(const cdp_identity_env *env, const cdp_actor *actor,
                               const cdp_segment_message *message, int gpc, int64_t now_ms,
                               cdp_ingest_outcome *out, cdp_err *err);

/* Adds a merge-history record (kind "merge", "unmerge" or "refused") to batch, sealed with the
 * owner's data key in the merges column family. blind, message_id and reason may be NULL. */
cdp_status cdp_identity_put_merge_record(cdp_vault *vault, cdp_batch *batch,
                                         const cdp_person *owner, const char *kind,
                                         const char *from, const char *to,
                                         const char *identifier_type, const uint8_t *blind,
                                         const char *message_id, const char *rule_version,
                                         const char *reason, int64_t time_ms, cdp_err *err);

/* The region index and profile id an identifier (type, normalized value) belongs to.
 * CDP_NOT_FOUND when none. */
cdp_status cdp_identity_lookup(const cdp_identity_env *env, const char *type, const char *value,
                               size_t *region_index, uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                               cdp_err *err);

#endif
