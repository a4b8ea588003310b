/* Reads of personal data: the profile, the identities, the event timeline. Each one decides
 * the request (role × purpose, restriction, residency, consent), then every item (trait,
 * identity, event, property) by its data category, audits what it is about to release (or the
 * refusal) and only then builds the answer. Items a purpose may not see are left out and counted
 * in "withheld"; events past their category's retention are not served at all. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access/access_internal.h"
#include "identity/normalize.h"
#include "identity/unmerge.h"
#include "util/alloc.h"

#define EVENTS_DEFAULT 50
#define EVENTS_MAX 1000
#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t region_index_of(const cdp_identity_env *env, const char *region) {
    for (size_t r = 0; region != NULL && r < env->region_count; r++)
        if (strcmp(env->region_ids[r], region) == 0)
            return r;
    return 0;
}

/* A key narrowed to some purposes cannot ask for others. */
static int key_may_state(const cdp_actor *actor, const char *purpose) {
    if (actor->purposes[0] == '\0')
        return 1;
    size_t len = strlen(purpose);
    const char *cursor = actor->purposes;
    while (*cursor) {
        const char *end = strchr(cursor, ',');
        size_t item = end ? (size_t)(end - cursor) : strlen(cursor);
        if (item == len && strncmp(cursor, purpose, len) == 0)
            return 1;
        cursor += item + (end != NULL);
    }
    return 0;
}

static cdp_status refuse(const cdp_access_answer *answer, const char *purpose, cdp_err *err) {
    switch (answer->status) {
    case CDP_PURPOSE_REQUIRED:
        return cdp_err_set(err, CDP_PURPOSE_REQUIRED,
                           "purpose: required (X-CDP-Purpose) to read personal data");
    case CDP_RESIDENCY_DENIED:
        return cdp_err_set(err, CDP_RESIDENCY_DENIED,
                           "residency: this person's data may not be read from this region for "
                           "%s (%s)",
                           purpose, answer->reason);
    case CDP_RESTRICTED:
        return cdp_err_set(err, CDP_RESTRICTED,
                           "restricted: processing of this person's data is restricted "
                           "(GDPR Art. 18); only legal_obligation or the DPO may read it");
    case CDP_CONSENT_DENIED:
        return cdp_err_set(err, CDP_CONSENT_DENIED, "purpose: %s is not allowed for this "
                                                    "person (%s)",
                           purpose, answer->reason);
    default:
        return cdp_err_set(err, answer->status != CDP_OK ? answer->status : CDP_FORBIDDEN,
                           "purpose: %s may not be used by this caller (%s)",
                           purpose != NULL ? purpose : "", answer->reason);
    }
}

/* Checks made before anyone is looked up: a stated purpose, one the key and role may use.
 * Refusals are audited (without a person) in the caller's region. */
cdp_status cdp_access_precheck(const cdp_identity_env *env, const cdp_actor *actor,
                               const char *purpose, const char *operation, cdp_err *err) {
    cdp_access_answer answer = {CDP_DECISION_ALLOW, CDP_OK, "allowed", NULL};
    if (env->enforcement_disabled)
        return CDP_OK; /* benchmark only */
    if (purpose == NULL || *purpose == '\0') {
        answer = (cdp_access_answer){CDP_DECISION_DENY, CDP_PURPOSE_REQUIRED, "purpose_required",
                                     NULL};
    } else if (!key_may_state(actor, purpose)) {
        answer = (cdp_access_answer){CDP_DECISION_DENY, CDP_FORBIDDEN, "key_purpose", NULL};
    } else {
        /* Role and purpose, asked without a person (consent and residency come later). */
        cdp_access_question question = {.role = cdp_role_name(actor->role), .purpose = purpose,
                                         .regime = NULL, .consent = CDP_CONSENT_STATE_GRANTED};
        cdp_access_answer asked = cdp_policy_decide(env->policy, &question);
        if (asked.kind == CDP_DECISION_DENY &&
            (asked.status == CDP_FORBIDDEN || asked.status == CDP_PURPOSE_REQUIRED))
            answer = asked;
    }
    if (answer.kind == CDP_DECISION_ALLOW)
        return CDP_OK;
    cdp_access_count(answer.reason, 1);
    cdp_err audit_err = {0};
    cdp_access_audit(env, region_index_of(env, actor->region), actor, operation,
                     purpose != NULL && *purpose ? purpose : NULL, NULL, &answer, CDP_AUDIT_DENY,
                     NULL, 0, &audit_err);
    if (answer.status == CDP_FORBIDDEN && strcmp(answer.reason, "key_purpose") == 0)
        return cdp_err_set(err, CDP_FORBIDDEN, "purpose: this key may not state \"%s\"",
                           purpose);
    if (answer.status == CDP_FORBIDDEN)
        return cdp_err_set(err, CDP_FORBIDDEN, "purpose: role %s may not read for \"%s\" (%s)",
                           cdp_role_name(actor->role), purpose, answer.reason);
    return refuse(&answer, purpose, err);
}

