/* Identity resolution of one message: normalize, look up, decide, fold, write atomically.
 *
 * Order of work: identifiers are normalized and blind-indexed outside any lock (the costly
 * part after JSON parsing); the region is chosen from an unlocked look-up; then, under that
 * region's lock, the look-up is repeated and every decision and write is made, so two messages
 * about the same person never interleave their read-modify-write of the profile. */
#include "identity/resolve.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consent/consent.h"
#include "consent/consent_merge.h"
#include "identity/normalize.h"
#include "identity/profile_ops.h"
#include "identity/unmerge.h"
#include "store/codec.h"
#include "store/records.h"
#include "util/alloc.h"

#define MAX_IDS CDP_SEGMENT_IDENTIFIERS_MAX
#define MAX_CANDIDATES 16
#define MESSAGE_MARKER_TYPE "$message" /* cannot collide: identifier types start with [a-z] */

typedef struct norm_id {
    char type[33];
    char value[CDP_IDENTIFIER_MAX + 1];
    const cdp_id_type_rule *rule;
    int is_previous;
    int blocked;
    /* Look-up result in the chosen region. */
    int found;
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    uint8_t blind[CDP_BLIND_BYTES];
} norm_id;

typedef struct candidate {
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    cdp_person person;
    cdp_profile_record profile;
    int best_priority; /* highest priority among the message's identifiers that matched it */
    int loaded;
} candidate;

typedef struct resolution {
    norm_id ids[MAX_IDS];
    size_t id_count;
    candidate candidates[MAX_CANDIDATES];
    size_t candidate_count;
} resolution;

static void resolution_clear(resolution *work) {
    for (size_t i = 0; i < work->candidate_count; i++) {
        cdp_person_wipe(&work->candidates[i].person);
        cdp_profile_record_clear(&work->candidates[i].profile);
    }
    work->candidate_count = 0;
}

static void hex_id(char out[33], const uint8_t id[CDP_PROFILE_ID_BYTES]) {
    cdp_hex_encode(out, id, CDP_PROFILE_ID_BYTES);
}

/* ---- normalization --------------------------------------------------------------------- */

static const char *region_default_country(const cdp_identity_env *env, const char *region) {
    const cdp_region_policy *policy = cdp_policy_region(env->policy, region);
    return policy != NULL ? policy->default_country : NULL;
}

static cdp_status normalize_all(const cdp_identity_env *env, const cdp_actor *actor,
                                const cdp_segment_message *message, resolution *work,
                                cdp_err *err) {
    const char *country = message->country;
    if (country == NULL)
        country = region_default_country(env, actor->region);
    cdp_buf normalized = {0};
    cdp_status status = CDP_OK;
    for (size_t i = 0; i < message->identifier_count && status == CDP_OK; i++) {
        const cdp_raw_identifier *raw = &message->identifiers[i];
        status = cdp_normalize_identifier(raw->type, raw->value, raw->value_len, country,
                                          &normalized, err);
        if (status != CDP_OK) {
            cdp_err_prefix(err, "%s", raw->field);
            break;
        }
        if (normalized.len > CDP_IDENTIFIER_MAX) {
            status = cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: longer than %d bytes",
                                 raw->field, CDP_IDENTIFIER_MAX);
            break;
        }
        /* Drop exact repeats (userId also sent as an external id of the same type, ...). */
        int repeat = 0;
        for (size_t j = 0; j < work->id_count && !repeat; j++)
            repeat = strcmp(work->ids[j].type, raw->type) == 0 &&
                     strcmp(work->ids[j].value, (const char *)normalized.data) == 0;
        if (repeat)
            continue;
        norm_id *id = &work->ids[work->id_count++];
        memset(id, 0, sizeof *id);
        snprintf(id->type, sizeof id->type, "%s", raw->type);
        memcpy(id->value, normalized.data, normalized.len);
        id->value[normalized.len] = '\0';
        id->is_previous = raw->is_previous;
        id->rule = cdp_identity_rule(env->rules, id->type);
        id->blocked = cdp_identity_blocked(env->rules, id->type, id->value);
        if (id->blocked)
            atomic_fetch_add(&env->counters->blocked_identifiers, 1);
    }
    cdp_buf_free(&normalized);
    if (status == CDP_OK) {
        size_t usable = 0;
        for (size_t i = 0; i < work->id_count; i++)
            usable += !work->ids[i].blocked;
        if (usable == 0)
            status = cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                                 "identifiers: every identifier of the message is a blocked "
                                 "placeholder value (e.g. \"undefined\", test@test.com)");
    }
    return status;
}

/* ---- look-ups --------------------------------------------------------------------------- */

static cdp_status blind_of(cdp_vault *vault, const char *type, const char *value,
                           uint8_t out[CDP_BLIND_BYTES], cdp_err *err) {
    return cdp_vault_blind(vault, type, (const uint8_t *)value, strlen(value), out, err);
}

