/* Unmerge: split one identifier, with the events that carried it and the traits they set, off
 * a profile into a new profile of its own, rebuilding both sides from their events. */
#ifndef CDP_IDENTITY_UNMERGE_H
#define CDP_IDENTITY_UNMERGE_H

#include "identity/resolve.h"
#include "store/records.h"

/* profile/person: the loaded profile to split (region region_index). On success split_id gets
 * the new profile's id (32 hex + NUL). CDP_NOT_FOUND if the profile does not hold the
 * identifier; CDP_CONFLICT if it is the profile's only identifier. Takes the region lock. */
cdp_status cdp_identity_unmerge(const cdp_identity_env *env, size_t region_index,
                                const cdp_profile_record *profile, const cdp_person *person,
                                const char *type, const char *value, char split_id[33],
                                cdp_err *err);

/* 1 when a DPO split these two profiles: they are not merged again automatically. */
int cdp_identity_merge_blocked(cdp_vault *vault, const uint8_t a[CDP_PROFILE_ID_BYTES],
                               const uint8_t b[CDP_PROFILE_ID_BYTES]);

#endif