/* Opens the person and decides the request. On a refusal the decision is audited and its
 * status returned; on CDP_OK *answer holds the allowance (its basis). */
static cdp_status open_decided(const cdp_identity_env *env, const cdp_actor *actor,
                               const char *purpose, const char *ref, const char *operation,
                               cdp_access_person *person, cdp_access_answer *answer,
                               cdp_err *err) {
    cdp_status status = cdp_access_precheck(env, actor, purpose, operation, err);
    if (status != CDP_OK)
        return status;
    status = cdp_access_resolve(env, actor, ref, person, err);
    if (status != CDP_OK)
        return status;
    cdp_access_question question = cdp_access_question_for(env, actor, purpose, person, NULL);
    *answer = env->enforcement_disabled /* benchmark only */
                  ? (cdp_access_answer){CDP_DECISION_ALLOW, CDP_OK, "allowed", NULL}
                  : cdp_policy_decide(env->policy, &question);
    if (answer->kind != CDP_DECISION_DENY)
        return CDP_OK;
    cdp_access_count(answer->reason, 1);
    /* The refusal goes to the person's home log (where their data is). */
    status = cdp_access_audit(env, person->region_index, actor, operation, purpose,
                              person->person.profile_id, answer, CDP_AUDIT_DENY, NULL, 0, err);
    if (status != CDP_OK)
        return status;
    return refuse(answer, purpose, err);
}

/* Per-item decisions, and what was released, for the audit record. */
typedef struct item_gate {
    const cdp_identity_env *env;
    const cdp_actor *actor;
    const char *purpose;
    const cdp_access_person *person;
    size_t withheld;
    const char *released[CDP_AUDIT_MAX_CATEGORIES];
    size_t released_count;
    /* Decisions already made in this request, by category (a category pointer from the policy
     * is stable, so pointer equality is enough; a miss just decides again). */
    const char *decided[16];
    cdp_access_answer answers[16];
    size_t decided_count;
} item_gate;

static int gate_allows(item_gate *gate, const char *category) {
    if (gate->env->enforcement_disabled)
        return 1; /* benchmark only */
    cdp_access_answer answer;
    size_t known = 0;
    while (known < gate->decided_count && gate->decided[known] != category)
        known++;
    if (known < gate->decided_count) {
        answer = gate->answers[known];
    } else {
        cdp_access_question question =
            cdp_access_question_for(gate->env, gate->actor, gate->purpose, gate->person, category);
        answer = cdp_policy_decide(gate->env->policy, &question);
        if (gate->decided_count < sizeof gate->decided / sizeof gate->decided[0]) {
            gate->decided[gate->decided_count] = category;
            gate->answers[gate->decided_count++] = answer;
        }
    }
    if (answer.kind != CDP_DECISION_ALLOW) {
        gate->withheld++;
        cdp_access_count(answer.reason, 0);
        return 0;
    }
    for (size_t i = 0; i < gate->released_count; i++)
        if (strcmp(gate->released[i], category) == 0)
            return 1;
    if (gate->released_count < CDP_AUDIT_MAX_CATEGORIES)
        gate->released[gate->released_count++] = category;
    return 1;
}

