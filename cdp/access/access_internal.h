/* Shared inside cdp/access only. */
#ifndef CDP_ACCESS_INTERNAL_H
#define CDP_ACCESS_INTERNAL_H

#include "access/access.h"

/* The person's regime id from their home region and address; "unknown" when none applies. */
const char *cdp_access_regime_of(const cdp_policy *policy, const cdp_profile_record *profile);

/* Fills regime, consent[] and sensitive_limited of an opened person. */
cdp_status cdp_access_load_decision_state(const cdp_identity_env *env, cdp_access_person *out,
                                          cdp_err *err);

/* Current consent per purpose of the person and every profile merged into them
 * (consent[] already NONE). */
cdp_status cdp_access_read_consent(const cdp_identity_env *env, cdp_access_person *person,
                                   cdp_err *err);

/* Appends one decision to the audit log of region_index (person may be NULL: a refusal before
 * anyone was found). Synced when sync is set (refusals and writes); reads reach the WAL now and
 * disk at the next sync. */
cdp_status cdp_access_audit(const cdp_identity_env *env, size_t region_index,
                            const cdp_actor *actor, const char *operation, const char *purpose,
                            const uint8_t *profile_id, const cdp_access_answer *answer,
                            cdp_audit_decision decision, const char *const *categories,
                            size_t category_count, cdp_err *err);

/* The checks made before anyone is looked up: a stated purpose that the key and the role may use.
 * A refusal is audited (without a person) in the caller's region and returned. */
cdp_status cdp_access_precheck(const cdp_identity_env *env, const cdp_actor *actor,
                               const char *purpose, const char *operation, cdp_err *err);

/* Counts a refusal or withholding by reason for /metrics. */
void cdp_access_count(const char *reason, int denied);

#endif
