/* Retention (policies/retention.json): events older than their category's retention are deleted
 * by a sweep. Reads stop serving them the moment they expire (cdp/access checks the time on
 * every read), so the sweep only reclaims space and can run rarely. An event's time is in its
 * key, so keys younger than the shortest event retention are passed over without decrypting;
 * older ones are opened to learn their type (hence category), which is inside the ciphertext. */
#include <string.h>

#include "privacy/retention.h"
#include "store/records.h"
#include "util/bytes.h"

#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)
#define SWEEP_BATCH 1000

static const char *const event_types[] = {"identify", "track", "page", "screen", "group", "alias"};

/* The shortest retention of any event category; 0 when none is limited. */
static int64_t shortest_event_retention(const cdp_policy *policy) {
    int64_t shortest = 0;
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++) {
        int64_t keep =
            cdp_policy_retention_ms(policy, cdp_policy_event_category(policy, event_types[i]));
        if (keep > 0 && (shortest == 0 || keep < shortest))
            shortest = keep;
    }
    return shortest;
}

static cdp_status flush_batch(cdp_region *region, cdp_batch *batch, cdp_err *err) {
    if (cdp_batch_count(batch) == 0)
        return CDP_OK;
    cdp_status status = cdp_region_write(region, batch, 1, err);
    cdp_batch_clear(batch);
    return status;
}

cdp_status cdp_retention_sweep_region(const cdp_identity_env *env, size_t region_index,
                                      int64_t now_ms, size_t *deleted, cdp_err *err) {
    *deleted = 0;
    int64_t shortest = shortest_event_retention(env->policy);
    if (shortest == 0)
        return CDP_OK;
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    cdp_iter *iter = NULL;
    cdp_batch *batch = cdp_batch_new();
    cdp_buf plain = {0};
    cdp_person person;
    memset(&person, 0, sizeof person);
    int have_person = 0;
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status = cdp_region_iter(region, CDP_CF_EVENTS, NULL, 0, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        if (key_len != EVENT_KEY_BYTES)
            continue;
        int64_t time = (int64_t)cdp_load_be64(key + CDP_PROFILE_ID_BYTES);
        if (time >= now_ms - shortest)
            continue; /* younger than any event retention */
        if (!have_person || memcmp(person.profile_id, key, CDP_PROFILE_ID_BYTES) != 0) {
            cdp_person_wipe(&person);
            have_person = 0;
            cdp_err lookup_err = {0};
            if (cdp_vault_load_person(vault, key, &person, &lookup_err) != CDP_OK)
                continue; /* erased person: their leftovers go with the erasure's purge */
            have_person = 1;
        }
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        cdp_event_record event = {0};
        status = cdp_vault_open(vault, &person, CDP_CF_EVENTS, key, key_len, value, value_len,
                                &plain, err);
        if (status == CDP_OK)
            status = cdp_event_record_decode(plain.data, plain.len, &event, err);
        if (status == CDP_OK) {
            int64_t keep = cdp_policy_retention_ms(
                env->policy, cdp_policy_event_category(env->policy, event.type));
            if (keep > 0 && time < now_ms - keep) {
                cdp_batch_delete(batch, region, CDP_CF_EVENTS, key, key_len);
                (*deleted)++;
            }
        }
        cdp_event_record_clear(&event);
        if (status == CDP_OK && cdp_batch_count(batch) >= SWEEP_BATCH)
            status = flush_batch(region, batch, err);
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    if (status == CDP_OK)
        status = flush_batch(region, batch, err);
    cdp_iter_free(iter);
    cdp_batch_free(batch);
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&person);
    return status;
}