/* Finds which profile each usable identifier points to in one region, and whether any is
 * suppressed, in ONE multi-get (identity and suppress entries of every identifier). An alias's
 * previousId is looked up as user_id and as anonymous_id. */
#define LOOKUP_KEYS (4 * MAX_IDS)
static cdp_status lookup_region(cdp_vault *vault, resolution *work, int *suppressed,
                                size_t *found_count, cdp_err *err) {
    cdp_region *region = cdp_vault_region(vault);
    uint8_t blinds[2 * MAX_IDS][CDP_BLIND_BYTES];
    /* Suppression entries are keyed by the region's suppression key, which outlives epochs. */
    uint8_t suppress_blinds[2 * MAX_IDS][CDP_BLIND_BYTES];
    size_t owner[LOOKUP_KEYS];
    cdp_cf cfs[LOOKUP_KEYS];
    const uint8_t *keys[LOOKUP_KEYS];
    size_t key_lens[LOOKUP_KEYS];
    uint8_t *values[LOOKUP_KEYS];
    size_t value_lens[LOOKUP_KEYS];
    cdp_status statuses[LOOKUP_KEYS];
    size_t count = 0, blind_count = 0;
    *found_count = 0;
    *suppressed = 0;
    for (size_t i = 0; i < work->id_count; i++) {
        norm_id *id = &work->ids[i];
        id->found = 0;
        if (id->blocked)
            continue;
        const char *types[2] = {id->type, id->is_previous ? "anonymous_id" : NULL};
        for (int t = 0; t < 2 && types[t] != NULL; t++) {
            uint8_t *suppress_blind = suppress_blinds[blind_count];
            uint8_t *blind = blinds[blind_count++];
            cdp_status status = blind_of(vault, types[t], id->value, blind, err);
            if (status == CDP_OK)
                status = cdp_vault_suppress_blind(vault, types[t], (const uint8_t *)id->value,
                                                  strlen(id->value), suppress_blind, err);
            if (status != CDP_OK)
                return status;
            if (t == 0)
                memcpy(id->blind, blind, CDP_BLIND_BYTES);
            for (int family = 0; family < 2; family++) {
                cfs[count] = family == 0 ? CDP_CF_IDENTITY : CDP_CF_SUPPRESS;
                keys[count] = family == 0 ? blind : suppress_blind;
                key_lens[count] = CDP_BLIND_BYTES;
                owner[count] = i;
                values[count] = NULL;
                count++;
            }
        }
    }
    if (count == 0)
        return CDP_OK;
    cdp_status status = cdp_region_multi_get(region, count, cfs, keys, key_lens, values,
                                             value_lens, statuses, err);
    for (size_t k = 0; k < count; k++) {
        if (status == CDP_OK && statuses[k] == CDP_OK) {
            norm_id *id = &work->ids[owner[k]];
            if (cfs[k] == CDP_CF_SUPPRESS)
                *suppressed = 1;
            else if (value_lens[k] != CDP_PROFILE_ID_BYTES)
                status = cdp_err_set(err, CDP_CORRUPT, "identity index entry of %zu bytes",
                                     value_lens[k]);
            else if (!id->found) {
                memcpy(id->profile_id, values[k], CDP_PROFILE_ID_BYTES);
                id->found = 1;
                (*found_count)++;
            }
        }
        cdp_region_free_value(values[k]);
    }
    return status;
}

cdp_status cdp_identity_lookup(const cdp_identity_env *env, const char *type, const char *value,
                               size_t *region_index, uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                               cdp_err *err) {
    for (size_t r = 0; r < env->region_count; r++) {
        uint8_t blind[CDP_BLIND_BYTES], *found = NULL;
        size_t found_len = 0;
        cdp_status status = blind_of(env->vaults[r], type, value, blind, err);
        if (status == CDP_OK)
            status = cdp_region_get(cdp_vault_region(env->vaults[r]), CDP_CF_IDENTITY, blind,
                                    sizeof blind, &found, &found_len, err);
        if (status == CDP_NOT_FOUND)
            continue;
        if (status != CDP_OK)
            return status;
        int ok = found_len == CDP_PROFILE_ID_BYTES;
        if (ok)
            memcpy(profile_id, found, CDP_PROFILE_ID_BYTES);
        cdp_region_free_value(found);
        if (!ok)
            return cdp_err_set(err, CDP_CORRUPT, "identity index entry of %zu bytes", found_len);
        *region_index = r;
        return CDP_OK;
    }
    return cdp_err_set(err, CDP_NOT_FOUND, "no profile holds this %s", type);
}

static size_t region_index_of(const cdp_identity_env *env, const char *region) {
    for (size_t r = 0; region != NULL && r < env->region_count; r++)
        if (strcmp(env->region_ids[r], region) == 0)
            return r;
    return env->region_count;
}

/* The region of an existing person (the one matched by the highest-priority identifier), else
 * the home region from the country signal, else the key's region, else the default region. */
