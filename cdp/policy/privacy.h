/* The privacy half of the policy bundle: purposes, data categories, regimes, role purposes,
 * transfers, retention and the IAB TCF purpose map (policies/purposes.json, categories.json,
 * regimes.json, transfers.json, retention.json, tcf.json; roles.json gains "purposes"), and the
 * one pure decision every read and write of personal data asks: may this caller, for this
 * purpose, see or store this item of this person now?
 *
 * Loaded and validated by cdp_policy_load with the rest of the bundle (errors "file: path:
 * reason"); borrowed from the loaded cdp_policy, immutable, thread-safe. The decision function
 * takes everything it needs as arguments (the caller reads consent and restriction from the
 * store), so it is pure and the decision-table test can drive every cell. */
#ifndef CDP_POLICY_PRIVACY_H
#define CDP_POLICY_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* ---- consent as the decision sees it ------------------------------------------------------ */

typedef enum cdp_consent_state {
    CDP_CONSENT_STATE_NONE = 0,  /* nothing recorded for the purpose */
    CDP_CONSENT_STATE_GRANTED,   /* opted in */
    CDP_CONSENT_STATE_DENIED, /* refused or opted out (a GPC signal is a denial of sale/share) */
    CDP_CONSENT_STATE_WITHDRAWN, /* granted before, taken back (also: an Art. 21 objection) */
} cdp_consent_state;

/* "granted", "denied", "withdrawn" ("none" for NONE); parse returns -1 for anything else
 * (NONE is never parsed: it is the absence of a record). */
const char *cdp_consent_state_name(cdp_consent_state state);
int cdp_consent_state_parse(const char *name, cdp_consent_state *out);

/* ---- purposes ------------------------------------------------------------------------------ */

typedef struct cdp_purpose_policy {
    const char *id;          /* "personalization", "marketing", "analytics", "advertising", ... */
    const char *description;
    const char *const *bases; /* lawful bases it may rest on: "consent", "contract",
                                 "legitimate_interest", "legal_obligation", "vital_interest" */
    size_t basis_count;
    int sale_share;           /* 1: selling/sharing under CCPA/CPRA (advertising): GPC opts out */
    const char *const *categories; /* data categories this purpose may use at all */
    size_t category_count;
} cdp_purpose_policy;

size_t cdp_policy_purpose_count(const cdp_policy *policy);
const cdp_purpose_policy *cdp_policy_purpose_at(const cdp_policy *policy, size_t index);
const cdp_purpose_policy *cdp_policy_purpose(const cdp_policy *policy, const char *id); /* NULL */

/* ---- data categories ----------------------------------------------------------------------- */

typedef struct cdp_category_policy {
    const char *id;   /* "contact", "identifiers", "demographic", "financial", "location",
                         "behavioural", "health", "ethnicity", "religion", "biometrics",
                         "precise_geolocation", ... */
    int sensitive;    /* special category (GDPR Art. 9) / sensitive personal information (CPRA) */
} cdp_category_policy;

size_t cdp_policy_category_count(const cdp_policy *policy);
const cdp_category_policy *cdp_policy_category_at(const cdp_policy *policy, size_t index);
const cdp_category_policy *cdp_policy_category(const cdp_policy *policy, const char *id);

/* The category of a trait ("email", "address.city", "first_name", ...) or event property, from
 * the map in categories.json (exact names, then "prefix.*" entries). An unmapped name gets the
 * bundle's "unmapped" category: the strictest non-sensitive one, never free. Never NULL. */
const char *cdp_policy_trait_category(const cdp_policy *policy, const char *trait_name);
/* The category of a whole event by its kind (track, page, screen, ... are behavioural). */
const char *cdp_policy_event_category(const cdp_policy *policy, const char *event_type);

/* ---- regimes ------------------------------------------------------------------------------- */

typedef enum cdp_consent_model {
    CDP_MODEL_OPT_IN = 1, /* consent purposes need a recorded grant (GDPR, LGPD, DPDP, PIPL) */
    CDP_MODEL_OPT_OUT,    /* allowed unless denied/withdrawn (CCPA/CPRA and other US states) */
} cdp_consent_model;

typedef struct cdp_regime_policy {
    const char *id;            /* "gdpr", "uk_gdpr", "ccpa", "lgpd", "dpdp", "pipl", ... */
    const char *name;
    cdp_consent_model model;
    int honours_gpc;           /* a GPC signal is an opt-out of sale/share */
    /* Sensitive categories: 1 = only with a granted consent for the purpose (GDPR Art. 9
     * explicit consent; PIPL separate consent); 0 = allowed unless the person limited it
     * (CPRA "limit the use of my sensitive personal information": question.sensitive_limited). */
    int sensitive_needs_consent;
} cdp_regime_policy;

