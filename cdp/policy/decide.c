/* Answers from the privacy half of a loaded bundle: lookups of purposes, categories, regimes,
 * roles, transfers, retention and TCF, and the one access decision every read and write asks.
 * Everything here is pure over the immutable bundle, so any thread may call it. */
#include <string.h>

#include "policy/privacy_internal.h"

static const char BASIS_CONSENT[] = "consent";
static const char BASIS_SAME_REGION[] = "same_region";
static const char LEGAL_OBLIGATION[] = "legal_obligation";
static const char ROLE_DPO[] = "dpo";
/* What an unknown or missing regime is taken to be: the strictest. */
static const cdp_regime_policy strictest_regime = {.id = "unknown",
                                                   .name =
                                                       "unknown regime (treated as the strictest)",
                                                   .model = CDP_MODEL_OPT_IN,
                                                   .honours_gpc = 1,
                                                   .sensitive_needs_consent = 1};

static int same(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* ---- consent states ----------------------------------------------------------------------- */

const char *cdp_consent_state_name(cdp_consent_state state) {
    switch (state) {
    case CDP_CONSENT_STATE_GRANTED:
        return "granted";
    case CDP_CONSENT_STATE_DENIED:
        return "denied";
    case CDP_CONSENT_STATE_WITHDRAWN:
        return "withdrawn";
    case CDP_CONSENT_STATE_NONE:
    default:
        return "none";
    }
}

int cdp_consent_state_parse(const char *name, cdp_consent_state *out) {
    cdp_consent_state state;
    if (same(name, "granted"))
        state = CDP_CONSENT_STATE_GRANTED;
    else if (same(name, "denied"))
        state = CDP_CONSENT_STATE_DENIED;
    else if (same(name, "withdrawn"))
        state = CDP_CONSENT_STATE_WITHDRAWN;
    else
        return -1;
    if (out != NULL)
        *out = state;
    return 0;
}

/* ---- lookups ------------------------------------------------------------------------------ */

size_t cdp_policy_purpose_count(const cdp_policy *policy) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL ? privacy->purpose_count : 0;
}

const cdp_purpose_policy *cdp_policy_purpose_at(const cdp_policy *policy, size_t index) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL && index < privacy->purpose_count ? &privacy->purposes[index] : NULL;
}

const cdp_purpose_policy *cdp_policy_purpose(const cdp_policy *policy, const char *id) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    for (size_t i = 0; privacy != NULL && id != NULL && i < privacy->purpose_count; i++)
        if (strcmp(privacy->purposes[i].id, id) == 0)
            return &privacy->purposes[i];
    return NULL;
}

size_t cdp_policy_category_count(const cdp_policy *policy) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL ? privacy->category_count : 0;
}

const cdp_category_policy *cdp_policy_category_at(const cdp_policy *policy, size_t index) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL && index < privacy->category_count ? &privacy->categories[index] : NULL;
}

const cdp_category_policy *cdp_policy_category(const cdp_policy *policy, const char *id) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    for (size_t i = 0; privacy != NULL && id != NULL && i < privacy->category_count; i++)
        if (strcmp(privacy->categories[i].id, id) == 0)
            return &privacy->categories[i];
    return NULL;
}

const char *cdp_policy_unmapped_category(const cdp_policy *policy) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    /* A loaded bundle always has one; "unclassified" keeps the promise of never NULL. */
    return privacy != NULL && privacy->unmapped != NULL ? privacy->unmapped : "unclassified";
}