static cdp_status choose_region(const cdp_identity_env *env, const cdp_actor *actor,
                                const cdp_segment_message *message, resolution *work,
                                size_t *out, cdp_err *err) {
    int best_priority = -1;
    size_t best_region = env->region_count;
    for (size_t r = 0; r < env->region_count; r++) {
        int suppressed = 0;
        size_t found = 0;
        cdp_status status = lookup_region(env->vaults[r], work, &suppressed, &found, err);
        if (status != CDP_OK)
            return status;
        if (suppressed)
            return cdp_err_set(err, CDP_SUPPRESSED,
                               "identifiers: the message carries an identifier of an erased "
                               "person; it is refused and stores nothing");
        for (size_t i = 0; i < work->id_count; i++)
            if (work->ids[i].found && work->ids[i].rule->priority > best_priority) {
                best_priority = work->ids[i].rule->priority;
                best_region = r;
            }
    }
    if (best_region == env->region_count && message->country != NULL)
        best_region =
            region_index_of(env, cdp_policy_region_for_country(env->policy, message->country));
    if (best_region == env->region_count)
        best_region = region_index_of(env, actor->region);
    if (best_region == env->region_count)
        best_region = region_index_of(env, cdp_policy_default_region(env->policy));
    if (best_region == env->region_count)
        return cdp_err_set(err, CDP_INTERNAL, "no region to store the message in");
    *out = best_region;
    return CDP_OK;
}

/* ---- candidates ------------------------------------------------------------------------- */

static candidate *find_candidate(resolution *work, const uint8_t profile_id[16]) {
    for (size_t i = 0; i < work->candidate_count; i++)
        if (memcmp(work->candidates[i].profile_id, profile_id, CDP_PROFILE_ID_BYTES) == 0)
            return &work->candidates[i];
    return NULL;
}

static cdp_status load_candidate(cdp_vault *vault, candidate *c, cdp_buf *plain, cdp_err *err) {
    cdp_status status = cdp_vault_get_person_record(vault, c->profile_id, CDP_CF_PROFILES,
                                                    c->profile_id, CDP_PROFILE_ID_BYTES,
                                                    &c->person, plain, err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain->data, plain->len, &c->profile, err);
    if (status != CDP_OK)
        cdp_err_prefix(err, "loading a matched profile");
    c->loaded = status == CDP_OK;
    return status;
}

/* Orders candidates: best priority first, then oldest, then smallest id (deterministic). */
static int candidate_before(const candidate *a, const candidate *b) {
    if (a->best_priority != b->best_priority)
        return a->best_priority > b->best_priority;
    if (a->profile.created_at != b->profile.created_at)
        return a->profile.created_at < b->profile.created_at;
    return memcmp(a->profile_id, b->profile_id, CDP_PROFILE_ID_BYTES) < 0;
}

/* Why the candidates may not merge into one, or NULL. */
static const char *merge_refusal(const cdp_identity_env *env, cdp_vault *vault,
                                 const resolution *work, char *reason, size_t reason_cap) {
    for (size_t i = 1; i < work->candidate_count; i++)
        if (cdp_identity_merge_blocked(vault, work->candidates[0].profile_id,
                                       work->candidates[i].profile_id)) {
            snprintf(reason, reason_cap, "unmerged: a DPO split these profiles");
            return reason;
        }
    if (work->candidate_count > (size_t)cdp_identity_max_profiles_per_merge(env->rules)) {
        snprintf(reason, reason_cap, "quarantine: one message links %zu profiles (limit %d)",
                 work->candidate_count, cdp_identity_max_profiles_per_merge(env->rules));
        return reason;
    }
    size_t merges = 0, identities = 0;
    for (size_t i = 0; i < work->candidate_count; i++) {
        merges += work->candidates[i].profile.merged_from_count + 1;
        identities += work->candidates[i].profile.identity_count;
    }
    if (merges - 1 > (size_t)cdp_identity_max_merges_per_profile(env->rules)) {
        snprintf(reason, reason_cap, "cap: more than %d merges in one profile",
                 cdp_identity_max_merges_per_profile(env->rules));
        return reason;
    }
    if (identities > (size_t)cdp_identity_max_identifiers_per_profile(env->rules)) {
        snprintf(reason, reason_cap, "cap: more than %d identifiers in one profile",
                 cdp_identity_max_identifiers_per_profile(env->rules));
        return reason;
    }
    /* Per type over the union: unique types may hold one value, others their max. */
    for (size_t i = 0; i < work->candidate_count; i++) {
        const cdp_profile_record *p = &work->candidates[i].profile;
        for (size_t k = 0; k < p->identity_count; k++) {
            const char *type = p->identities[k].type;
            const cdp_id_type_rule *rule = cdp_identity_rule(env->rules, type);
            size_t distinct = 0;
            for (size_t j = 0; j < work->candidate_count; j++)
                distinct += cdp_profile_count_type(&work->candidates[j].profile, type, 0);
            if (rule->unique && distinct > 1) {
                snprintf(reason, reason_cap, "unique_conflict: the profiles hold different %s "
                                             "values",
                         type);
                return reason;
            }
            if (distinct > (size_t)rule->max) {
                snprintf(reason, reason_cap, "limit: merged profile would hold %zu %s (max %d)",
                         distinct, type, rule->max);
                return reason;
            }
        }
    }
    return NULL;
}

