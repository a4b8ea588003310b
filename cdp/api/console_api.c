/* The web console's library calls (see the console section of cdp.h): argument checks, the
 * handle held shared, then cdp/access/console.c, which decides and audits. */
#include <string.h>
#include <time.h>

#include "access/console.h"
#include "api/handle.h"
#include "identity/normalize.h"
#include "util/bytes.h"

static int64_t console_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CONSOLE_ARGS(condition, name)                                                             \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            cdp_err_set(&err, CDP_MISUSE, name ": NULL argument");                                \
            return cdp_handle_fail(db, &err);                                                     \
        }                                                                                         \
    } while (0)

cdp_status cdp_dsr_queue(cdp_t *db, const cdp_actor *actor, const char *region, const char *type,
                         const char *status_filter, char **json) {
    cdp_err err = {0};
    CONSOLE_ARGS(db != NULL && actor != NULL && json != NULL, "dsr_queue");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_queue(cdp_handle_identity_env(db), actor, region, type,
                                             status_filter, console_now_ms(), json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_timeliness(cdp_t *db, const cdp_actor *actor, char **json) {
    cdp_err err = {0};
    CONSOLE_ARGS(db != NULL && actor != NULL && json != NULL, "dsr_timeliness");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_timeliness(cdp_handle_identity_env(db), actor,
                                                  console_now_ms(), json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_subject_view(cdp_t *db, const cdp_actor *actor, const char *ref, char **json) {
    cdp_err err = {0};
    CONSOLE_ARGS(db != NULL && actor != NULL && json != NULL, "subject_view");
    *json = NULL;
    if (ref == NULL || *ref == '\0') {
        cdp_err_set(&err, CDP_INVALID_IDENTIFIER, "ref: required (TYPE:VALUE or profile:<id>)");
        return cdp_handle_fail(db, &err);
    }
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_subject_view(cdp_handle_identity_env(db), actor, ref,
                                                console_now_ms(), json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_suppression_list(cdp_t *db, const cdp_actor *actor, char **json) {
    cdp_err err = {0};
    CONSOLE_ARGS(db != NULL && actor != NULL && json != NULL, "suppression_list");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_suppression_list(cdp_handle_identity_env(db), actor, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_suppression_lift_reason(cdp_t *db, const cdp_actor *actor, const char *ref,
                                       const char *reason) {
    cdp_err err = {0};
    CONSOLE_ARGS(db != NULL && actor != NULL, "suppression_lift_reason");
    const char *colon = ref != NULL ? strchr(ref, ':') : NULL;
    char type[33];
    if (colon == NULL || colon == ref || colon[1] == '\0' ||
        (size_t)(colon - ref) >= sizeof type) {
        cdp_err_set(&err, CDP_INVALID_IDENTIFIER,
                    "ref: expected TYPE:VALUE (email:..., phone:..., user_id:...)");
        return cdp_handle_fail(db, &err);
    }
    memcpy(type, ref, (size_t)(colon - ref));
    type[colon - ref] = '\0';
    if (strcmp(type, "profile") == 0) {
        cdp_err_set(&err, CDP_INVALID_IDENTIFIER,
                    "ref: a suppression is of an identifier, not of a profile id");
        return cdp_handle_fail(db, &err);
    }
    cdp_buf value = {0};
    const cdp_region_policy *home = cdp_policy_region(cdp_handle_policy(db), actor->region);
    cdp_status status = cdp_normalize_identifier(type, colon + 1, strlen(colon + 1),
                                                 home ? home->default_country : NULL, &value,
                                                 &err);
    if (status != CDP_OK)
        cdp_err_prefix(&err, "ref");
    if (status == CDP_OK) {
        cdp_handle_lock_shared(db);
        status = cdp_access_lift_suppression_reason(cdp_handle_identity_env(db), actor, type,
                                                    (const char *)value.data, reason,
                                                    console_now_ms(), &err);
        cdp_handle_unlock(db);
    }
    cdp_buf_free_secret(&value);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