const char *cdp_policy_trait_category(const cdp_policy *policy, const char *trait_name) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    if (privacy == NULL || trait_name == NULL)
        return cdp_policy_unmapped_category(policy);
    const privacy_trait *longest = NULL;
    size_t longest_len = 0;
    for (size_t i = 0; i < privacy->trait_count; i++) {
        const privacy_trait *trait = &privacy->traits[i];
        if (!trait->prefix) {
            if (strcmp(trait->name, trait_name) == 0)
                return trait->category; /* an exact name wins over every prefix */
            continue;
        }
        size_t len = strlen(trait->name); /* "address." */
        if (len > longest_len && strncmp(trait->name, trait_name, len) == 0 &&
            trait_name[len] != '\0') {
            longest = trait;
            longest_len = len;
        }
    }
    return longest != NULL ? longest->category : cdp_policy_unmapped_category(policy);
}

const char *cdp_policy_event_category(const cdp_policy *policy, const char *event_type) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    for (size_t i = 0; privacy != NULL && event_type != NULL && i < privacy->event_count; i++)
        if (strcmp(privacy->events[i].type, event_type) == 0)
            return privacy->events[i].category;
    return cdp_policy_unmapped_category(policy);
}

size_t cdp_policy_regime_count(const cdp_policy *policy) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL ? privacy->regime_count : 0;
}

const cdp_regime_policy *cdp_policy_regime_at(const cdp_policy *policy, size_t index) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    return privacy != NULL && index < privacy->regime_count ? &privacy->regimes[index] : NULL;
}

const cdp_regime_policy *cdp_policy_regime_by_id(const cdp_policy *policy, const char *id) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    for (size_t i = 0; privacy != NULL && id != NULL && i < privacy->regime_count; i++)
        if (strcmp(privacy->regimes[i].id, id) == 0)
            return &privacy->regimes[i];
    return NULL;
}

static int list_has(const privacy_list *list, const char *id) {
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i], id) == 0)
            return 1;
    return 0;
}

int cdp_policy_role_may_use(const cdp_policy *policy, const char *role, const char *purpose) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    if (privacy == NULL || role == NULL || purpose == NULL)
        return 0;
    for (size_t i = 0; i < privacy->role_count; i++)
        if (strcmp(privacy->roles[i].id, role) == 0)
            return list_has(&privacy->roles[i].purposes, purpose);
    return 0;
}

int cdp_policy_transfer_allowed(const cdp_policy *policy, const char *from, const char *to,
                                const char *purpose, const char **basis) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    if (basis != NULL)
        *basis = NULL;
    if (privacy == NULL || from == NULL || to == NULL || purpose == NULL)
        return 0;
    if (strcmp(from, to) == 0) {
        if (basis != NULL)
            *basis = BASIS_SAME_REGION;
        return 1;
    }
    /* The loader refuses rules out of a localised region; this guards a bundle built some
     * other way. */
    const cdp_region_policy *home = cdp_policy_region(policy, from);
    if (home != NULL && home->localised)
        return 0;
    for (size_t i = 0; i < privacy->rule_count; i++) {
        const privacy_rule *rule = &privacy->rules[i];
        if (strcmp(rule->from, from) == 0 && strcmp(rule->to, to) == 0 &&
            list_has(&rule->purposes, purpose)) {
            if (basis != NULL)
                *basis = rule->basis;
            return 1;
        }
    }
    return 0;
}

int64_t cdp_policy_retention_ms(const cdp_policy *policy, const char *category) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    for (size_t i = 0; privacy != NULL && category != NULL && i < privacy->retention_count; i++)
        if (strcmp(privacy->retention[i].category, category) == 0)
            return privacy->retention[i].ms;
    return 0;
}

const char *const *cdp_policy_tcf_purposes(const cdp_policy *policy, unsigned tcf_purpose,
                                           size_t *count) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    if (privacy == NULL || tcf_purpose < 1 || tcf_purpose > PRIVACY_TCF_PURPOSES) {
        if (count != NULL)
            *count = 0;
        return NULL;
    }
    if (count != NULL)
        *count = privacy->tcf_purposes[tcf_purpose].count;
    return privacy->tcf_purposes[tcf_purpose].items;
}

