/* Data-subject rights that change how a person may be processed (restriction), through the one
 * door: role checked, person resolved, the change audited with the write. */
#include <jansson.h>
#include <string.h>

#include "access/access_internal.h"
#include "privacy/restrict.h"
#include "privacy/retention.h"
#include "util/alloc.h"

cdp_status cdp_access_restrict(const cdp_identity_env *env, const cdp_actor *actor,
                               const char *ref, int restricted, char **json, cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO)
        return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not restrict processing",
                           cdp_role_name(actor->role));
    cdp_access_person person;
    cdp_status status = cdp_access_resolve(env, actor, ref, &person, err);
    int changed = 0;
    if (status == CDP_OK)
        status = cdp_privacy_set_restricted(env, person.region_index, person.person.profile_id,
                                            restricted, actor, &changed, err);
    if (status == CDP_OK) {
        json_t *answer = json_pack("{s:s, s:b, s:b}", "profile_id", person.profile.profile_id,
                                   "restricted", restricted != 0, "changed", changed);
        char *text = answer != NULL ? json_dumps(answer, JSON_COMPACT) : NULL;
        json_decref(answer);
        *json = text != NULL ? cdp_strdup(text) : NULL;
        free(text);
        if (*json == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    cdp_access_person_clear(&person);
    return status;
}

cdp_status cdp_access_retention_sweep(const cdp_identity_env *env, int64_t now_ms,
                                      size_t *deleted, cdp_err *err) {
    *deleted = 0;
    for (size_t r = 0; r < env->region_count; r++) {
        size_t region_deleted = 0;
        cdp_status status = cdp_retention_sweep_region(env, r, now_ms, &region_deleted, err);
        *deleted += region_deleted;
        if (status != CDP_OK)
            return status;
    }
    return CDP_OK;
}