/* ---- records written -------------------------------------------------------------------- */

cdp_status cdp_identity_put_merge_record(cdp_vault *vault, cdp_batch *batch, const cdp_person *owner,
                                   const char *kind, const char *from, const char *to,
                                   const char *identifier_type, const uint8_t *blind,
                                   const char *message_id, const char *rule_version,
                                   const char *reason, int64_t time_ms, cdp_err *err) {
    avro_value_iface_t *iface = avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_MERGE));
    avro_value_t record, field, branch;
    cdp_buf encoded = {0};
    cdp_status status = CDP_OK;
    if (iface == NULL || avro_generic_value_new(iface, &record) != 0) {
        if (iface != NULL)
            avro_value_iface_decref(iface);
        return cdp_err_set(err, CDP_NOMEM, "merge record: out of memory");
    }
    uint8_t key[CDP_PROFILE_ID_BYTES + 12];
    memcpy(key, owner->profile_id, CDP_PROFILE_ID_BYTES);
    cdp_store_be64(key + CDP_PROFILE_ID_BYTES, (uint64_t)time_ms);
    randombytes_buf(key + CDP_PROFILE_ID_BYTES + 8, 4);
    char blind_hex[2 * CDP_BLIND_BYTES + 1];
    if (blind != NULL)
        cdp_hex_encode(blind_hex, blind, CDP_BLIND_BYTES);
    int rval = 0;
    rval |= avro_value_get_by_name(&record, "seq", &field, NULL) ||
            avro_value_set_long(&field, (int64_t)cdp_load_be64(key + CDP_PROFILE_ID_BYTES));
    int kind_index = strcmp(kind, "merge") == 0 ? 0 : strcmp(kind, "unmerge") == 0 ? 1 : 2;
    rval |= avro_value_get_by_name(&record, "kind", &field, NULL) ||
            avro_value_set_enum(&field, kind_index);
    rval |= avro_value_get_by_name(&record, "from_profile_id", &field, NULL) ||
            avro_value_set_string(&field, from);
    rval |= avro_value_get_by_name(&record, "to_profile_id", &field, NULL) ||
            avro_value_set_string(&field, to);
    rval |= avro_value_get_by_name(&record, "identifier_type", &field, NULL) ||
            avro_value_set_string(&field, identifier_type);
    const char *optional_names[3] = {"blind_identifier_hex", "message_id", "reason"};
    const char *optional_values[3] = {blind ? blind_hex : NULL, message_id, reason};
    for (int i = 0; i < 3; i++) {
        rval |= avro_value_get_by_name(&record, optional_names[i], &field, NULL);
        if (optional_values[i] != NULL)
            rval |= avro_value_set_branch(&field, 1, &branch) ||
                    avro_value_set_string(&branch, optional_values[i]);
        else
            rval |= avro_value_set_branch(&field, 0, &branch) || avro_value_set_null(&branch);
    }
    rval |= avro_value_get_by_name(&record, "rule_version", &field, NULL) ||
            avro_value_set_string(&field, rule_version);
    rval |= avro_value_get_by_name(&record, "time", &field, NULL) ||
            avro_value_set_long(&field, time_ms);
    if (rval != 0)
        status = cdp_err_set(err, CDP_INTERNAL, "merge record: %s", avro_strerror());
    if (status == CDP_OK)
        status = cdp_codec_encode(CDP_SCHEMA_MERGE, &record, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, owner, CDP_CF_MERGES, key, sizeof key, encoded.data,
                               encoded.len, err);
    cdp_buf_free(&encoded);
    avro_value_decref(&record);
    avro_value_iface_decref(iface);
    return status;
}

static char *json_text(json_t *value) {
    if (value == NULL)
        return NULL;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return NULL;
    char *copy = cdp_strdup(text);
    free(text);
    return copy;
}