static cdp_status audit_release(item_gate *gate, const char *operation,
                                const cdp_access_answer *answer, cdp_err *err) {
    cdp_access_answer recorded = *answer;
    cdp_audit_decision decision = CDP_AUDIT_ALLOW;
    if (gate->withheld > 0) {
        decision = CDP_AUDIT_WITHHOLD;
        recorded.kind = CDP_DECISION_WITHHOLD;
        recorded.reason = "items_withheld";
    }
    return cdp_access_audit(gate->env, gate->person->region_index, gate->actor, operation,
                            gate->purpose, gate->person->person.profile_id, &recorded, decision,
                            gate->released, gate->released_count, err);
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

/* ---- profile ------------------------------------------------------------------------------ */

static json_t *computed_json(const cdp_profile_record *profile) {
    int64_t first_seen = 0, last_seen = 0, most_events = -1;
    const char *most_used = NULL;
    for (size_t i = 0; i < profile->channel_count; i++) {
        const cdp_channel_entry *channel = &profile->channels[i];
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
    return computed;
}

static json_t *channels_json(const cdp_profile_record *profile) {
    json_t *channels = json_object();
    for (size_t i = 0; i < profile->channel_count; i++) {
        const cdp_channel_entry *channel = &profile->channels[i];
        json_object_set_new(channels, channel->channel,
                            json_pack("{s:I, s:I, s:I}", "first_seen",
                                      (json_int_t)channel->first_seen, "last_seen",
                                      (json_int_t)channel->last_seen, "events",
                                      (json_int_t)channel->event_count));
    }
    return channels;
}

cdp_status cdp_access_profile(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *purpose, const char *ref, char **json, cdp_err *err) {
    cdp_access_person person;
    cdp_access_answer answer;
    memset(&person, 0, sizeof person);
    cdp_status status =
        open_decided(env, actor, purpose, ref, "profile.read", &person, &answer, err);
    if (status != CDP_OK) {
        cdp_access_person_clear(&person);
        return status;
    }
    const cdp_profile_record *profile = &person.profile;
    item_gate gate = {.env = env, .actor = actor, .purpose = purpose, .person = &person};
    unsigned char *shown = cdp_calloc(profile->trait_count + 1, 1);
    if (shown == NULL) {
        cdp_access_person_clear(&person);
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < profile->trait_count; i++)
        shown[i] = (unsigned char)gate_allows(
            &gate, cdp_policy_trait_category(env->policy, profile->traits[i].name));
    /* Channels and computed traits describe behaviour. */
    const char *behaviour = cdp_policy_event_category(env->policy, "track");
    int show_behaviour = gate_allows(&gate, behaviour);
    status = audit_release(&gate, "profile.read", &answer, err);
    if (status == CDP_OK) {
        json_t *traits = json_object(), *sources = json_object();
        for (size_t i = 0; i < profile->trait_count; i++) {
            if (!shown[i])
                continue;
            const cdp_trait_entry *trait = &profile->traits[i];
            json_t *value = json_loads(trait->value_json, JSON_DECODE_ANY, NULL);
            json_object_set_new(traits, trait->name, value ? value : json_null());
            json_object_set_new(
                sources, trait->name,
                json_pack("{s:s?, s:s?, s:I, s:s}", "source", trait->source, "channel",
                          trait->channel, "updated_at", (json_int_t)trait->updated_at,
                          "category", cdp_policy_trait_category(env->policy, trait->name)));
        }
        status = finish_json(
            json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:s, s:s?}", "profile_id",
                      profile->profile_id, "region", profile->region, "traits", traits,
                      "trait_sources", sources, "computed",
                      show_behaviour ? computed_json(profile) : json_object(), "channels",
                      show_behaviour ? channels_json(profile) : json_object(), "withheld",
                      (json_int_t)gate.withheld, "merged_profiles",
                      (json_int_t)profile->merged_from_count, "purpose", purpose,
                      "lawful_basis", answer.basis),
            json, err);
    }
    cdp_free(shown);
    cdp_access_person_clear(&person);
    return status;
}

/* ---- identities --------------------------------------------------------------------------- */

/* E-mail and phone are contact data; every other identifier is an identifier. */
static const char *identity_category(const cdp_policy *policy, const char *type) {
    if (strcmp(type, "email") == 0 || strcmp(type, "phone") == 0)
        return cdp_policy_trait_category(policy, type);
    return cdp_policy_category(policy, "identifiers") != NULL
               ? "identifiers"
               : cdp_policy_trait_category(policy, type);
}

