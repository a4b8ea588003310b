/* Opening a person for an access decision: the reference resolved to their profile (by blind
 * index in every region, or by profile id), and what the decision needs about them: their
 * regime (from their home region and the country and state of their address), their current
 * consent per purpose (of the profile and every profile merged into it) and restriction. */
#include <jansson.h>
#include <string.h>

#include "access/access.h"
#include "access/access_internal.h"
#include "consent/consent.h"
#include "identity/normalize.h"
#include "util/alloc.h"

void cdp_access_person_clear(cdp_access_person *person) {
    if (person == NULL)
        return;
    cdp_person_wipe(&person->person);
    cdp_profile_record_clear(&person->profile);
    memset(person, 0, sizeof *person);
}

const char *cdp_access_regime_of(const cdp_policy *policy, const cdp_profile_record *profile) {
    /* An unknown regime is decided as the strictest (opt-in, sensitive needs consent). */
    const char *regime = cdp_consent_regime_of(policy, profile);
    return regime != NULL ? regime : "unknown";
}

static cdp_status load_profile(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                               cdp_access_person *out, cdp_err *err) {
    cdp_buf plain = {0};
    cdp_status status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_PROFILES, profile_id,
                                                    CDP_PROFILE_ID_BYTES, &out->person, &plain,
                                                    err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain.data, plain.len, &out->profile, err);
    cdp_buf_free_secret(&plain);
    return status;
}

cdp_status cdp_access_load_decision_state(const cdp_identity_env *env, cdp_access_person *out,
                                          cdp_err *err) {
    out->regime = cdp_access_regime_of(env->policy, &out->profile);
    size_t purposes = cdp_policy_purpose_count(env->policy);
    if (purposes > CDP_ACCESS_PURPOSES_MAX)
        purposes = CDP_ACCESS_PURPOSES_MAX; /* the loader refuses more */
    for (size_t p = 0; p < purposes; p++)
        out->consent[p] = CDP_CONSENT_STATE_NONE;
    out->sensitive_limited = 0;
    if (env->enforcement_disabled)
        return CDP_OK; /* benchmark only */
    return cdp_access_read_consent(env, out, err);
}

cdp_status cdp_access_resolve(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, cdp_access_person *out, cdp_err *err) {
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    memset(out, 0, sizeof *out);
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
            status = load_profile(env->vaults[r], profile_id, out, err);
            if (status == CDP_OK)
                out->region_index = r;
        }
        if (status == CDP_NOT_FOUND)
            return cdp_err_set(err, CDP_NOT_FOUND, "ref: no profile with this id");
    } else {
        cdp_buf normalized = {0};
        const cdp_region_policy *home = cdp_policy_region(env->policy, actor->region);
        status = cdp_normalize_identifier(type, value, strlen(value),
                                          home ? home->default_country : NULL, &normalized, err);
        if (status != CDP_OK)
            cdp_err_prefix(err, "ref");
        if (status == CDP_OK)
            status = cdp_identity_lookup(env, type, (const char *)normalized.data,
                                         &out->region_index, profile_id, err);
        cdp_buf_free(&normalized);
        if (status == CDP_NOT_FOUND)
            return cdp_err_set(err, CDP_NOT_FOUND, "ref: no profile holds this %s", type);
        if (status == CDP_OK)
            status = load_profile(env->vaults[out->region_index], profile_id, out, err);
    }
    out->vault = env->vaults[out->region_index];
    if (status == CDP_OK)
        status = cdp_access_load_decision_state(env, out, err);
    return status;
}

cdp_access_question cdp_access_question_for(const cdp_identity_env *env, const cdp_actor *actor,
                                            const char *purpose, const cdp_access_person *person,
                                            const char *category) {
    cdp_access_question question = {
        .role = cdp_role_name(actor->role),
        .purpose = purpose,
        .regime = person->regime,
        .category = category,
        .consent = CDP_CONSENT_STATE_NONE,
        .restricted = person->profile.restricted,
        .sensitive_limited = person->sensitive_limited,
        .home_region = person->profile.region,
        .actor_region = actor->region[0] ? actor->region : NULL,
        .write = 0,
    };
    size_t purposes = cdp_policy_purpose_count(env->policy);
    for (size_t p = 0; purpose != NULL && p < purposes && p < CDP_ACCESS_PURPOSES_MAX; p++)
        if (strcmp(cdp_policy_purpose_at(env->policy, p)->id, purpose) == 0)
            question.consent = person->consent[p];
    return question;
}
