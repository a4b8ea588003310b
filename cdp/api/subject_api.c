/* cdp_subject_export through the public API: the handle's lock here; the checks, the audit and
 * the export in cdp/access (subject.c). */
#include "access/access.h"
#include "api/handle.h"

cdp_status cdp_subject_export(cdp_t *db, const cdp_actor *actor, const char *ref,
                              const char *format, FILE *out) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || out == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "subject_export: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_subject_export(cdp_handle_identity_env(db), actor, ref, format, out, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
