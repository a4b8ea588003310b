/* The consent API: POST /v1/consent (cdp_consent_set) and GET /v1/profiles/REF/consent
 * (cdp_profile_consent). The handle's lock here; the work in cdp/access/consent.c. */
#include "access/access.h"
#include "api/handle.h"

cdp_status cdp_consent_set(cdp_t *db, const cdp_actor *actor, const char *body, size_t len,
                           int gpc, char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || body == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "consent_set: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_consent_set(cdp_handle_identity_env(db), actor, body, len, gpc, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_profile_consent(cdp_t *db, const cdp_actor *actor, const char *purpose,
                               const char *ref, char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "profile_consent: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_profile_consent(cdp_handle_identity_env(db), actor, purpose, ref, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
