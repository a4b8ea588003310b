/* Profile reads (profile, events timeline, identities) and unmerge through the public API.
 * A reference is TYPE:VALUE (normalized as at ingest, so "Alice@Example.com" finds
 * alice@example.com) or profile:<id>. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/handle.h"
#include "api/profile_access.h"
#include "identity/normalize.h"
#include "identity/profile_ops.h"
#include "identity/unmerge.h"
#include "store/records.h"
#include "util/alloc.h"

#define EVENTS_DEFAULT 50
#define EVENTS_MAX 1000
#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)

/* A resolved person: region, profile id, data key and decoded profile. */
typedef struct person_view {
    size_t region_index;
    cdp_vault *vault;
    cdp_person person;
    cdp_profile_record profile;
} person_view;

static void person_view_clear(person_view *view) {
    cdp_person_wipe(&view->person);
    cdp_profile_record_clear(&view->profile);
}

static int reader_role(cdp_role role) {
    return role == CDP_ROLE_PERSONALIZATION || role == CDP_ROLE_DPO;
}

static cdp_status check_read(const cdp_actor *actor, const char *purpose, cdp_err *err) {
    if (!reader_role(actor->role))
        return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not read profiles",
                           cdp_role_name(actor->role));
    if (purpose == NULL || *purpose == '\0')
        return cdp_err_set(err, CDP_PURPOSE_REQUIRED,
                           "purpose: required (X-CDP-Purpose) to read personal data");
    /* A key narrowed to some purposes cannot ask for others. */
    if (actor->purposes[0] != '\0') {
        size_t len = strlen(purpose);
        const char *cursor = actor->purposes;
        int allowed = 0;
        while (*cursor && !allowed) {
            const char *end = strchr(cursor, ',');
            size_t item = end ? (size_t)(end - cursor) : strlen(cursor);
            allowed = item == len && strncmp(cursor, purpose, len) == 0;
            cursor += item + (end != NULL);
        }
        if (!allowed)
            return cdp_err_set(err, CDP_FORBIDDEN, "purpose: this key may not state \"%s\"",
                               purpose);
    }
    return CDP_OK;
}

/* Finds the person a reference names and loads their profile. */
static cdp_status resolve_ref(cdp_t *db, const cdp_actor *actor, const char *ref,
                              person_view *view, cdp_err *err) {
    const cdp_identity_env *env = cdp_handle_identity_env(db);
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    memset(view, 0, sizeof *view);
    const char *colon = ref != NULL ? strchr(ref, ':') : NULL;
    if (colon == NULL || colon == ref || colon[1] == '\0')
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                           "ref: expected TYPE:VALUE (email:..., phone:..., user_id:...) or "
                           "profile:<id>");
    size_t type_len = (size_t)(colon - ref);
    char type[33];
    if (type_len >= sizeof type)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "ref: identifier type too long");
    memcpy(type, ref, type_len);
    type[type_len] = '\0';
    const char *value = colon + 1;
    cdp_status status;
    if (strcmp(type, "profile") == 0) {
        if (cdp_hex_decode(profile_id, sizeof profile_id, value, strlen(value)) != 0)
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                               "ref: a profile id is 32 hexadecimal characters");
        status = CDP_NOT_FOUND;
        for (size_t r = 0; r < env->region_count && status == CDP_NOT_FOUND; r++) {
            cdp_buf plain = {0};
            status = cdp_vault_get_person_record(env->vaults[r], profile_id, CDP_CF_PROFILES,
                                                 profile_id, sizeof profile_id, &view->person,
                                                 &plain, err);
            if (status == CDP_OK) {
                view->region_index = r;
                status = cdp_profile_record_decode(plain.data, plain.len, &view->profile, err);
            }
            cdp_buf_free_secret(&plain);
        }
        if (status == CDP_NOT_FOUND)
            return cdp_err_set(err, CDP_NOT_FOUND, "no profile with this id");
        view->vault = env->vaults[view->region_index];
        return status;
    }
    cdp_buf normalized = {0};
    const cdp_region_policy *home = cdp_policy_region(env->policy, actor->region);
    status = cdp_normalize_identifier(type, value, strlen(value),
                                      home ? home->default_country : NULL, &normalized, err);
    if (status == CDP_OK)
        status = cdp_identity_lookup(env, type, (const char *)normalized.data,
                                     &view->region_index, profile_id, err);
    cdp_buf_free(&normalized);
    if (status == CDP_NOT_FOUND)
        return cdp_err_set(err, CDP_NOT_FOUND, "no profile holds this %s", type);
    if (status != CDP_OK)
        return status;
    view->vault = env->vaults[view->region_index];
    cdp_buf plain = {0};
    status = cdp_vault_get_person_record(view->vault, profile_id, CDP_CF_PROFILES, profile_id,
                                         sizeof profile_id, &view->person, &plain, err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain.data, plain.len, &view->profile, err);
    cdp_buf_free_secret(&plain);
    return status;
}

