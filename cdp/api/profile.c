/* Profile reads (profile, events timeline, identities) and unmerge through the public API:
 * argument checks and the handle's lock here; the decision, the audit and the data in
 * cdp/access, the one door. */
#include <string.h>

#include "access/access.h"
#include "api/handle.h"

typedef cdp_status (*profile_read_fn)(const cdp_identity_env *env, const cdp_actor *actor,
                                      const char *purpose, const char *ref, char **json,
                                      cdp_err *err);

static cdp_status profile_read(cdp_t *db, const cdp_actor *actor, const char *purpose,
                               const char *ref, char **json, const char *what,
                               profile_read_fn read) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "%s: NULL argument", what);
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = read(cdp_handle_identity_env(db), actor, purpose, ref, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_profile_get(cdp_t *db, const cdp_actor *actor, const char *purpose,
                           const char *ref, char **json) {
    return profile_read(db, actor, purpose, ref, json, "profile_get", cdp_access_profile);
}

cdp_status cdp_profile_identities(cdp_t *db, const cdp_actor *actor, const char *purpose,
                                  const char *ref, char **json) {
    return profile_read(db, actor, purpose, ref, json, "profile_identities",
                        cdp_access_identities);
}

cdp_status cdp_profile_events(cdp_t *db, const cdp_actor *actor, const char *purpose,
                              const char *ref, size_t limit, const char *cursor, char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "profile_events: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_events(cdp_handle_identity_env(db), actor, purpose, ref, limit,
                                          cursor, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_unmerge(cdp_t *db, const cdp_actor *actor, const char *ref, const char *type,
                       const char *value, char **json) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "unmerge: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_unmerge(cdp_handle_identity_env(db), actor, ref, type, value, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
