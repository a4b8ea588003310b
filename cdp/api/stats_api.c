/* cdp_stats: store statistics through the public API; argument checks and the handle's lock
 * here, the counting (and its audit) in cdp/access. */
#include "access/access.h"
#include "api/handle.h"

cdp_status cdp_stats(cdp_t *db, const cdp_actor *actor, char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "stats: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    /* Shared: ingest goes on while the scan runs; a key-epoch change waits for it. */
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_stats(cdp_handle_identity_env(db), actor, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
