/* Data-subject requests, rectification and objection through the public API: argument checks,
 * the handle held shared, then cdp/access/dsr.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access/dsr.h"
#include "api/handle.h"
#include "util/alloc.h"

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CHECK_ARGS(condition, name)                                                               \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            cdp_err_set(&err, CDP_MISUSE, name ": NULL argument");                                \
            return cdp_handle_fail(db, &err);                                                     \
        }                                                                                         \
    } while (0)

cdp_status cdp_dsr_submit(cdp_t *db, const cdp_actor *actor, const char *body, size_t len,
                          char **json, int *created) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && body != NULL && json != NULL, "dsr_submit");
    int made = 0;
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_submit(cdp_handle_identity_env(db), actor, body, len,
                                              wall_ms(), json, &made, &err);
    cdp_handle_unlock(db);
    if (created != NULL)
        *created = made;
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_status(cdp_t *db, const cdp_actor *actor, const char *id, char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && json != NULL, "dsr_status");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_status(cdp_handle_identity_env(db), actor, id, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_list(cdp_t *db, const cdp_actor *actor, char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && json != NULL, "dsr_list");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_list(cdp_handle_identity_env(db), actor, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_cancel(cdp_t *db, const cdp_actor *actor, const char *id, char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && json != NULL, "dsr_cancel");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_dsr_cancel(cdp_handle_identity_env(db), actor, id, wall_ms(), json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_result(cdp_t *db, const cdp_actor *actor, const char *id, const char *format,
                          FILE *out) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && out != NULL, "dsr_result");
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_dsr_result(cdp_handle_identity_env(db), actor, id, format, out, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_process(cdp_t *db, int64_t now_ms, size_t max) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL, "dsr_process");
    size_t processed = 0;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_dsr_process(cdp_handle_identity_env(db), now_ms, max, &processed, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_discovery(cdp_t *db, char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && json != NULL, "dsr_discovery");
    *json = NULL;
    cdp_status status = cdp_access_dsr_discovery(cdp_handle_identity_env(db), json, &err);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_dsr_metrics_text(cdp_t *db, int64_t now_ms, char **text) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && text != NULL, "dsr_metrics_text");
    *text = NULL;
    cdp_access_dsr_counts counts;
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_dsr_stats(cdp_handle_identity_env(db), now_ms, &counts, &err);
    cdp_handle_unlock(db);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    char buffer[2048];
    size_t used = 0;
    int n = snprintf(buffer, sizeof buffer,
                     "# HELP cdp_dsr_requests_total Data-subject requests received, by type.\n"
                     "# TYPE cdp_dsr_requests_total counter\n");
    used = n > 0 ? (size_t)n : 0;
    for (size_t t = 0; t < CDP_ACCESS_DSR_TYPES; t++) {
        n = snprintf(buffer + used, sizeof buffer - used,
                     "cdp_dsr_requests_total{type=\"%s\"} %llu\n", cdp_access_dsr_type_name(t),
                     counts.total[t]);
        if (n > 0 && (size_t)n < sizeof buffer - used)
            used += (size_t)n;
    }
    n = snprintf(buffer + used, sizeof buffer - used,
                 "# HELP cdp_dsr_pending Data-subject requests not yet carried out.\n"
                 "# TYPE cdp_dsr_pending gauge\ncdp_dsr_pending %llu\n"
                 "# HELP cdp_dsr_overdue Data-subject requests pending or in progress past their "
                 "due date.\n# TYPE cdp_dsr_overdue gauge\ncdp_dsr_overdue %llu\n",
                 counts.pending + counts.in_progress, counts.overdue);
    if (n > 0 && (size_t)n < sizeof buffer - used)
        used += (size_t)n;
    *text = cdp_strndup(buffer, used);
    if (*text == NULL) {
        cdp_err_set(&err, CDP_NOMEM, "out of memory");
        return cdp_handle_fail(db, &err);
    }
    return CDP_OK;
}

cdp_status cdp_rectify(cdp_t *db, const cdp_actor *actor, const char *ref,
                       const char *traits_json, char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && json != NULL, "rectify");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_rectify(cdp_handle_identity_env(db), actor, ref, traits_json, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_object(cdp_t *db, const cdp_actor *actor, const char *ref, const char *purpose,
                      char **json) {
    cdp_err err = {0};
    CHECK_ARGS(db != NULL && actor != NULL && json != NULL, "object");
    *json = NULL;
    cdp_handle_lock_shared(db);
    cdp_status status =
        cdp_access_object(cdp_handle_identity_env(db), actor, ref, purpose, json, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