/* Appends the read to the person's region log before any data leaves. The record reaches the
 * WAL now and disk at the next sync (every ingest request and checkpoint syncs). */
static cdp_status audit_access(cdp_t *db, const cdp_actor *actor, const person_view *view,
                               const char *operation, const char *purpose, cdp_err *err) {
    const cdp_identity_env *env = cdp_handle_identity_env(db);
    if (env->audit_disabled)
        return CDP_OK; /* benchmark only: see cdp_handle_bench_disable_audit */
    static const char *const categories[] = {"profile"};
    cdp_audit_entry entry = {
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = operation,
        .purpose = purpose != NULL && cdp_audit_token_ok(purpose) ? purpose : NULL,
        .profile_id = view->person.profile_id,
        .categories = categories,
        .category_count = 1,
        .decision = CDP_AUDIT_ALLOW,
        .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
    };
    return cdp_audit_write(env->audit_logs[view->region_index], NULL, &entry, 1, 0, NULL, err);
}

static cdp_status finish_json(json_t *object, char **json, cdp_err *err) {
    char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
    json_decref(object);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    *json = cdp_strdup(text);
    free(text);
    return *json ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

static json_t *profile_json(const cdp_profile_record *profile) {
    json_t *traits = json_object(), *sources = json_object(), *channels = json_object();
    for (size_t i = 0; i < profile->trait_count; i++) {
        const cdp_trait_entry *trait = &profile->traits[i];
        json_t *value = json_loads(trait->value_json, JSON_DECODE_ANY, NULL);
        json_object_set_new(traits, trait->name, value ? value : json_null());
        json_object_set_new(sources, trait->name,
                            json_pack("{s:s?, s:s?, s:I}", "source", trait->source, "channel",
                                      trait->channel, "updated_at",
                                      (json_int_t)trait->updated_at));
    }
    int64_t first_seen = 0, last_seen = 0, most_events = -1;
    const char *most_used = NULL;
    for (size_t i = 0; i < profile->channel_count; i++) {
        const cdp_channel_entry *channel = &profile->channels[i];
        json_object_set_new(channels, channel->channel,
                            json_pack("{s:I, s:I, s:I}", "first_seen",
                                      (json_int_t)channel->first_seen, "last_seen",
                                      (json_int_t)channel->last_seen, "events",
                                      (json_int_t)channel->event_count));
        if (first_seen == 0 || channel->first_seen < first_seen)
            first_seen = channel->first_seen;
        if (channel->last_seen > last_seen)
            last_seen = channel->last_seen;
        if (channel->event_count > most_events ||
            (channel->event_count == most_events && strcmp(channel->channel, most_used) < 0)) {
            most_events = channel->event_count;
            most_used = channel->channel;
        }
    }
    json_t *stored = profile->computed_json ? json_loads(profile->computed_json, 0, NULL) : NULL;
    json_t *computed = json_object();
    const char *key;
    json_t *value;
    if (json_is_object(stored)) {
        json_object_foreach(stored, key, value) {
            /* Newest-wins entries are kept as {"value", "at"}: show the value. */
            json_t *inner = json_is_object(value) ? json_object_get(value, "value") : NULL;
            json_object_set(computed, key,
                            inner != NULL && json_object_get(value, "at") ? inner : value);
        }
    }
    json_decref(stored);
    if (first_seen)
        json_object_set_new(computed, "first_seen", json_integer(first_seen));
    if (last_seen)
        json_object_set_new(computed, "last_seen", json_integer(last_seen));
    if (most_used != NULL)
        json_object_set_new(computed, "most_used_channel", json_string(most_used));
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:i, s:I}", "profile_id",
                     profile->profile_id, "region", profile->region, "traits", traits,
                     "trait_sources", sources, "computed", computed, "channels", channels,
                     "withheld", 0, "merged_profiles", (json_int_t)profile->merged_from_count);
}