cdp_status cdp_access_identities(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *purpose, const char *ref, char **json,
                                 cdp_err *err) {
    cdp_access_person person;
    cdp_access_answer answer;
    memset(&person, 0, sizeof person);
    cdp_status status =
        open_decided(env, actor, purpose, ref, "profile.identities", &person, &answer, err);
    if (status != CDP_OK) {
        cdp_access_person_clear(&person);
        return status;
    }
    item_gate gate = {.env = env, .actor = actor, .purpose = purpose, .person = &person};
    const cdp_profile_record *profile = &person.profile;
    json_t *list = json_array();
    for (size_t i = 0; i < profile->identity_count; i++) {
        const cdp_identity_entry *entry = &profile->identities[i];
        if (!gate_allows(&gate, identity_category(env->policy, entry->type)))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s?}", "type", entry->type,
                                              "value", entry->value, "added_at",
                                              (json_int_t)entry->added_at, "source",
                                              entry->source));
    }
    status = audit_release(&gate, "profile.identities", &answer, err);
    if (status == CDP_OK)
        status = finish_json(json_pack("{s:s, s:o, s:I}", "profile_id", profile->profile_id,
                                       "identities", json_incref(list), "withheld",
                                       (json_int_t)gate.withheld),
                             json, err);
    json_decref(list);
    cdp_access_person_clear(&person);
    return status;
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

/* Keeps the members of an object whose names' categories the purpose may see. */
static json_t *filtered_object(item_gate *gate, const char *text) {
    json_t *object = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(object)) {
        json_decref(object);
        return NULL;
    }
    const char *name;
    json_t *value;
    void *next;
    json_object_foreach_safe(object, next, name, value) {
        if (!gate_allows(gate, cdp_policy_trait_category(gate->env->policy, name)))
            json_object_del(object, name);
    }
    return object;
}

