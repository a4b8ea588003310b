/* Rectification (GDPR Art. 16). The profile is re-read under the region's write lock (so a
 * concurrent ingest is not lost), the corrected traits replace the old entries whatever the
 * trait's merge strategy (a DPO's correction wins), and every stored event that carried one of
 * the traits is re-sealed with the corrected value, so the old value is gone from the live store
 * (its bytes leave the disk at the next compaction, as any overwrite's do). */
#include <string.h>

#include "identity/profile_ops.h"
#include "privacy/rectify.h"
#include "util/alloc.h"

#define RECTIFY_TRAITS_MAX 64
#define RECTIFY_NAME_MAX 128
#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)

cdp_status cdp_rectify_check(json_t *traits, cdp_err *err) {
    if (!json_is_object(traits) || json_object_size(traits) == 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "traits: a non-empty JSON object");
    if (json_object_size(traits) > RECTIFY_TRAITS_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "traits: more than %d traits",
                           RECTIFY_TRAITS_MAX);
    const char *name;
    json_t *value;
    json_object_foreach(traits, name, value) {
        size_t len = strlen(name);
        int printable = len > 0 && len <= RECTIFY_NAME_MAX;
        for (size_t i = 0; printable && i < len; i++)
            printable = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f;
        if (!printable)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "traits: a trait name is 1 to %d printable bytes",
                               RECTIFY_NAME_MAX);
        if (json_is_null(value))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "traits.%.128s: null is not a correction (give the right value; "
                               "erasure removes data)",
                               name);
    }
    return CDP_OK;
}

static char *dump(json_t *value) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy = text ? cdp_strdup(text) : NULL;
    free(text);
    return copy;
}

/* Replaces (or adds) the trait entries: value, source "dpo", no channel, time now. */
static cdp_status set_traits(const cdp_identity_env *env, cdp_profile_record *profile,
                             json_t *traits, int64_t now_ms, cdp_err *err) {
    const char *name;
    json_t *value;
    json_object_foreach(traits, name, value) {
        size_t t = 0;
        while (t < profile->trait_count && strcmp(profile->traits[t].name, name) != 0)
            t++;
        if (t == profile->trait_count) {
            if (cdp_profile_apply_trait(profile, env->rules, name, value, "dpo", NULL, now_ms) !=
                CDP_OK)
                return cdp_err_set(err, CDP_NOMEM, "traits.%.128s: could not be set", name);
            continue;
        }
        cdp_trait_entry *entry = &profile->traits[t];
        char *text = dump(value);
        char *source = cdp_strdup("dpo");
        if (text == NULL || source == NULL) {
            cdp_free(text);
            cdp_free(source);
            return cdp_err_set(err, CDP_NOMEM, "out of memory");
        }
        cdp_free(entry->value_json);
        cdp_free(entry->source);
        cdp_free(entry->channel);
        entry->value_json = text;
        entry->source = source;
        entry->channel = NULL;
        entry->updated_at = now_ms;
    }
    profile->updated_at = now_ms;
    return CDP_OK;
}

/* The event's traits with the corrected values; 1 in *changed when any was replaced. */
static cdp_status rectify_event(cdp_event_record *event, json_t *traits, int *changed,
                                cdp_err *err) {
    *changed = 0;
    if (event->traits_json == NULL)
        return CDP_OK;
    json_t *stored = json_loads(event->traits_json, 0, NULL);
    if (!json_is_object(stored)) {
        json_decref(stored);
        return CDP_OK;
    }
    const char *name;
    json_t *value;
    json_object_foreach(traits, name, value) {
        json_t *old = json_object_get(stored, name);
        if (old != NULL && !json_equal(old, value)) {
            json_object_set(stored, name, value);
            *changed = 1;
        }
    }
    cdp_status status = CDP_OK;
    if (*changed) {
        char *text = dump(stored);
        if (text == NULL) {
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        } else {
            cdp_free(event->traits_json);
            event->traits_json = text;
        }
    }
    json_decref(stored);
    return status;
}

