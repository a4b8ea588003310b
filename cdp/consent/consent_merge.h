/* Consent across identity merges and unmerges (the rules and their reasons: docs/identity.md,
 * "Consent across merges"). A merge adds, in the merge's own batch, a record on the surviving
 * profile per purpose where any member had denied or withdrawn, with the most restrictive state,
 * dated after every member's records, so the "latest record wins" read can no longer let one
 * member's newer grant override another member's refusal. An unmerge adds records with
 * source "unmerge" on both sides restoring each side's own state. Nothing is ever deleted.
 * Thread-safe as the vault; callers hold the region lock. */
#ifndef CDP_CONSENT_CONSENT_MERGE_H
#define CDP_CONSENT_CONSENT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "consent/consent.h"

/* Strictness order used by merges: none 0 < granted 1 < denied 2 < withdrawn 3. */
int cdp_consent_rank(cdp_consent_state state);

/* One profile taking part in a merge: its person and the ids already merged into it (32 hex).
 * All borrowed for the call. */
typedef struct cdp_consent_member {
    const cdp_person *person;
    const char *const *merged_from;
    size_t merged_count;
} cdp_consent_member;

/* members[0] survives. For every purpose where any member's current state is denied or
 * withdrawn, adds to batch a record under members[0].person with the most restrictive state,
 * source "merge", proof.request_id = request_id (the message id that caused the merge; may be
 * NULL), the proof (gpc, tcf, notice version, basis) of the member record that decided, dated
 * max(time_ms, every member record + 1 ms). *written (may be NULL) counts them. */
cdp_status cdp_consent_merge(cdp_vault *vault, cdp_batch *batch,
                             const cdp_consent_member *members, size_t member_count,
                             int64_t time_ms, const char *request_id, size_t *written,
                             cdp_err *err);

/* What an unmerge splits (all borrowed for the call). */
typedef struct cdp_consent_split {
    const cdp_person *kept;             /* the profile that keeps its id */
    const char *const *kept_members;    /* ids still merged into it, after the split */
    size_t kept_member_count;
    const cdp_person *split;            /* the new profile */
    const char *const *split_members;   /* member ids that move with the split identifier */
    size_t split_member_count;
    int64_t joined_ms;  /* from when the two sides were one person (INT64_MAX: never) */
    int64_t time_ms;    /* the unmerge time (records are dated after every existing record) */
    const char *request_id; /* may be NULL */
} cdp_consent_split;

/* Adds to batch, per purpose with a restored state other than none, a record with source
 * "unmerge" on each side. Kept side: its members' latest record, not counting records the
 * merges wrote from joined_ms on. Split side: its members' latest record, raised to the most
 * restrictive denial or withdrawal recorded on the kept side from joined_ms on (a decision made
 * while merged cannot be attributed to one person; only restrictions are shared).
 * *written (may be NULL) counts them. */
cdp_status cdp_consent_unmerge(cdp_vault *vault, cdp_batch *batch, const cdp_consent_split *split,
                               size_t *written, cdp_err *err);

#endif
