/* The read checks and reference resolution of cdp/api/profile.c, for the other API files that
 * serve a profile's data (consent_api.c). Private to cdp/api. */
#ifndef CDP_API_PROFILE_ACCESS_H
#define CDP_API_PROFILE_ACCESS_H

#include <stddef.h>

#include "cdp/cdp.h"
#include "store/records.h"
#include "store/vault.h"
#include "util/err.h"

/* Role personalization or dpo (CDP_FORBIDDEN), a purpose (CDP_PURPOSE_REQUIRED) the key may
 * state (CDP_FORBIDDEN). */
cdp_status cdp_api_check_read(const cdp_actor *actor, const char *purpose, cdp_err *err);

/* Resolves "TYPE:VALUE" or "profile:<id>" (CDP_INVALID_IDENTIFIER, CDP_NOT_FOUND) to the
 * person's region, data key and profile. Caller owns *person (wipe with cdp_person_wipe) and
 * *profile (free with cdp_profile_record_clear); both untouched on failure. Call under the
 * handle's shared lock. */
cdp_status cdp_api_resolve_ref(cdp_t *db, const cdp_actor *actor, const char *ref,
                               size_t *region_index, cdp_person *person,
                               cdp_profile_record *profile, cdp_err *err);

#endif
