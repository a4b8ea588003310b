/* Restriction of processing (GDPR Art. 18) in the store. Called by cdp/access only. */
#ifndef CDP_PRIVACY_RESTRICT_H
#define CDP_PRIVACY_RESTRICT_H

#include "identity/resolve.h"

/* Sets (restricted 1) or lifts (0) the restriction of a person, audited ("dsr.restrict" /
 * "dsr.unrestrict") in the same synced write. *changed 0 when it was already so (nothing
 * written). CDP_NOT_FOUND for an unknown profile. */
cdp_status cdp_privacy_set_restricted(const cdp_identity_env *env, size_t region_index,
                                      const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                      int restricted, const cdp_actor *actor, int *changed,
                                      cdp_err *err);

#endif