cdp_status cdp_profile_get(cdp_t *db, const cdp_actor *actor, const char *purpose,
                           const char *ref, char **json) {
    cdp_err err = {0};
    person_view view;
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "profile_get: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_status status = check_read(actor, purpose, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    cdp_handle_lock_shared(db);
    status = resolve_ref(db, actor, ref, &view, &err);
    if (status == CDP_OK)
        status = audit_access(db, actor, &view, "profile.read", purpose, &err);
    if (status == CDP_OK)
        status = finish_json(profile_json(&view.profile), json, &err);
    person_view_clear(&view);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_profile_identities(cdp_t *db, const cdp_actor *actor, const char *purpose,
                                  const char *ref, char **json) {
    cdp_err err = {0};
    person_view view;
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "profile_identities: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_status status = check_read(actor, purpose, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    cdp_handle_lock_shared(db);
    status = resolve_ref(db, actor, ref, &view, &err);
    if (status == CDP_OK)
        status = audit_access(db, actor, &view, "profile.identities", purpose, &err);
    if (status == CDP_OK) {
        json_t *list = json_array();
        for (size_t i = 0; i < view.profile.identity_count; i++) {
            const cdp_identity_entry *entry = &view.profile.identities[i];
            json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s?}", "type", entry->type,
                                                  "value", entry->value, "added_at",
                                                  (json_int_t)entry->added_at, "source",
                                                  entry->source));
        }
        status = finish_json(json_pack("{s:s, s:o}", "profile_id", view.profile.profile_id,
                                       "identities", list),
                             json, &err);
    }
    person_view_clear(&view);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

/* ---- timeline ----------------------------------------------------------------------------- */

typedef struct timeline_item {
    uint8_t key[EVENT_KEY_BYTES];
    json_t *event;
} timeline_item;

static int item_newer(const timeline_item *a, const timeline_item *b) {
    return memcmp(a->key + CDP_PROFILE_ID_BYTES, b->key + CDP_PROFILE_ID_BYTES,
                  EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES) > 0;
}

static json_t *event_json(const cdp_event_record *event) {
    json_t *properties = json_loads(event->properties_json, 0, NULL);
    json_t *context = json_loads(event->context_json, 0, NULL);
    json_t *traits = event->traits_json ? json_loads(event->traits_json, 0, NULL) : NULL;
    json_t *out = json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:s?, s:s?, s:o, s:o}", "event_id",
                            event->event_id, "message_id", event->message_id, "type", event->type,
                            "name", event->name, "timestamp", (json_int_t)event->timestamp,
                            "received_at", (json_int_t)event->received_at, "source",
                            event->source, "channel", event->channel, "properties",
                            properties ? properties : json_object(), "context",
                            context ? context : json_object());
    if (traits != NULL)
        json_object_set_new(out, "traits", traits);
    return out;
}

