/* Splitting a profile by replaying its events. Every stored event keeps the identifiers its
 * message carried (identifiers_json) and the traits it set (traits_json), so both sides can be
 * rebuilt exactly rather than guessed from the merged state. */
#include "identity/unmerge.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consent/consent_merge.h"
#include "identity/profile_ops.h"
#include "util/alloc.h"

#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)
#define UNMERGE_EVENTS_MAX 200000 /* bounded memory; larger profiles need an offline tool */
#define NO_MERGE_TYPE "$nomerge"

typedef struct stored_event {
    uint8_t key[EVENT_KEY_BYTES];
    cdp_event_record record;
    json_t *identifiers;
    int carries_split; /* carries the identifier being split off */
} stored_event;

static void no_merge_key(cdp_vault *vault, const uint8_t a[16], const uint8_t b[16],
                         uint8_t out[CDP_BLIND_BYTES]) {
    uint8_t pair[32];
    int a_first = memcmp(a, b, 16) < 0;
    memcpy(pair, a_first ? a : b, 16);
    memcpy(pair + 16, a_first ? b : a, 16);
    cdp_vault_blind(vault, NO_MERGE_TYPE, pair, sizeof pair, out, NULL);
}

int cdp_identity_merge_blocked(cdp_vault *vault, const uint8_t a[CDP_PROFILE_ID_BYTES],
                               const uint8_t b[CDP_PROFILE_ID_BYTES]) {
    uint8_t key[CDP_BLIND_BYTES], *value = NULL;
    size_t len = 0;
    no_merge_key(vault, a, b, key);
    cdp_status status = cdp_region_get(cdp_vault_region(vault), CDP_CF_IDENTITY, key, sizeof key,
                                       &value, &len, NULL);
    cdp_region_free_value(value);
    return status == CDP_OK;
}

static int carries(json_t *identifiers, const char *type, const char *value) {
    size_t index;
    json_t *pair;
    json_array_foreach(identifiers, index, pair) {
        const char *t = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));
        if (t && v && strcmp(t, type) == 0 && strcmp(v, value) == 0)
            return 1;
    }
    return 0;
}

/* Loads every event of the profile and of the profiles merged into it. */
static cdp_status load_events(cdp_vault *vault, const cdp_profile_record *profile,
                              stored_event **out, size_t *count, cdp_err *err) {
    size_t cap = 64, n = 0;
    stored_event *events = cdp_calloc(cap, sizeof *events);
    cdp_status status = events ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_buf plain = {0};
    for (size_t m = 0; status == CDP_OK && m <= profile->merged_from_count; m++) {
        const char *hex = m == 0 ? profile->profile_id : profile->merged_from[m - 1];
        uint8_t member[CDP_PROFILE_ID_BYTES];
        if (cdp_hex_decode(member, sizeof member, hex, strlen(hex)) != 0)
            continue;
        cdp_person person;
        status = cdp_vault_load_person(vault, member, &person, err);
        if (status == CDP_NOT_FOUND) {
            status = CDP_OK;
            continue;
        }
        cdp_iter *iter = NULL;
        if (status == CDP_OK)
            status = cdp_region_iter(cdp_vault_region(vault), CDP_CF_EVENTS, member,
                                     sizeof member, &iter, err);
        for (; status == CDP_OK && iter != NULL && cdp_iter_valid(iter); cdp_iter_next(iter)) {
            size_t key_len = 0, value_len = 0;
            const uint8_t *key = cdp_iter_key(iter, &key_len);
            const uint8_t *value = cdp_iter_value(iter, &value_len);
            if (key_len != EVENT_KEY_BYTES)
                continue;
            if (n == UNMERGE_EVENTS_MAX) {
                status = cdp_err_set(err, CDP_CONFLICT, "unmerge: profile has more than %d events",
                                     UNMERGE_EVENTS_MAX);
                break;
            }
            if (n == cap) {
                stored_event *grown = cdp_realloc(events, 2 * cap * sizeof *grown);
                if (grown == NULL) {
                    status = cdp_err_set(err, CDP_NOMEM, "out of memory");
                    break;
                }
                memset(grown + cap, 0, cap * sizeof *grown);
                events = grown;
                cap *= 2;
            }
            stored_event *event = &events[n];
            memcpy(event->key, key, EVENT_KEY_BYTES);
            status = cdp_vault_open(vault, &person, CDP_CF_EVENTS, key, key_len, value, value_len,
                                    &plain, err);
            if (status == CDP_OK)
                status = cdp_event_record_decode(plain.data, plain.len, &event->record, err);
            if (status == CDP_OK) {
                event->identifiers = event->record.identifiers_json
                                         ? json_loads(event->record.identifiers_json, 0, NULL)
                                         : json_array();
                if (!json_is_array(event->identifiers)) {
                    json_decref(event->identifiers);
                    event->identifiers = json_array();
                }
                n++;
            }
        }
        if (status == CDP_OK && iter != NULL)
            status = cdp_iter_status(iter, err);
        cdp_iter_free(iter);
        cdp_person_wipe(&person);
    }
    cdp_buf_free_secret(&plain);
    *out = events;
    *count = n;
    return status;
}

