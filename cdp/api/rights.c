/* Data-subject rights through the public API: restriction (Art. 18). */
#include "access/access.h"
#include "api/handle.h"

cdp_status cdp_restrict(cdp_t *db, const cdp_actor *actor, const char *ref, int restricted,
                        char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "restrict: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_restrict(cdp_handle_identity_env(db), actor, ref, restricted, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_retention_sweep(cdp_t *db, int64_t now_ms, size_t *deleted) {
    cdp_err err = {0};
    size_t count = 0;
    if (db == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "retention_sweep: NULL handle");
        return cdp_handle_fail(db, &err);
    }
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_retention_sweep(cdp_handle_identity_env(db), now_ms, &count,
                                                   &err);
    cdp_handle_unlock(db);
    if (deleted != NULL)
        *deleted = count;
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