/* Up to `limit` newest events of one member profile older than the cursor suffix. */
static cdp_status collect_member(cdp_vault *vault, const uint8_t member[CDP_PROFILE_ID_BYTES],
                                 const uint8_t *cursor, size_t limit, timeline_item *items,
                                 size_t *count, cdp_err *err) {
    cdp_person person;
    cdp_status status = cdp_vault_load_person(vault, member, &person, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        return CDP_OK;
    }
    if (status != CDP_OK)
        return status;
    cdp_iter *iter = NULL;
    cdp_buf plain = {0};
    status = cdp_region_iter(cdp_vault_region(vault), CDP_CF_EVENTS, member,
                             CDP_PROFILE_ID_BYTES, &iter, err);
    if (status == CDP_OK)
        cdp_iter_seek_last(iter);
    size_t taken = 0;
    for (; status == CDP_OK && cdp_iter_valid(iter) && taken < limit; cdp_iter_prev(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        if (key_len != EVENT_KEY_BYTES)
            continue;
        if (cursor != NULL && memcmp(key + CDP_PROFILE_ID_BYTES, cursor,
                                     EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES) >= 0)
            continue;
        status = cdp_vault_open(vault, &person, CDP_CF_EVENTS, key, key_len, value, value_len,
                                &plain, err);
        cdp_event_record event = {0};
        if (status == CDP_OK)
            status = cdp_event_record_decode(plain.data, plain.len, &event, err);
        if (status == CDP_OK) {
            timeline_item *item = &items[(*count)++];
            memcpy(item->key, key, EVENT_KEY_BYTES);
            item->event = event_json(&event);
            taken++;
        }
        cdp_event_record_clear(&event);
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&person);
    return status;
}

cdp_status cdp_profile_events(cdp_t *db, const cdp_actor *actor, const char *purpose,
                              const char *ref, size_t limit, const char *cursor, char **json) {
    cdp_err err = {0};
    person_view view;
    uint8_t cursor_bytes[EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES];
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "profile_events: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    cdp_status status = check_read(actor, purpose, &err);
    if (status == CDP_OK && limit > EVENTS_MAX)
        status = cdp_err_set(&err, CDP_BAD_REQUEST, "limit: at most %d", EVENTS_MAX);
    if (status == CDP_OK && cursor != NULL && *cursor &&
        cdp_hex_decode(cursor_bytes, sizeof cursor_bytes, cursor, strlen(cursor)) != 0)
        status = cdp_err_set(&err, CDP_BAD_REQUEST, "cursor: not a cursor this API returned");
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    if (limit == 0)
        limit = EVENTS_DEFAULT;
    cdp_handle_lock_shared(db);
    status = resolve_ref(db, actor, ref, &view, &err);
    if (status == CDP_OK)
        status = audit_access(db, actor, &view, "profile.events", purpose, &err);
    timeline_item *items = NULL;
    size_t count = 0, members = 1 + view.profile.merged_from_count;
    if (status == CDP_OK) {
        items = cdp_calloc(members * limit, sizeof *items);
        if (items == NULL)
            status = cdp_err_set(&err, CDP_NOMEM, "out of memory");
    }
    for (size_t m = 0; status == CDP_OK && m < members; m++) {
        uint8_t member[CDP_PROFILE_ID_BYTES];
        const char *hex = m == 0 ? view.profile.profile_id : view.profile.merged_from[m - 1];
        if (cdp_hex_decode(member, sizeof member, hex, strlen(hex)) != 0)
            continue;
        status = collect_member(view.vault, member,
                                cursor != NULL && *cursor ? cursor_bytes : NULL, limit, items,
                                &count, &err);
    }
    if (status == CDP_OK) {
        /* Newest first across members; keep `limit`. */
        for (size_t i = 1; i < count; i++)
            for (size_t j = i; j > 0 && item_newer(&items[j], &items[j - 1]); j--) {
                timeline_item swap = items[j];
                items[j] = items[j - 1];
                items[j - 1] = swap;
            }
        json_t *list = json_array();
        char next[2 * sizeof cursor_bytes + 1];
        size_t shown = count < limit ? count : limit;
        for (size_t i = 0; i < shown; i++)
            json_array_append(list, items[i].event);
        json_t *next_value = json_null();
        if (count > limit || (shown == limit && shown > 0)) {
            cdp_hex_encode(next, items[shown - 1].key + CDP_PROFILE_ID_BYTES,
                           sizeof cursor_bytes);
            json_decref(next_value);
            next_value = json_string(next);
        }
        status = finish_json(json_pack("{s:s, s:o, s:o}", "profile_id", view.profile.profile_id,
                                       "events", list, "next", next_value),
                             json, &err);
    }
    for (size_t i = 0; i < count; i++)
        json_decref(items[i].event);
    cdp_free(items);
    person_view_clear(&view);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

/* ---- unmerge ------------------------------------------------------------------------------ */

cdp_status cdp_unmerge(cdp_t *db, const cdp_actor *actor, const char *ref, const char *type,
                       const char *value, char **json) {
    cdp_err err = {0};
    person_view view;
    memset(&view, 0, sizeof view);
    if (db == NULL || actor == NULL || json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "unmerge: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    *json = NULL;
    if (actor->role != CDP_ROLE_DPO && actor->role != CDP_ROLE_ADMIN) {
        cdp_err_set(&err, CDP_FORBIDDEN, "role %s may not unmerge profiles",
                    cdp_role_name(actor->role));
        return cdp_handle_fail(db, &err);
    }
    if (type == NULL || *type == '\0' || value == NULL || *value == '\0') {
        cdp_err_set(&err, CDP_BAD_REQUEST, "identity: type and value are required");
        return cdp_handle_fail(db, &err);
    }
    const cdp_identity_env *env = cdp_handle_identity_env(db);
    cdp_buf normalized = {0};
    cdp_handle_lock_shared(db);
    cdp_status status = resolve_ref(db, actor, ref, &view, &err);
    if (status == CDP_OK) {
        const cdp_region_policy *home = cdp_policy_region(env->policy, view.profile.region);
        status = cdp_normalize_identifier(type, value, strlen(value),
                                          home ? home->default_country : NULL, &normalized,
                                          &err);
        if (status != CDP_OK)
            cdp_err_prefix(&err, "identity");
    }
    char split_id[33] = "";
    if (status == CDP_OK)
        status = audit_access(db, actor, &view, "profile.unmerge", NULL, &err);
    if (status == CDP_OK)
        status = cdp_identity_unmerge(env, view.region_index, &view.profile, &view.person, type,
                                      (const char *)normalized.data, split_id, &err);
    if (status == CDP_OK)
        status = finish_json(json_pack("{s:s, s:s}", "profile_id", view.profile.profile_id,
                                       "split_profile_id", split_id),
                             json, &err);
    cdp_buf_free(&normalized);
    person_view_clear(&view);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

/* ---- shared with the other profile routes (api/profile_access.h) ---------------------------- */

cdp_status cdp_api_check_read(const cdp_actor *actor, const char *purpose, cdp_err *err) {
    return check_read(actor, purpose, err);
}

cdp_status cdp_api_resolve_ref(cdp_t *db, const cdp_actor *actor, const char *ref,
                               size_t *region_index, cdp_person *person,
                               cdp_profile_record *profile, cdp_err *err) {
    person_view view;
    cdp_status status = resolve_ref(db, actor, ref, &view, err);
    if (status != CDP_OK) {
        person_view_clear(&view);
        return status;
    }
    *region_index = view.region_index;
    *person = view.person;
    *profile = view.profile;
    cdp_person_wipe(&view.person);
    return CDP_OK;
}