static void free_events(stored_event *events, size_t count) {
    for (size_t i = 0; events != NULL && i < count; i++) {
        cdp_event_record_clear(&events[i].record);
        json_decref(events[i].identifiers);
    }
    cdp_free(events);
}

/* Folds one event into a profile as ingest would have. */
static cdp_status replay(const cdp_identity_env *env, cdp_profile_record *profile,
                         const stored_event *event) {
    const cdp_event_record *record = &event->record;
    const char *channel = record->channel ? record->channel
                          : record->source ? record->source
                                           : "unknown";
    cdp_status status = CDP_OK;
    json_t *traits = record->traits_json ? json_loads(record->traits_json, 0, NULL) : NULL;
    if (json_is_object(traits)) {
        const char *name;
        json_t *value;
        json_object_foreach(traits, name, value) {
            if (status == CDP_OK && name[0] != '$')
                status = cdp_profile_apply_trait(profile, env->rules, name, value,
                                                 record->source, channel, record->timestamp);
        }
    }
    json_decref(traits);
    if (status == CDP_OK)
        status = cdp_profile_touch_channel(profile, channel, record->timestamp, 1);
    json_t *properties = json_loads(record->properties_json, 0, NULL);
    json_t *context = json_loads(record->context_json, 0, NULL);
    if (status == CDP_OK)
        status = cdp_profile_update_computed(
            profile, record->type && strcmp(record->type, "track") == 0 ? record->name : NULL,
            properties, json_string_value(json_object_get(context, "locale")),
            json_string_value(json_object_get(context, "timezone")), record->timestamp);
    json_decref(properties);
    json_decref(context);
    if (status == CDP_OK && record->timestamp < profile->created_at)
        profile->created_at = record->timestamp;
    if (status == CDP_OK && record->timestamp > profile->updated_at)
        profile->updated_at = record->timestamp;
    return status;
}

static int event_of_member(const stored_event *event, const char *member_hex) {
    uint8_t member[CDP_PROFILE_ID_BYTES];
    return cdp_hex_decode(member, sizeof member, member_hex, strlen(member_hex)) == 0 &&
           memcmp(event->key, member, CDP_PROFILE_ID_BYTES) == 0;
}

/* 1 when the member holds events and every one of them carries the split identifier. */
static int member_moves(const char *member_hex, const stored_event *events, size_t count) {
    size_t held = 0;
    for (size_t i = 0; i < count; i++) {
        if (!event_of_member(&events[i], member_hex))
            continue;
        if (!events[i].carries_split)
            return 0;
        held++;
    }
    return held > 0;
}

/* When the split identifier first reached a profile that stays (the merge, or its first event
 * there): from then on the two sides were one person. INT64_MAX when it never did. */
static int64_t joined_at(const stored_event *events, size_t count,
                         const cdp_profile_record *split) {
    int64_t joined = INT64_MAX;
    for (size_t i = 0; i < count; i++) {
        if (!events[i].carries_split || events[i].record.timestamp >= joined)
            continue;
        int moves = 0;
        for (size_t m = 0; m < split->merged_from_count && !moves; m++)
            moves = event_of_member(&events[i], split->merged_from[m]);
        if (!moves)
            joined = events[i].record.timestamp;
    }
    return joined;
}