static json_t *event_json(item_gate *gate, const cdp_event_record *event) {
    json_t *properties = filtered_object(gate, event->properties_json);
    json_t *context = filtered_object(gate, event->context_json);
    json_t *traits = filtered_object(gate, event->traits_json);
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

typedef struct timeline {
    item_gate *gate;
    const uint8_t *cursor;
    size_t limit;
    int64_t now;
    timeline_item *items;
    size_t count;
    size_t expired;
} timeline;

/* Up to `limit` newest events of one member profile older than the cursor suffix, that the
 * purpose may see and whose retention has not run out. */
static cdp_status collect_member(cdp_vault *vault, const uint8_t member[CDP_PROFILE_ID_BYTES],
                                 timeline *line, cdp_err *err) {
    const cdp_policy *policy = line->gate->env->policy;
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
    status = cdp_region_iter_last(cdp_vault_region(vault), CDP_CF_EVENTS, member,
                                  CDP_PROFILE_ID_BYTES, &iter, err);
    size_t taken = 0;
    for (; status == CDP_OK && cdp_iter_valid(iter) && taken < line->limit; cdp_iter_prev(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        if (key_len != EVENT_KEY_BYTES)
            continue;
        if (line->cursor != NULL && memcmp(key + CDP_PROFILE_ID_BYTES, line->cursor,
                                           EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES) >= 0)
            continue;
        status = cdp_vault_open(vault, &person, CDP_CF_EVENTS, key, key_len, value, value_len,
                                &plain, err);
        cdp_event_record event = {0};
        if (status == CDP_OK)
            status = cdp_event_record_decode(plain.data, plain.len, &event, err);
        if (status == CDP_OK) {
            const char *category = cdp_policy_event_category(policy, event.type);
            int64_t keep = cdp_policy_retention_ms(policy, category);
            if (keep > 0 && event.timestamp < line->now - keep) {
                line->expired++; /* past retention: unreadable now, swept later */
            } else if (gate_allows(line->gate, category)) {
                timeline_item *item = &line->items[line->count++];
                memcpy(item->key, key, EVENT_KEY_BYTES);
                item->event = event_json(line->gate, &event);
                taken++;
            }
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

cdp_status cdp_access_events(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *purpose, const char *ref, size_t limit,
                             const char *cursor, char **json, cdp_err *err) {
    uint8_t cursor_bytes[EVENT_KEY_BYTES - CDP_PROFILE_ID_BYTES];
    if (limit > EVENTS_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "limit: at most %d", EVENTS_MAX);
    if (cursor != NULL && *cursor &&
        cdp_hex_decode(cursor_bytes, sizeof cursor_bytes, cursor, strlen(cursor)) != 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "cursor: not a cursor this API returned");
    if (limit == 0)
        limit = EVENTS_DEFAULT;
    cdp_access_person person;
    cdp_access_answer answer;
    memset(&person, 0, sizeof person);
    cdp_status status =
        open_decided(env, actor, purpose, ref, "profile.events", &person, &answer, err);
    if (status != CDP_OK) {
        cdp_access_person_clear(&person);
        return status;
    }
    item_gate gate = {.env = env, .actor = actor, .purpose = purpose, .person = &person};
    size_t members = 1 + person.profile.merged_from_count;
    timeline line = {.gate = &gate,
                     .cursor = cursor != NULL && *cursor ? cursor_bytes : NULL,
                     .limit = limit,
                     .now = now_ms(),
                     .items = cdp_calloc(members * limit, sizeof(timeline_item))};
    if (line.items == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    for (size_t m = 0; status == CDP_OK && m < members; m++) {
        uint8_t member[CDP_PROFILE_ID_BYTES];
        const char *hex = m == 0 ? person.profile.profile_id : person.profile.merged_from[m - 1];
        if (cdp_hex_decode(member, sizeof member, hex, strlen(hex)) != 0)
            continue;
        status = collect_member(person.vault, member, &line, err);
    }
    /* Decided before anything leaves: the audit record goes first. */
    if (status == CDP_OK)
        status = audit_release(&gate, "profile.events", &answer, err);
    if (status == CDP_OK) {
        for (size_t i = 1; i < line.count; i++)
            for (size_t j = i; j > 0 && item_newer(&line.items[j], &line.items[j - 1]); j--) {
                timeline_item swap = line.items[j];
                line.items[j] = line.items[j - 1];
                line.items[j - 1] = swap;
            }
        json_t *list = json_array();
        char next[2 * sizeof cursor_bytes + 1];
        size_t shown = line.count < limit ? line.count : limit;
        for (size_t i = 0; i < shown; i++)
            json_array_append(list, line.items[i].event);
        json_t *next_value = json_null();
        if (line.count > limit || (shown == limit && shown > 0)) {
            cdp_hex_encode(next, line.items[shown - 1].key + CDP_PROFILE_ID_BYTES,
                           sizeof cursor_bytes);
            next_value = json_string(next);
        }
        status = finish_json(json_pack("{s:s, s:o, s:o, s:I}", "profile_id",
                                       person.profile.profile_id, "events", list, "next",
                                       next_value, "withheld", (json_int_t)gate.withheld),
                             json, err);
    }
    for (size_t i = 0; i < line.count; i++)
        json_decref(line.items[i].event);
    cdp_free(line.items);
    cdp_access_person_clear(&person);
    return status;
}

/* ---- unmerge ------------------------------------------------------------------------------ */

cdp_status cdp_access_unmerge(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, const char *type, const char *value, char **json,
                              cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO && actor->role != CDP_ROLE_ADMIN)
        return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not unmerge profiles",
                           cdp_role_name(actor->role));
    if (type == NULL || *type == '\0' || value == NULL || *value == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "identity: type and value are required");
    cdp_access_person person;
    cdp_buf normalized = {0};
    cdp_status status = cdp_access_resolve(env, actor, ref, &person, err);
    if (status == CDP_OK) {
        const cdp_region_policy *home = cdp_policy_region(env->policy, person.profile.region);
        status = cdp_normalize_identifier(type, value, strlen(value),
                                          home ? home->default_country : NULL, &normalized, err);
        if (status != CDP_OK)
            cdp_err_prefix(err, "identity");
    }
    char split_id[33] = "";
    cdp_access_answer answer = {CDP_DECISION_ALLOW, CDP_OK, "allowed", "legal_obligation"};
    if (status == CDP_OK)
        status = cdp_access_audit(env, person.region_index, actor, "profile.unmerge", NULL,
                                  person.person.profile_id, &answer, CDP_AUDIT_ALLOW, NULL, 0,
                                  err);
    if (status == CDP_OK)
        status = cdp_identity_unmerge(env, person.region_index, &person.profile, &person.person,
                                      type, (const char *)normalized.data, split_id, err);
    if (status == CDP_OK)
        status = finish_json(json_pack("{s:s, s:s}", "profile_id", person.profile.profile_id,
                                       "split_profile_id", split_id),
                             json, err);
    cdp_buf_free(&normalized);
    cdp_access_person_clear(&person);
    return status;
}