/* Rewrites the events of one member profile into batch. */
static cdp_status rectify_member_events(cdp_vault *vault, cdp_batch *batch,
                                        const uint8_t id[CDP_PROFILE_ID_BYTES], json_t *traits,
                                        size_t *rewritten, cdp_err *err) {
    cdp_person member;
    cdp_status status = cdp_vault_load_person(vault, id, &member, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        return CDP_OK; /* a member without a key holds nothing readable */
    }
    if (status != CDP_OK)
        return status;
    cdp_iter *iter = NULL;
    cdp_buf plain = {0}, encoded = {0};
    status = cdp_region_iter(cdp_vault_region(vault), CDP_CF_EVENTS, id, CDP_PROFILE_ID_BYTES,
                             &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        if (key_len != EVENT_KEY_BYTES)
            continue;
        status = cdp_vault_open(vault, &member, CDP_CF_EVENTS, key, key_len, value, value_len,
                                &plain, err);
        cdp_event_record event = {0};
        int changed = 0;
        if (status == CDP_OK)
            status = cdp_event_record_decode(plain.data, plain.len, &event, err);
        if (status == CDP_OK)
            status = rectify_event(&event, traits, &changed, err);
        if (status == CDP_OK && changed) {
            cdp_buf_reset(&encoded);
            status = cdp_event_record_encode(&event, &encoded, err);
            if (status == CDP_OK)
                status = cdp_vault_put(vault, batch, &member, CDP_CF_EVENTS, key, key_len,
                                       encoded.data, encoded.len, err);
            if (status == CDP_OK)
                (*rewritten)++;
        }
        cdp_event_record_clear(&event);
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    cdp_buf_free_secret(&encoded);
    cdp_person_wipe(&member);
    return status;
}

cdp_status cdp_rectify_apply(const cdp_identity_env *env, size_t region_index,
                             const cdp_actor *actor,
                             const uint8_t profile_id[CDP_PROFILE_ID_BYTES], json_t *traits,
                             int64_t now_ms, size_t *events_rewritten, cdp_err *err) {
    *events_rewritten = 0;
    cdp_status status = cdp_rectify_check(traits, err);
    if (status != CDP_OK)
        return status;
    cdp_vault *vault = env->vaults[region_index];
    cdp_person owner;
    cdp_profile_record profile = {0};
    cdp_buf plain = {0}, encoded = {0};
    cdp_batch *batch = cdp_batch_new();
    memset(&owner, 0, sizeof owner);
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    pthread_mutex_lock(&env->region_locks[region_index]);
    status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_PROFILES,
                                         profile_id, CDP_PROFILE_ID_BYTES, &owner, &plain,
                                         err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain.data, plain.len, &profile, err);
    if (status == CDP_OK)
        status = set_traits(env, &profile, traits, now_ms, err);
    if (status == CDP_OK)
        status = cdp_profile_record_encode(&profile, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, &owner, CDP_CF_PROFILES, owner.profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, err);
    if (status == CDP_OK)
        status = rectify_member_events(vault, batch, owner.profile_id, traits, events_rewritten,
                                       err);
    for (size_t m = 0; status == CDP_OK && m < profile.merged_from_count; m++) {
        uint8_t id[CDP_PROFILE_ID_BYTES];
        const char *hex = profile.merged_from[m];
        if (hex == NULL || cdp_hex_decode(id, sizeof id, hex, strlen(hex)) != 0)
            continue;
        status = rectify_member_events(vault, batch, id, traits, events_rewritten, err);
    }
    if (status == CDP_OK) {
        static const char *const categories[] = {"profile", "events"};
        cdp_audit_entry entry = {
            .time_ms = now_ms,
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = "dsr.rectify",
            .lawful_basis = "legal_obligation",
            .profile_id = owner.profile_id,
            .categories = categories,
            .category_count = 2,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        /* The audit entry and the rewrite in one synced write. */
        status = cdp_audit_write(env->audit_logs[region_index], batch, &entry, 1, 1, NULL, err);
    }
    pthread_mutex_unlock(&env->region_locks[region_index]);
    cdp_batch_free(batch);
    cdp_buf_free_secret(&encoded);
    cdp_buf_free_secret(&plain);
    cdp_profile_record_clear(&profile);
    cdp_person_wipe(&owner);
    return status;
}