size_t cdp_policy_regime_count(const cdp_policy *policy);
const cdp_regime_policy *cdp_policy_regime_at(const cdp_policy *policy, size_t index);
const cdp_regime_policy *cdp_policy_regime_by_id(const cdp_policy *policy, const char *id);

/* ---- roles --------------------------------------------------------------------------------- */

/* 1 if an API key of this role ("personalization", "dpo", ...) may state the purpose. */
int cdp_policy_role_may_use(const cdp_policy *policy, const char *role, const char *purpose);

/* ---- transfers ----------------------------------------------------------------------------- */

/* 1 if a transfer rule lets data of a person homed in `from` be read by a caller in `to` for
 * purpose; *basis (may be NULL) receives the rule's basis ("adequacy", "scc", ...). A region is
 * never a transfer to itself (1, basis "same_region"). A localised region (cn) never leaves. */
int cdp_policy_transfer_allowed(const cdp_policy *policy, const char *from, const char *to,
                                const char *purpose, const char **basis);

/* ---- retention ----------------------------------------------------------------------------- */

/* How long data of a category is kept, in milliseconds (behavioural events: 13 months, ...);
 * 0 = no limit. */
int64_t cdp_policy_retention_ms(const cdp_policy *policy, const char *category);

/* ---- IAB TCF v2.2 map ---------------------------------------------------------------------- */

/* Our purposes a TCF purpose (1..11) grants when consented (tcf.json). Borrowed; *count 0 for
 * a purpose mapped to nothing or out of range. */
const char *const *cdp_policy_tcf_purposes(const cdp_policy *policy, unsigned tcf_purpose,
                                           size_t *count);

/* ---- the decision -------------------------------------------------------------------------- */

typedef enum cdp_decision_kind {
    CDP_DECISION_ALLOW = 0,
    CDP_DECISION_WITHHOLD, /* this item is left out (and counted); the rest of the read goes on */
    CDP_DECISION_DENY,     /* the whole request is refused */
} cdp_decision_kind;

/* What one access asks. Strings are borrowed for the call. */
typedef struct cdp_access_question {
    const char *role;      /* "personalization", "dpo", "ingest", ... */
    const char *purpose;   /* stated purpose; NULL/"" is denied (purpose_required) */
    const char *regime;    /* the person's regime (cdp_policy_regime_for_country) */
    const char *category;  /* the item's data category; NULL: the request as a whole */
    cdp_consent_state consent; /* the person's current state for this purpose */
    int restricted;            /* the person is restricted (GDPR Art. 18) */
    int sensitive_limited;     /* the person limited the use of their sensitive data (CPRA; the
                                  consent state of the purpose "sensitive_data" is denied) */
    const char *home_region;   /* where the person lives */
    const char *actor_region;  /* where the caller's key is bound */
    int write;                 /* 1: storing (ingest), 0: reading */
} cdp_access_question;

typedef struct cdp_access_answer {
    cdp_decision_kind kind;
    /* For DENY: CDP_FORBIDDEN (role may not use the purpose, unknown purpose),
     * CDP_PURPOSE_REQUIRED, CDP_CONSENT_DENIED, CDP_RESTRICTED, CDP_RESIDENCY_DENIED.
     * CDP_OK otherwise. */
    int status;
    /* A stable token for the audit log and the "dropped"/"withheld" reports: "allowed",
     * "role_purpose", "unknown_purpose", "purpose_required", "no_consent", "consent_denied",
     * "consent_withdrawn", "gpc_opt_out", "category_not_in_purpose", "sensitive_needs_consent",
     * "restricted", "no_transfer_rule", "localised". Static. */
    const char *reason;
    const char *basis; /* the lawful basis the allowance rests on ("consent", ...); static or
                          borrowed from the policy; NULL when not allowed */
} cdp_access_answer;

/* Decides one question. Request level (category NULL): role × purpose, restriction, residency
 * and consent for the purpose. Item level (category set): the same, then category rules; an
 * item refusal is WITHHOLD, never DENY. Pure: same question, same answer. */
cdp_access_answer cdp_policy_decide(const cdp_policy *policy, const cdp_access_question *question);

#endif