static cdp_status put_event(cdp_vault *vault, cdp_batch *batch, const cdp_person *owner,
                            const cdp_actor *actor, const cdp_segment_message *message,
                            const char *channel, const resolution *work, int64_t now_ms,
                            cdp_err *err) {
    uint8_t event_id[CDP_PROFILE_ID_BYTES];
    char event_hex[33];
    randombytes_buf(event_id, sizeof event_id);
    cdp_hex_encode(event_hex, event_id, sizeof event_id);
    json_t *identifiers = json_array();
    for (size_t i = 0; identifiers != NULL && i < work->id_count; i++)
        if (!work->ids[i].blocked)
            json_array_append_new(identifiers,
                                  json_pack("[ss]", work->ids[i].type, work->ids[i].value));
    cdp_event_record event = {
        .event_id = event_hex,
        .message_id = (char *)message->message_id,
        .type = (char *)message->type_name,
        .name = (char *)(message->event ? message->event : message->name),
        .timestamp = message->timestamp,
        .received_at = now_ms,
        .source = actor->source[0] ? (char *)actor->source : NULL,
        .channel = (char *)channel,
    };
    event.properties_json = message->properties ? json_text(message->properties) : cdp_strdup("{}");
    event.context_json = message->context ? json_text(message->context) : cdp_strdup("{}");
    event.traits_json = message->traits ? json_text(message->traits) : NULL;
    event.identifiers_json = json_text(identifiers);
    json_decref(identifiers);
    cdp_buf encoded = {0};
    cdp_status status = CDP_OK;
    if (event.properties_json == NULL || event.context_json == NULL ||
        event.identifiers_json == NULL || (message->traits && event.traits_json == NULL))
        status = cdp_err_set(err, CDP_NOMEM, "event: out of memory");
    if (status == CDP_OK)
        status = cdp_event_record_encode(&event, &encoded, err);
    uint8_t key[CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES];
    memcpy(key, owner->profile_id, CDP_PROFILE_ID_BYTES);
    cdp_store_be64(key + CDP_PROFILE_ID_BYTES, (uint64_t)message->timestamp);
    memcpy(key + CDP_PROFILE_ID_BYTES + 8, event_id, sizeof event_id);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, owner, CDP_CF_EVENTS, key, sizeof key, encoded.data,
                               encoded.len, err);
    cdp_buf_free(&encoded);
    cdp_free(event.properties_json);
    cdp_free(event.context_json);
    cdp_free(event.traits_json);
    cdp_free(event.identifiers_json);
    return status;
}

static cdp_status put_profile(cdp_vault *vault, cdp_batch *batch, const cdp_person *owner,
                              const cdp_profile_record *profile, cdp_err *err) {
    cdp_buf encoded = {0};
    cdp_status status = cdp_profile_record_encode(profile, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, owner, CDP_CF_PROFILES, owner->profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, err);
    cdp_buf_free_secret(&encoded);
    return status;
}

/* Traits of the message into the profile. Names starting with '$' are reserved. */
static cdp_status apply_traits(const cdp_identity_env *env, cdp_profile_record *profile,
                               const cdp_actor *actor, const cdp_segment_message *message,
                               const char *channel, cdp_err *err) {
    if (!json_is_object(message->traits))
        return CDP_OK;
    const char *name;
    json_t *value;
    json_object_foreach(message->traits, name, value) {
        if (name[0] == '$' || name[0] == '\0' || strlen(name) > 128)
            continue; /* validated before any write: see check_traits */
        cdp_status status = cdp_profile_apply_trait(profile, env->rules, name, value,
                                                    actor->source, channel, message->timestamp);
        if (status != CDP_OK)
            return cdp_err_set(err, status, "traits.%s: out of memory", name);
    }
    return CDP_OK;
}

static cdp_status check_traits(const cdp_segment_message *message, cdp_err *err) {
    if (!json_is_object(message->traits))
        return CDP_OK;
    const char *name;
    json_t *value;
    json_object_foreach(message->traits, name, value) {
        if (name[0] == '$')
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "traits.%.64s: names starting with $ are reserved", name);
        if (name[0] == '\0' || strlen(name) > 128)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "traits: a trait name must have 1 to 128 bytes");
    }
    return CDP_OK;
}

/* Consent-safe merge (cdp/consent/consent_merge.h): in the merge's batch, the strictest state
 * of every purpose any candidate refused is pinned on the survivor (candidates[0]). */
static cdp_status merge_consent(cdp_vault *vault, cdp_batch *batch, const resolution *work,
                                const cdp_segment_message *message, cdp_err *err) {
    cdp_consent_member members[MAX_CANDIDATES];
    for (size_t i = 0; i < work->candidate_count; i++) {
        members[i].person = &work->candidates[i].person;
        members[i].merged_from = (const char *const *)work->candidates[i].profile.merged_from;
        members[i].merged_count = work->candidates[i].profile.merged_from_count;
    }
    return cdp_consent_merge(vault, batch, members, work->candidate_count, message->timestamp,
                             message->message_id, NULL, err);
}

/* ---- the whole message ------------------------------------------------------------------ */

