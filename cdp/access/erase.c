/* Erasure (GDPR Art. 17, CCPA delete) through the one door: the role is checked here, the
 * erasure itself (atomic delete, suppression, signed receipt, batched purge) is cdp/privacy's. */
#include "access/access_internal.h"
#include "privacy/erase.h"

cdp_status cdp_access_erase(const cdp_identity_env *env, const cdp_actor *actor, const char *type,
                            const char *value, const char *request_id, int64_t now_ms,
                            char **receipt_json, cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO && actor->role != CDP_ROLE_ADMIN)
        return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not erase people (dpo or admin)",
                           cdp_role_name(actor->role));
    return cdp_privacy_erase(env, actor, type, value, request_id, now_ms, receipt_json, err);
}

cdp_status cdp_access_erase_purge(const cdp_identity_env *env, size_t *purged, cdp_err *err) {
    return cdp_privacy_purge(env, purged, err);
}

cdp_status cdp_access_lift_suppression(const cdp_identity_env *env, const cdp_actor *actor,
                                       const char *type, const char *value, int64_t now_ms,
                                       cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO)
        return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not lift a suppression (dpo only)",
                           cdp_role_name(actor->role));
    return cdp_privacy_lift(env, actor, type, value, now_ms, err);
}

cdp_status cdp_access_erase_recover(const cdp_identity_env *env, cdp_err *err) {
    return cdp_privacy_recover(env, err);
}
