/* Writes of personal data: one Segment message on its way to identity resolution. Data
 * minimisation happens here: a trait or property whose data category no purpose may lawfully
 * use for this person (their regime, their consent) is taken out of the message before
 * anything is stored, and the removal is reported to the caller and recorded in the stored
 * event. Non-sensitive data with a purpose that rests on a contract or a legitimate interest is
 * storable without a lookup; only sensitive items need the person's consent, so only messages
 * carrying them pay for reading it. */
#include <jansson.h>
#include <string.h>

#include "access/access_internal.h"
#include "util/alloc.h"

/* The regime of a message's person before resolution: their stated country (and state), else
 * the key's region. */
static const char *message_regime(const cdp_identity_env *env, const cdp_actor *actor,
                                  const cdp_segment_message *message) {
    const char *region = message->country != NULL
                             ? cdp_policy_region_for_country(env->policy, message->country)
                             : NULL;
    if (region == NULL)
        region = actor->region[0] ? actor->region : cdp_policy_default_region(env->policy);
    const char *state = NULL;
    json_t *address = json_object_get(message->traits, "address");
    if (json_is_object(address))
        state = json_string_value(json_object_get(address, "state"));
    char upper[8] = "";
    if (state != NULL && strlen(state) < sizeof upper) {
        size_t k = 0;
        for (; state[k]; k++)
            upper[k] = (char)(state[k] >= 'a' && state[k] <= 'z' ? state[k] - 32 : state[k]);
        upper[k] = '\0';
    }
    const char *regime = cdp_policy_regime_for_country(env->policy, region, message->country,
                                                       upper[0] ? upper : NULL);
    return regime != NULL ? regime : "unknown";
}

/* What storing needs to know about the person: looked up once, only when a sensitive item
 * asks for it. */
typedef struct write_context {
    const cdp_identity_env *env;
    const cdp_actor *actor;
    const cdp_segment_message *message;
    const char *regime;
    int looked_up;
    cdp_access_person person; /* consent[] and sensitive_limited used */
} write_context;

/* The person the message is about, if they exist: by the first identifier that finds one. */
static void look_up_person(write_context *context) {
    context->looked_up = 1;
    const cdp_segment_message *message = context->message;
    for (size_t i = 0; i < message->identifier_count; i++) {
        char ref[512];
        int n = snprintf(ref, sizeof ref, "%s:%s", message->identifiers[i].type,
                         message->identifiers[i].value);
        if (n <= 0 || (size_t)n >= sizeof ref)
            continue;
        cdp_err err = {0};
        cdp_access_person found;
        if (cdp_access_resolve(context->env, context->actor, ref, &found, &err) == CDP_OK) {
            context->person = found;
            return;
        }
        cdp_access_person_clear(&found);
    }
}

/* 1 if some purpose may store data of category for this person; else 0 and *reason. Purposes
 * resting on legal_obligation do not justify collecting sensitive data: only a consent does. */
static int may_store(write_context *context, const char *category, const char **reason) {
    const cdp_policy *policy = context->env->policy;
    const cdp_category_policy *known = cdp_policy_category(policy, category);
    int sensitive = known != NULL ? known->sensitive : 0;
    if (sensitive && !context->looked_up)
        look_up_person(context);
    size_t purposes = cdp_policy_purpose_count(policy);
    const char *last_reason = "category_not_in_purpose";
    for (size_t p = 0; p < purposes && p < CDP_ACCESS_PURPOSES_MAX; p++) {
        const cdp_purpose_policy *purpose = cdp_policy_purpose_at(policy, p);
        cdp_access_question question = {
            .role = cdp_role_name(context->actor->role),
            .purpose = purpose->id,
            .regime = context->regime,
            .category = category,
            .consent = context->looked_up ? context->person.consent[p] : CDP_CONSENT_STATE_NONE,
            .sensitive_limited = context->looked_up ? context->person.sensitive_limited : 0,
            .write = 1,
        };
        cdp_access_answer answer = cdp_policy_decide(policy, &question);
        if (answer.kind == CDP_DECISION_ALLOW &&
            !(sensitive && (answer.basis == NULL || strcmp(answer.basis, "consent") != 0)))
            return 1;
        if (answer.kind == CDP_DECISION_ALLOW)
            last_reason = "sensitive_needs_consent";
        else if (answer.reason != NULL && strcmp(answer.reason, "category_not_in_purpose") != 0)
            last_reason = answer.reason;
    }
    *reason = sensitive && strcmp(last_reason, "category_not_in_purpose") != 0 &&
                      strcmp(last_reason, "sensitive_limited") != 0
                  ? "sensitive_needs_consent"
                  : last_reason;
    return 0;
}

static void note_drop(json_t *dropped, json_t *local, const char *section, const char *name,
                      const char *category, const char *reason) {
    char field[300];
    snprintf(field, sizeof field, "%s.%s", section, name);
    json_t *entry = json_pack("{s:s, s:s, s:s}", "field", field, "category", category, "reason",
                              reason);
    if (dropped != NULL)
        json_array_append(dropped, entry);
    json_array_append_new(local, entry);
    cdp_access_count(reason, 0);
}

/* Removes the members of object whose data may not be stored. */
static void minimise_object(write_context *context, json_t *object, const char *section,
                            json_t *dropped, json_t *local) {
    if (!json_is_object(object))
        return;
    const char *name;
    json_t *value;
    void *next;
    json_object_foreach_safe(object, next, name, value) {
        const char *category = cdp_policy_trait_category(context->env->policy, name);
        const char *reason = NULL;
        if (!may_store(context, category, &reason)) {
            note_drop(dropped, local, section, name, category, reason);
            json_object_del(object, name);
        }
    }
}

cdp_status cdp_access_ingest(const cdp_identity_env *env, const cdp_actor *actor,
                             cdp_segment_message *message, int gpc, int64_t now_ms,
                             cdp_ingest_outcome *out, json_t *dropped, cdp_err *err) {
    write_context context = {.env = env, .actor = actor, .message = message};
    context.regime = message_regime(env, actor, message);
    json_t *local = json_array();
    if (local == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    /* traits may be context.traits on a track call: the same object either way. */
    minimise_object(&context, message->traits, "traits", dropped, local);
    minimise_object(&context, message->properties, "properties", dropped, local);
    if (json_array_size(local) > 0 && json_is_object(message->context)) {
        /* The stored event says what was dropped and why (never the dropped values). */
        json_t *cdp = json_object_get(message->context, "cdp");
        if (!json_is_object(cdp)) {
            cdp = json_object();
            json_object_set_new(message->context, "cdp", cdp);
        }
        json_object_set(cdp, "dropped", local);
    } else if (json_array_size(local) > 0 && json_is_object(message->root)) {
        json_object_set_new(message->root, "context", json_pack("{s:{s:O}}", "cdp", "dropped",
                                                                local));
        message->context = json_object_get(message->root, "context");
    }
    json_decref(local);
    cdp_access_person_clear(&context.person);
    return cdp_identity_ingest(env, actor, message, gpc, now_ms, out, err);
}

cdp_status cdp_access_sync_region(const cdp_identity_env *env, size_t region_index,
                                  cdp_err *err) {
    if (region_index >= env->region_count)
        return cdp_err_set(err, CDP_MISUSE, "region index out of range");
    return cdp_region_sync_wal(cdp_vault_region(env->vaults[region_index]), err);
}