static cdp_status resolve_locked(const cdp_identity_env *env, size_t region_index,
                                 const cdp_actor *actor, const cdp_segment_message *message,
                                 int gpc, int64_t now_ms, resolution *work,
                                 cdp_ingest_outcome *out, cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    const char *rule_version = cdp_identity_rule_version(env->rules);
    const char *channel = actor->source[0] ? actor->source
                          : message->channel ? message->channel
                                             : "unknown";
    cdp_batch *batch = cdp_batch_new();
    cdp_buf plain = {0};
    cdp_profile_record fresh = {0};
    cdp_person fresh_person;
    memset(&fresh_person, 0, sizeof fresh_person);
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");

    /* Duplicate? The message marker lives in the identity family under a blind index. */
    uint8_t marker[CDP_BLIND_BYTES], *marker_value = NULL;
    size_t marker_len = 0;
    cdp_status status = blind_of(vault, MESSAGE_MARKER_TYPE, message->message_id, marker, err);
    if (status == CDP_OK)
        status = cdp_region_get(region, CDP_CF_IDENTITY, marker, sizeof marker, &marker_value,
                                &marker_len, err);
    if (status == CDP_OK) {
        if (marker_len == CDP_PROFILE_ID_BYTES)
            hex_id(out->profile_id, marker_value);
        cdp_region_free_value(marker_value);
        out->duplicate = 1;
        atomic_fetch_add(&env->counters->duplicates, 1);
        goto done;
    }
    if (status != CDP_NOT_FOUND)
        goto done;
    cdp_err_clear(err);

    int suppressed = 0;
    size_t found = 0;
    status = lookup_region(vault, work, &suppressed, &found, err);
    if (status != CDP_OK)
        goto done;
    if (suppressed) {
        status = cdp_err_set(err, CDP_SUPPRESSED,
                             "identifiers: the message carries an identifier of an erased "
                             "person; it is refused and stores nothing");
        goto done;
    }
    /* Weak identifiers (shared devices) link a message to a profile only when it carries no
     * stronger identifier: otherwise a family tablet would decide who a new e-mail belongs to,
     * and the outcome would depend on which family member's events came first. */
    int has_strong = 0;
    for (size_t i = 0; i < work->id_count; i++)
        has_strong |= !work->ids[i].blocked && !work->ids[i].rule->weak;
    /* Candidates: the distinct profiles matched, each with its best matching priority. */
    for (size_t i = 0; i < work->id_count; i++) {
        norm_id *id = &work->ids[i];
        if (!id->found || (has_strong && id->rule->weak))
            continue;
        candidate *c = find_candidate(work, id->profile_id);
        if (c == NULL) {
            if (work->candidate_count == MAX_CANDIDATES)
                continue;
            c = &work->candidates[work->candidate_count++];
            memset(c, 0, sizeof *c);
            memcpy(c->profile_id, id->profile_id, CDP_PROFILE_ID_BYTES);
            c->best_priority = -1;
        }
        if (id->rule->priority > c->best_priority)
            c->best_priority = id->rule->priority;
    }
    for (size_t i = 0; i < work->candidate_count && status == CDP_OK; i++)
        status = load_candidate(vault, &work->candidates[i], &plain, err);
    if (status != CDP_OK)
        goto done;
    /* Best candidate first. */
    for (size_t i = 1; i < work->candidate_count; i++)
        for (size_t j = i; j > 0 && candidate_before(&work->candidates[j],
                                                     &work->candidates[j - 1]);
             j--) {
            candidate swap = work->candidates[j];
            work->candidates[j] = work->candidates[j - 1];
            work->candidates[j - 1] = swap;
        }

    cdp_profile_record *target = NULL;
    const cdp_person *owner = NULL;
    char target_hex[33];
    /* The message's own unique ids that no profile holds yet: if the best candidate holds a
     * different value of that type, the message is another person's (login-id guard). */
    int new_person_for_unique = 0;
    if (work->candidate_count > 0) {
        for (size_t i = 0; i < work->id_count && !new_person_for_unique; i++) {
            const norm_id *id = &work->ids[i];
            if (id->blocked || id->found || !id->rule->unique || id->is_previous)
                continue;
            const char *held = cdp_profile_type_value(&work->candidates[0].profile, id->type);
            if (held != NULL && strcmp(held, id->value) != 0)
                new_person_for_unique = 1;
        }
    }
    if (work->candidate_count == 0 || new_person_for_unique) {
        status = cdp_vault_create_person(vault, batch, &fresh_person, err);
        if (status != CDP_OK)
            goto done;
        hex_id(target_hex, fresh_person.profile_id);
        fresh.profile_id = cdp_strdup(target_hex);
        fresh.region = cdp_strdup(env->region_ids[region_index]);
        fresh.created_at = fresh.updated_at = message->timestamp;
        if (fresh.profile_id == NULL || fresh.region == NULL) {
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
            goto done;
        }
        target = &fresh;
        owner = &fresh_person;
        out->created = 1;
        atomic_fetch_add(&env->counters->profiles_created, 1);
        if (new_person_for_unique) {
            out->refusals++;
            atomic_fetch_add(&env->counters->merge_refusals, 1);
            status = cdp_identity_put_merge_record(vault, batch, owner, "refused", work->candidates[0].profile.profile_id,
                                      target_hex, "user_id", NULL, message->message_id,
                                      rule_version,
                                      "unique_conflict: the message's unique id differs from "
                                      "the matched profile's; stored as another person",
                                      message->timestamp, err);
            if (status != CDP_OK)
                goto done;
        }
    } else {
        candidate *best = &work->candidates[0];
        target = &best->profile;
        owner = &best->person;
        hex_id(target_hex, best->profile_id);
        if (work->candidate_count > 1) {
            char reason_buf[160];
            const char *refusal = merge_refusal(env, vault, work, reason_buf, sizeof reason_buf);
            if (refusal != NULL) {
                int quarantine = strncmp(refusal, "quarantine", 10) == 0;
                atomic_fetch_add(quarantine ? &env->counters->quarantined
                                            : &env->counters->merge_refusals,
                                 1);
                out->refusals++;
                for (size_t i = 1; i < work->candidate_count && status == CDP_OK; i++)
                    status = cdp_identity_put_merge_record(vault, batch, owner, "refused",
                                              work->candidates[i].profile.profile_id, target_hex,
                                              "*", NULL, message->message_id, rule_version,
                                              refusal, message->timestamp, err);
            } else {
                /* Consent first, while each candidate's merged_from is still its own. */
                status = merge_consent(vault, batch, work, message, err);
                for (size_t i = 1; i < work->candidate_count && status == CDP_OK; i++) {
                    candidate *absorbed = &work->candidates[i];
                    /* The identifier that linked them, as evidence. */
                    const norm_id *link = NULL;
                    for (size_t k = 0; k < work->id_count && link == NULL; k++)
                        if (work->ids[k].found &&
                            memcmp(work->ids[k].profile_id, absorbed->profile_id,
                                   CDP_PROFILE_ID_BYTES) == 0)
                            link = &work->ids[k];
                    status = cdp_profile_fold(target, &absorbed->profile, env->rules);
                    if (status != CDP_OK) {
                        cdp_err_set(err, status, "merge: out of memory");
                        break;
                    }
                    /* Every identifier of the absorbed profile now points at the target. */
                    for (size_t k = 0; k < absorbed->profile.identity_count && status == CDP_OK;
                         k++) {
                        uint8_t blind[CDP_BLIND_BYTES];
                        status = blind_of(vault, absorbed->profile.identities[k].type,
                                          absorbed->profile.identities[k].value, blind, err);
                        if (status == CDP_OK)
                            cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind,
                                          owner->profile_id, CDP_PROFILE_ID_BYTES);
                        if (status == CDP_OK)
                            status = cdp_vault_blind_sha256(
                                vault, absorbed->profile.identities[k].type,
                                absorbed->profile.identities[k].value, blind, err);
                        if (status == CDP_OK)
                            cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind,
                                          owner->profile_id, CDP_PROFILE_ID_BYTES);
                    }
                    /* The absorbed profile record goes; its data key stays for its events. */
                    cdp_batch_delete(batch, region, CDP_CF_PROFILES, absorbed->profile_id,
                                     CDP_PROFILE_ID_BYTES);
                    if (status == CDP_OK)
                        status = cdp_identity_put_merge_record(
                            vault, batch, owner, "merge", absorbed->profile.profile_id,
                            target_hex, link ? link->type : "*", link ? link->blind : NULL,
                            message->message_id, rule_version, NULL, message->timestamp, err);
                    out->merged++;
                    atomic_fetch_add(&env->counters->merges, 1);
                }
            }
        }
    }
    if (status != CDP_OK)
        goto done;

    /* Attach the message's identifiers that no profile holds, within the rules. */
    for (size_t i = 0; i < work->id_count && status == CDP_OK; i++) {
        norm_id *id = &work->ids[i];
        if (id->blocked || id->found)
            continue;
        const char *type = id->is_previous ? "anonymous_id" : id->type;
        const cdp_id_type_rule *rule = cdp_identity_rule(env->rules, type);
        if (id->is_previous && cdp_profile_type_value(target, "user_id") == NULL &&
            strcmp(id->type, "user_id") == 0)
            type = "user_id";
        const char *refusal = NULL;
        char reason_buf[160];
        const char *held = cdp_profile_type_value(target, type);
        if (rule->unique && held != NULL && strcmp(held, id->value) != 0)
            refusal = "unique_conflict: the profile holds another value of this unique type";
        else if (cdp_profile_count_type(target, type, 0) >= (size_t)rule->max) {
            snprintf(reason_buf, sizeof reason_buf, "limit: the profile holds %d %s already",
                     rule->max, type);
            refusal = reason_buf;
        } else if (rule->window_days > 0 &&
                   cdp_profile_count_type(target, type,
                                          message->timestamp -
                                              (int64_t)rule->window_days * 86400000) >=
                       (size_t)rule->max_in_window) {
            snprintf(reason_buf, sizeof reason_buf, "limit: %d new %s within %d days",
                     rule->max_in_window, type, rule->window_days);
            refusal = reason_buf;
        } else if (target->identity_count >=
                   (size_t)cdp_identity_max_identifiers_per_profile(env->rules)) {
            refusal = "cap: the profile holds the most identifiers allowed";
        }
        if (refusal != NULL) {
            out->refusals++;
            atomic_fetch_add(&env->counters->merge_refusals, 1);
            status = cdp_identity_put_merge_record(vault, batch, owner, "refused", target_hex, target_hex,
                                      type, id->blind, message->message_id, rule_version,
                                      refusal, message->timestamp, err);
            continue;
        }
        uint8_t blind[CDP_BLIND_BYTES];
        status = blind_of(vault, type, id->value, blind, err);
        if (status != CDP_OK)
            break;
        status = cdp_profile_add_identity(target, type, id->value, message->timestamp,
                                          actor->source, message->message_id);
        if (status != CDP_OK) {
            cdp_err_set(err, status, "out of memory");
            break;
        }
        cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind, owner->profile_id,
                      CDP_PROFILE_ID_BYTES);
        status = cdp_vault_blind_sha256(vault, type, id->value, blind, err);
        if (status != CDP_OK)
            break;
        cdp_batch_put(batch, region, CDP_CF_IDENTITY, blind, sizeof blind, owner->profile_id,
                      CDP_PROFILE_ID_BYTES);
    }
    if (status == CDP_OK)
        status = apply_traits(env, target, actor, message, channel, err);
    if (status == CDP_OK)
        status = cdp_profile_touch_channel(target, channel, message->timestamp, 1);
    if (status == CDP_OK)
        status = cdp_profile_update_computed(target, message->event, message->properties,
                                             message->locale, message->timezone,
                                             message->timestamp);
    if (status != CDP_OK) {
        if (err != NULL && err->status == CDP_OK)
            cdp_err_set(err, status, "profile update failed");
        goto done;
    }
    if (message->timestamp > target->updated_at)
        target->updated_at = message->timestamp;
    status = put_profile(vault, batch, owner, target, err);
    if (status == CDP_OK)
        status = put_event(vault, batch, owner, actor, message, channel, work, now_ms, err);
    /* Sec-GPC: the sale/share opt-out, in the same batch as the event (cdp/consent decides
     * whether the person's regime honours it and skips it when already recorded). */
    if (status == CDP_OK && gpc) {
        size_t written = 0;
        status = cdp_consent_record_gpc(env->policy, vault, batch, owner, target, now_ms,
                                        actor->source, actor->request_id, NULL, &written, err);
    }
    if (status == CDP_OK)
        cdp_batch_put(batch, region, CDP_CF_IDENTITY, marker, sizeof marker, owner->profile_id,
                      CDP_PROFILE_ID_BYTES);
    /* One atomic write for the whole effect of the message and its audit record (a write that
     * is not audited does not happen); made durable by the caller's WAL sync before the request
     * is acknowledged (group commit across a batch). */
    if (status == CDP_OK) {
        char operation[32];
        snprintf(operation, sizeof operation, "event.%s", message->type_name);
        static const char *const categories[] = {"event"};
        cdp_audit_entry entry = {
            .time_ms = now_ms,
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = operation,
            .profile_id = owner->profile_id,
            .categories = categories,
            .category_count = 1,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        status = env->audit_disabled
                     ? cdp_region_write(region, batch, 0, err)
                     : cdp_audit_write(env->audit_logs[region_index], batch, &entry, 1, 0, NULL,
                                       err);
    }
    if (status == CDP_OK) {
        memcpy(out->profile_id, target_hex, sizeof target_hex);
        atomic_fetch_add(&env->counters->events, 1);
    }
done:
    out->region_index = region_index;
    cdp_profile_record_clear(&fresh);
    cdp_person_wipe(&fresh_person);
    cdp_buf_free_secret(&plain);
    cdp_batch_free(batch);
    return status;
}

cdp_status cdp_identity_ingest(const cdp_identity_env *env, const cdp_actor *actor,
                               const cdp_segment_message *message, int gpc, int64_t now_ms,
                               cdp_ingest_outcome *out, cdp_err *err) {
    memset(out, 0, sizeof *out);
    /* Not calloc: the scratch is ~40 KB and every entry is initialised when used. */
    resolution *work = cdp_malloc(sizeof *work);
    if (work == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    work->id_count = 0;
    work->candidate_count = 0;
    size_t region_index = 0;
    cdp_status status = check_traits(message, err);
    if (status == CDP_OK)
        status = normalize_all(env, actor, message, work, err);
    if (status == CDP_OK)
        status = choose_region(env, actor, message, work, &region_index, err);
    if (status == CDP_OK) {
        pthread_mutex_lock(&env->region_locks[region_index]);
        status = resolve_locked(env, region_index, actor, message, gpc, now_ms, work, out, err);
        pthread_mutex_unlock(&env->region_locks[region_index]);
    }
    resolution_clear(work);
    cdp_free(work);
    return status;
}