const char *const *cdp_policy_tcf_special_feature(const cdp_policy *policy, unsigned feature,
                                                  size_t *count) {
    const cdp_privacy *privacy = cdp_policy_privacy(policy);
    if (privacy == NULL || feature < 1 || feature > PRIVACY_TCF_FEATURES) {
        if (count != NULL)
            *count = 0;
        return NULL;
    }
    if (count != NULL)
        *count = privacy->tcf_features[feature].count;
    return privacy->tcf_features[feature].items;
}

/* ---- the decision ------------------------------------------------------------------------- */

static cdp_access_answer deny(int status, const char *reason) {
    return (cdp_access_answer){.kind = CDP_DECISION_DENY, .status = status, .reason = reason};
}

static cdp_access_answer withhold(const char *reason) {
    return (cdp_access_answer){.kind = CDP_DECISION_WITHHOLD, .status = CDP_OK, .reason = reason};
}

static cdp_access_answer allow(const char *basis) {
    return (cdp_access_answer){
        .kind = CDP_DECISION_ALLOW, .status = CDP_OK, .reason = "allowed", .basis = basis};
}

static cdp_access_answer refused_consent(cdp_consent_state consent) {
    if (consent == CDP_CONSENT_STATE_WITHDRAWN)
        return deny(CDP_CONSENT_DENIED, "consent_withdrawn");
    if (consent == CDP_CONSENT_STATE_DENIED)
        return deny(CDP_CONSENT_DENIED, "consent_denied");
    return deny(CDP_CONSENT_DENIED, "no_consent");
}

static const cdp_regime_policy *regime_or_strictest(const cdp_policy *policy, const char *id) {
    const cdp_regime_policy *regime = cdp_policy_regime_by_id(policy, id);
    return regime != NULL ? regime : &strictest_regime;
}

/* Rule 6: the lawful basis the purpose may rest on for this person now. A basis that needs no
 * consent and survives an objection (legal obligation, contract, vital interest) first; then
 * one an objection stops (legitimate interest, public task: Art. 21); then consent under the
 * regime's model. */
static cdp_access_answer lawful_basis(const cdp_purpose_policy *purpose,
                                      const cdp_regime_policy *regime, cdp_consent_state consent) {
    for (size_t i = 0; i < purpose->basis_count; i++)
        if (same(purpose->bases[i], "legal_obligation") || same(purpose->bases[i], "contract") ||
            same(purpose->bases[i], "vital_interest"))
            return allow(purpose->bases[i]);
    for (size_t i = 0; i < purpose->basis_count; i++)
        if (same(purpose->bases[i], "legitimate_interest") ||
            same(purpose->bases[i], "public_task")) {
            if (consent == CDP_CONSENT_STATE_DENIED || consent == CDP_CONSENT_STATE_WITHDRAWN)
                return refused_consent(consent);
            return allow(purpose->bases[i]);
        }
    if (consent == CDP_CONSENT_STATE_GRANTED)
        return allow(BASIS_CONSENT);
    if (consent == CDP_CONSENT_STATE_NONE && regime->model == CDP_MODEL_OPT_OUT)
        return allow(BASIS_CONSENT);
    return refused_consent(consent);
}