static cdp_status copy_identity(cdp_profile_record *into, const cdp_identity_entry *entry) {
    return cdp_profile_add_identity(into, entry->type, entry->value, entry->added_at,
                                    entry->source, entry->message_id);
}

cdp_status cdp_identity_unmerge(const cdp_identity_env *env, size_t region_index,
                                const cdp_profile_record *profile, const cdp_person *person,
                                const char *type, const char *value, char split_id[33],
                                cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    stored_event *events = NULL;
    size_t count = 0;
    cdp_profile_record kept = {0}, split = {0};
    cdp_person split_person;
    memset(&split_person, 0, sizeof split_person);
    cdp_batch *batch = NULL;
    cdp_buf encoded = {0};
    if (cdp_profile_find_identity(profile, type, value) < 0)
        return cdp_err_set(err, CDP_NOT_FOUND, "identity: the profile does not hold this %s",
                           type);
    if (profile->identity_count < 2)
        return cdp_err_set(err, CDP_CONFLICT,
                           "identity: it is the profile's only identifier; nothing to split");
    pthread_mutex_lock(&env->region_locks[region_index]);
    cdp_status status = load_events(vault, profile, &events, &count, err);
    batch = cdp_batch_new();
    if (status == CDP_OK && batch == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    if (status == CDP_OK)
        status = cdp_vault_create_person(vault, batch, &split_person, err);
    if (status != CDP_OK)
        goto done;
    cdp_hex_encode(split_id, split_person.profile_id, CDP_PROFILE_ID_BYTES);
    for (size_t i = 0; i < count; i++)
        events[i].carries_split = carries(events[i].identifiers, type, value);

    /* Identifiers: the split one, and those only the split events carried, go to the new
     * profile; the rest stay. */
    kept.profile_id = cdp_strdup(profile->profile_id);
    kept.region = cdp_strdup(profile->region);
    split.profile_id = cdp_strdup(split_id);
    split.region = cdp_strdup(profile->region);
    kept.created_at = split.created_at = INT64_MAX;
    kept.restricted = split.restricted = profile->restricted;
    /* A member profile all of whose events go with the identifier moves with it (its data key,
     * consent and merge records are the split person's); the others stay. */
    for (size_t m = 0; m < profile->merged_from_count && status == CDP_OK; m++) {
        cdp_profile_record *side = member_moves(profile->merged_from[m], events, count)
                                       ? &split
                                       : &kept;
        size_t at = side->merged_from_count;
        char **grown = cdp_realloc(side->merged_from, (at + 1) * sizeof *grown);
        if (grown == NULL || (grown[at] = cdp_strdup(profile->merged_from[m])) == NULL) {
            if (grown != NULL)
                side->merged_from = grown;
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
            break;
        }
        side->merged_from = grown;
        side->merged_from_count = at + 1;
    }
    if (kept.profile_id == NULL || kept.region == NULL || split.profile_id == NULL ||
        split.region == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    for (size_t i = 0; i < profile->identity_count && status == CDP_OK; i++) {
        const cdp_identity_entry *entry = &profile->identities[i];
        int in_split = 0, in_kept = 0;
        for (size_t e = 0; e < count; e++) {
            if (!carries(events[e].identifiers, entry->type, entry->value))
                continue;
            if (events[e].carries_split)
                in_split = 1;
            else
                in_kept = 1;
        }
        int goes_to_split = (strcmp(entry->type, type) == 0 && strcmp(entry->value, value) == 0) ||
                            (in_split && !in_kept);
        status = copy_identity(goes_to_split ? &split : &kept, entry);
        if (status == CDP_OK && goes_to_split) {
            uint8_t blind[CDP_BLIND_BYTES];
            status = cdp_vault_blind(vault, entry->type, (const uint8_t *)entry->value,
                                     strlen(entry->value), blind, err);
            if (status == CDP_OK)
                cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind,
                              split_person.profile_id, CDP_PROFILE_ID_BYTES);
            if (status == CDP_OK)
                status = cdp_vault_blind_sha256(vault, entry->type, entry->value, blind, err);
            if (status == CDP_OK)
                cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind,
                              split_person.profile_id, CDP_PROFILE_ID_BYTES);
        }
    }
    if (status == CDP_OK && kept.identity_count == 0)
        status = cdp_err_set(err, CDP_CONFLICT,
                             "identity: every identifier of the profile came with it; nothing "
                             "would remain");
    /* Rebuild both sides from their events; split events move under the new profile. */
    for (size_t i = 0; i < count && status == CDP_OK; i++) {
        stored_event *event = &events[i];
        status = replay(env, event->carries_split ? &split : &kept, event);
        if (status != CDP_OK || !event->carries_split)
            continue;
        uint8_t key[EVENT_KEY_BYTES];
        memcpy(key, split_person.profile_id, CDP_PROFILE_ID_BYTES);
        memcpy(key + CDP_PROFILE_ID_BYTES, event->key + CDP_PROFILE_ID_BYTES,
               EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES);
        cdp_buf_reset(&encoded);
        status = cdp_event_record_encode(&event->record, &encoded, err);
        if (status == CDP_OK)
            status = cdp_vault_put(vault, batch, &split_person, CDP_CF_EVENTS, key, sizeof key,
                                   encoded.data, encoded.len, err);
        cdp_batch_delete(batch, region, CDP_CF_EVENTS, event->key, EVENT_KEY_BYTES);
    }
    if (status != CDP_OK)
        goto done;
    if (kept.created_at == INT64_MAX)
        kept.created_at = profile->created_at;
    if (split.created_at == INT64_MAX)
        split.created_at = profile->created_at;
    /* Write both profiles, the no-merge marker and the history. */
    cdp_buf_reset(&encoded);
    status = cdp_profile_record_encode(&kept, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, person, CDP_CF_PROFILES, person->profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, err);
    cdp_buf_reset(&encoded);
    if (status == CDP_OK)
        status = cdp_profile_record_encode(&split, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, &split_person, CDP_CF_PROFILES,
                               split_person.profile_id, CDP_PROFILE_ID_BYTES, encoded.data,
                               encoded.len, err);
    int64_t now = 0;
    for (size_t i = 0; i < count; i++)
        if (events[i].record.received_at > now)
            now = events[i].record.received_at;
    const char *rule_version = cdp_identity_rule_version(env->rules);
    if (status == CDP_OK)
        status = cdp_identity_put_merge_record(vault, batch, person, "unmerge", split_id,
                                               profile->profile_id, type, NULL, NULL,
                                               rule_version, "split by a DPO", now, err);
    if (status == CDP_OK)
        status = cdp_identity_put_merge_record(vault, batch, &split_person, "unmerge", split_id,
                                               profile->profile_id, type, NULL, NULL,
                                               rule_version, "split by a DPO", now, err);
    if (status == CDP_OK) {
        /* Consent per side (cdp/consent/consent_merge.h), in the same atomic write. */
        cdp_consent_split consent = {
            .kept = person,
            .kept_members = (const char *const *)kept.merged_from,
            .kept_member_count = kept.merged_from_count,
            .split = &split_person,
            .split_members = (const char *const *)split.merged_from,
            .split_member_count = split.merged_from_count,
            .joined_ms = joined_at(events, count, &split),
            .time_ms = now,
        };
        status = cdp_consent_unmerge(vault, batch, &consent, NULL, err);
    }
    if (status == CDP_OK) {
        uint8_t marker[CDP_BLIND_BYTES];
        no_merge_key(vault, person->profile_id, split_person.profile_id, marker);
        cdp_batch_put(batch, region, CDP_CF_IDENTITY, marker, sizeof marker,
                      (const uint8_t *)"1", 1);
        status = cdp_region_write(region, batch, 1, err);
    }
done:
    pthread_mutex_unlock(&env->region_locks[region_index]);
    free_events(events, count);
    cdp_profile_record_clear(&kept);
    cdp_profile_record_clear(&split);
    cdp_person_wipe(&split_person);
    cdp_buf_free_secret(&encoded);
    cdp_batch_free(batch);
    return status;
}
