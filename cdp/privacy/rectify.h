/* Rectification (GDPR Art. 16): the corrected traits replace the old ones in the profile, and
 * the old values are rewritten out of the person's stored events, so the live store no longer
 * holds them. */
#ifndef CDP_PRIVACY_RECTIFY_H
#define CDP_PRIVACY_RECTIFY_H

#include <jansson.h>

#include "identity/resolve.h"
#include "store/records.h"
#include "store/vault.h"
#include "util/err.h"

/* Checks a traits object: 1..64 names of 1..128 printable bytes, no null values (a correction
 * states the right value). CDP_BAD_REQUEST "traits.NAME: reason". */
cdp_status cdp_rectify_check(json_t *traits, cdp_err *err);

/* Under the region lock: sets every trait of traits on the profile (source "dpo", time now_ms),
 * rewrites each event of the person (and of the profiles merged into them) whose traits carry
 * one of the names, and writes it all with the audit entry ("dsr.rectify") in one synced batch.
 * *events_rewritten counts the rewritten events. */
cdp_status cdp_rectify_apply(const cdp_identity_env *env, size_t region_index,
                             const cdp_actor *actor,
                             const uint8_t profile_id[CDP_PROFILE_ID_BYTES], json_t *traits,
                             int64_t now_ms,
                             size_t *events_rewritten, cdp_err *err);

#endif