cdp_access_answer cdp_policy_decide(const cdp_policy *policy, const cdp_access_question *question) {
    if (question == NULL || question->purpose == NULL || question->purpose[0] == '\0')
        return deny(CDP_PURPOSE_REQUIRED, "purpose_required");
    const cdp_purpose_policy *purpose = cdp_policy_purpose(policy, question->purpose);
    if (purpose == NULL)
        return deny(CDP_FORBIDDEN, "unknown_purpose");
    int read = !question->write;
    if (read && !cdp_policy_role_may_use(policy, question->role, purpose->id))
        return deny(CDP_FORBIDDEN, "role_purpose");
    if (read && question->restricted && !same(purpose->id, LEGAL_OBLIGATION) &&
        !same(question->role, ROLE_DPO))
        return deny(CDP_RESTRICTED, "restricted");
    if (read && question->home_region != NULL && question->actor_region != NULL &&
        strcmp(question->home_region, question->actor_region) != 0 &&
        !cdp_policy_transfer_allowed(policy, question->home_region, question->actor_region,
                                     purpose->id, NULL)) {
        const cdp_region_policy *home = cdp_policy_region(policy, question->home_region);
        return deny(CDP_RESIDENCY_DENIED,
                    home != NULL && home->localised ? "localised" : "no_transfer_rule");
    }
    const cdp_regime_policy *regime = regime_or_strictest(policy, question->regime);
    cdp_access_answer answer = lawful_basis(purpose, regime, question->consent);
    if (answer.kind == CDP_DECISION_DENY || question->category == NULL)
        return answer;

    /* Item level: the category must be one the purpose may use at all, and a sensitive one
     * needs more than the purpose's own basis. */
    const char *category = question->category;
    const cdp_category_policy *known = cdp_policy_category(policy, category);
    if (known == NULL)
        known = cdp_policy_category(policy, cdp_policy_unmapped_category(policy));
    if (known == NULL)
        return withhold("category_not_in_purpose");
    int listed = 0;
    for (size_t i = 0; i < purpose->category_count && !listed; i++)
        listed = strcmp(purpose->categories[i], known->id) == 0;
    if (!listed)
        return withhold("category_not_in_purpose");
    if (!known->sensitive || same(answer.basis, LEGAL_OBLIGATION))
        return answer;
    if (regime->sensitive_needs_consent)
        return question->consent == CDP_CONSENT_STATE_GRANTED ? answer
                                                              : withhold("sensitive_needs_consent");
    return question->sensitive_limited ? withhold("sensitive_limited") : answer;
}

/* 1 if the purpose may use the category (an unknown one counting as the unmapped one); a
 * request-level question (category NULL) concerns every purpose. */
static int purpose_uses(const cdp_policy *policy, const cdp_purpose_policy *purpose,
                        const char *category) {
    if (category == NULL)
        return 1;
    if (cdp_policy_category(policy, category) == NULL)
        category = cdp_policy_unmapped_category(policy);
    for (size_t i = 0; i < purpose->category_count; i++)
        if (strcmp(purpose->categories[i], category) == 0)
            return 1;
    return 0;
}

int cdp_policy_may_store(const cdp_policy *policy, const char *regime, const char *category,
                         const cdp_consent_state *states_by_purpose_index, int sensitive_limited,
                         const char **reason) {
    const char *first_refusal = NULL;
    size_t count = cdp_policy_purpose_count(policy);
    for (size_t i = 0; i < count; i++) {
        cdp_access_question question = {
            .purpose = cdp_policy_purpose_at(policy, i)->id,
            .regime = regime,
            .category = category,
            .consent = states_by_purpose_index != NULL ? states_by_purpose_index[i]
                                                       : CDP_CONSENT_STATE_NONE,
            .sensitive_limited = sensitive_limited,
            .write = 1,
        };
        cdp_access_answer answer = cdp_policy_decide(policy, &question);
        /* A legal obligation keeps what is held; it is never a reason to collect. Counting it
         * here would store every item (it may use every category, needs no consent) and make
         * the consent check at ingest meaningless. */
        if (answer.kind == CDP_DECISION_ALLOW && same(answer.basis, LEGAL_OBLIGATION))
            continue;
        if (answer.kind == CDP_DECISION_ALLOW) {
            if (reason != NULL)
                *reason = "allowed";
            return 1;
        }
        /* The most telling refusal: one from a purpose that may use the category at all. */
        if (first_refusal == NULL && answer.kind != CDP_DECISION_ALLOW &&
            purpose_uses(policy, cdp_policy_purpose_at(policy, i), category))
            first_refusal = answer.reason;
    }
    if (reason != NULL)
        *reason = first_refusal != NULL ? first_refusal : "category_not_in_purpose";
    return 0;
}
