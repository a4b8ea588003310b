/* See admin.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "audit/admin.h"
#include "util/alloc.h"

#define KEY_PREFIX "apikey/"

static pthread_mutex_t reconcile_lock = PTHREAD_MUTEX_INITIALIZER;

/* What was recorded for the key: 0 nothing, 1 created, 2 revoked. */
static cdp_status recorded_state(cdp_region *region, const char *meta_key, int *state,
                                 cdp_err *err) {
    uint8_t *value = NULL;
    size_t len = 0;
    *state = 0;
    cdp_status status = cdp_region_get(region, CDP_CF_META, (const uint8_t *)meta_key,
                                       strlen(meta_key), &value, &len, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        return CDP_OK;
    }
    if (status == CDP_OK)
        *state = len == 7 && memcmp(value, "revoked", 7) == 0 ? 2 : 1;
    cdp_region_free_value(value);
    return status;
}

cdp_status cdp_audit_record_key_changes(cdp_audit_log *log, const cdp_audit_key_state *keys,
                                        size_t count, size_t *recorded, cdp_err *err) {
    if (recorded != NULL)
        *recorded = 0;
    if (count == 0)
        return CDP_OK;
    cdp_region *region = cdp_audit_log_store(log);
    cdp_audit_entry *entries = cdp_calloc(2 * count, sizeof *entries);
    char(*request_ids)[32] = cdp_calloc(count, sizeof *request_ids);
    char(*reasons)[48] = cdp_calloc(count, sizeof *reasons);
    cdp_batch *batch = cdp_batch_new();
    size_t used = 0;
    cdp_status status = CDP_OK;
    if (entries == NULL || request_ids == NULL || reasons == NULL || batch == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_lock(&reconcile_lock);
    for (size_t i = 0; status == CDP_OK && i < count; i++) {
        char meta_key[64];
        snprintf(meta_key, sizeof meta_key, KEY_PREFIX "%s", keys[i].key_id);
        int state = 0;
        status = recorded_state(region, meta_key, &state, err);
        int want = keys[i].revoked ? 2 : 1;
        if (status != CDP_OK || state >= want)
            continue;
        snprintf(request_ids[i], sizeof request_ids[i], "apikey:%s", keys[i].key_id);
        snprintf(reasons[i], sizeof reasons[i], "key_role:%s", keys[i].role);
        for (int step = state + 1; step <= want; step++)
            entries[used++] = (cdp_audit_entry){
                .actor_key_id = "local",
                .actor_role = "admin",
                .operation = step == 1 ? "apikey.create" : "apikey.revoke",
                .decision = CDP_AUDIT_ALLOW,
                .reason = reasons[i],
                .request_id = request_ids[i],
            };
        const char *value = want == 2 ? "revoked" : "created";
        cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)meta_key, strlen(meta_key),
                      (const uint8_t *)value, strlen(value));
    }
    if (status == CDP_OK && used > 0)
        status = cdp_audit_write(log, batch, entries, used, 1, NULL, err);
    pthread_mutex_unlock(&reconcile_lock);
    if (status == CDP_OK && recorded != NULL)
        *recorded = used;
done:
    cdp_batch_free(batch);
    cdp_free(entries);
    cdp_free(request_ids);
    cdp_free(reasons);
    return status;
}

cdp_status cdp_audit_record_admin(cdp_audit_log *log, const char *operation, const char *reason,
                                  cdp_err *err) {
    cdp_audit_entry entry = {
        .actor_key_id = "local",
        .actor_role = "admin",
        .operation = operation,
        .decision = CDP_AUDIT_ALLOW,
        .reason = reason,
    };
    return cdp_audit_write(log, NULL, &entry, 1, 1, NULL, err);
}
