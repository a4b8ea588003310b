/* cdp_ingest: Segment-Spec request bodies (one message or a batch) into identity resolution.
 * Each message is one atomic write; the request is acknowledged after one WAL sync per region
 * it touched (group commit), so a batch of 100 costs one fsync, not 100. */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "access/access.h"
#include "api/handle.h"
#include "identity/segment.h"
#include "util/alloc.h"

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cdp_ingest_result_clear(cdp_ingest_result *result) {
    if (result == NULL)
        return;
    cdp_free(result->errors_json);
    cdp_free(result->dropped_json);
    memset(result, 0, sizeof *result);
}

static int role_may_ingest(cdp_role role) {
    return role == CDP_ROLE_INGEST || role == CDP_ROLE_DPO || role == CDP_ROLE_ADMIN;
}

/* One message: parse, resolve, store. */
static cdp_status ingest_one(const cdp_identity_env *env, const cdp_actor *actor, json_t *message,
                             const char *type_hint, int gpc, int64_t received,
                             unsigned char *touched, cdp_ingest_result *result, json_t *dropped,
                             size_t index, cdp_err *err) {
    cdp_segment_message parsed;
    memset(&parsed, 0, sizeof parsed);
    cdp_status status = cdp_segment_parse(message, type_hint, &parsed, err);
    if (status == CDP_OK) {
        cdp_ingest_outcome outcome;
        json_t *message_dropped = json_array();
        status = cdp_access_ingest(env, actor, &parsed, gpc, received, &outcome, message_dropped,
                                   err);
        size_t i;
        json_t *entry;
        json_array_foreach(message_dropped, i, entry) {
            if (status == CDP_OK && dropped != NULL && json_object_set_new(entry, "index",
                                                                           json_integer((json_int_t)index)) == 0)
                json_array_append(dropped, entry);
        }
        json_decref(message_dropped);
        if (status == CDP_OK) {
            touched[outcome.region_index] = 1;
            if (outcome.duplicate)
                result->duplicates++;
            else
                result->accepted++;
        }
    }
    cdp_segment_message_clear(&parsed);
    return status;
}

static cdp_status sync_touched(const cdp_identity_env *env, const unsigned char *touched,
                               cdp_err *err) {
    for (size_t r = 0; r < env->region_count; r++)
        if (touched[r]) {
            cdp_status status = cdp_access_sync_region(env, r, err);
            if (status != CDP_OK)
                return status;
        }
    return CDP_OK;
}

cdp_status cdp_ingest(cdp_t *db, const cdp_actor *actor, const char *type_hint,
                      const char *body, size_t body_len, int gpc, cdp_ingest_result *result) {
    cdp_err err = {0};
    json_t *root = NULL, *errors = NULL, *dropped = NULL;
    unsigned char touched[64] = {0};
    if (result != NULL)
        memset(result, 0, sizeof *result);
    if (db == NULL || actor == NULL || body == NULL || result == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "ingest: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (!role_may_ingest(actor->role)) {
        cdp_err_set(&err, CDP_FORBIDDEN, "role %s may not ingest events",
                    cdp_role_name(actor->role));
        return cdp_handle_fail(db, &err);
    }
    const cdp_identity_env *env = cdp_handle_identity_env(db);
    if (env->region_count > sizeof touched) {
        cdp_err_set(&err, CDP_INTERNAL, "too many regions");
        return cdp_handle_fail(db, &err);
    }
    cdp_status status = cdp_segment_decode_json(body, body_len, &root, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    int64_t received = now_ms();
    dropped = json_array(); /* NULL when out of memory: drops are then not reported */
    int is_batch = type_hint != NULL ? strcmp(type_hint, "batch") == 0
                                     : json_object_get(root, "batch") != NULL;
    cdp_handle_lock_shared(db);
    if (!is_batch) {
        status = ingest_one(env, actor, root, type_hint, gpc, received, touched, result, dropped,
                            0, &err);
        if (status != CDP_OK)
            result->rejected = 1;
    } else {
        json_t *batch = json_is_object(root) ? json_object_get(root, "batch") : NULL;
        if (!json_is_array(batch)) {
            status = cdp_err_set(&err, CDP_BAD_REQUEST, "batch: required, an array of messages");
        } else if (json_array_size(batch) > CDP_SEGMENT_BATCH_COUNT_MAX) {
            status = cdp_err_set(&err, CDP_PAYLOAD_TOO_LARGE, "batch: more than %d messages",
                                 CDP_SEGMENT_BATCH_COUNT_MAX);
        } else {
            size_t index;
            json_t *message;
            json_array_foreach(batch, index, message) {
                cdp_err message_err = {0};
                cdp_status message_status =
                    ingest_one(env, actor, message, NULL, gpc, received, touched, result, dropped,
                               index, &message_err);
                if (message_status == CDP_OK)
                    continue;
                /* A store failure is not the message's fault: stop and report it. */
                if (message_status == CDP_IO || message_status == CDP_CORRUPT ||
                    message_status == CDP_CRYPTO || message_status == CDP_INTERNAL ||
                    message_status == CDP_NOMEM) {
                    status = message_status;
                    err = message_err;
                    break;
                }
                result->rejected++;
                if (errors == NULL)
                    errors = json_array();
                json_array_append_new(errors, json_pack("{s:I, s:s, s:s}", "index",
                                                        (json_int_t)index, "code",
                                                        cdp_status_code(message_status), "message",
                                                        message_err.message));
            }
        }
    }
    /* Durable before acknowledged: one WAL sync per touched region. */
    cdp_err sync_err = {0};
    cdp_status sync_status = sync_touched(env, touched, &sync_err);
    cdp_handle_unlock(db);
    if (sync_status != CDP_OK && status == CDP_OK) {
        status = sync_status;
        err = sync_err;
    }
    if (errors != NULL) {
        char *text = json_dumps(errors, JSON_COMPACT);
        if (text != NULL) {
            result->errors_json = cdp_strdup(text);
            free(text);
        }
        json_decref(errors);
    }
    result->dropped = json_array_size(dropped);
    if (result->dropped > 0) {
        char *text = json_dumps(dropped, JSON_COMPACT);
        if (text != NULL) {
            result->dropped_json = cdp_strdup(text);
            free(text);
        }
    }
    json_decref(dropped);
    json_decref(root);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
