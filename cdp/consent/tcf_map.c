/* TEMPORARY: replace with cdp_policy_tcf_purposes, cdp_policy_purpose (and its sale_share) and
 * cdp_policy_regime_by_id(...)->honours_gpc when cdp/policy/privacy.c lands. Until then the
 * tables below stand in for policies/tcf.json, purposes.json and regimes.json; nothing else in
 * cdp/consent reads the policy, so swapping this file is the whole change. */
#include "consent/tcf_map.h"

#include <string.h>

/* TCF v2.2 purposes 1..11 -> our purpose (NULL: none). tcf.json will hold this map. */
static const char *const tcf_to_ours[12] = {
    NULL,              /* (no purpose 0) */
    NULL,              /* 1 store and/or access information on a device */
    "advertising",     /* 2 use limited data to select advertising */
    "advertising",     /* 3 create profiles for personalised advertising */
    "advertising",     /* 4 use profiles to select personalised advertising */
    "personalization", /* 5 create profiles to personalise content */
    "personalization", /* 6 use profiles to select personalised content */
    "advertising",     /* 7 measure advertising performance */
    "analytics",       /* 8 measure content performance */
    "analytics",       /* 9 understand audiences through statistics */
    "analytics",       /* 10 develop and improve services */
    "personalization", /* 11 use limited data to select content */
};

static const char *const known_purposes[] = {"personalization", "marketing", "analytics",
                                             "advertising", "sensitive_data"};
static const char *const sale_share[] = {"advertising"};
/* US state laws that require honouring a universal opt-out signal such as GPC. */
static const char *const gpc_regimes[] = {"ccpa",  "cpa",   "ctdpa",  "tdpsa",  "ocpa",
                                          "mtcdpa", "dpdpa", "nhpa",  "njdpa", "ndpa",
                                          "mncdpa", "modpa"};

int cdp_consent_purpose_known(const cdp_policy *policy, const char *purpose,
                              const char **canonical) {
    (void)policy;
    for (size_t i = 0; purpose != NULL && i < sizeof known_purposes / sizeof *known_purposes; i++)
        if (strcmp(known_purposes[i], purpose) == 0) {
            if (canonical != NULL)
                *canonical = known_purposes[i];
            return 1;
        }
    return 0;
}

const char *const *cdp_consent_sale_share_purposes(const cdp_policy *policy, size_t *count) {
    (void)policy;
    *count = sizeof sale_share / sizeof *sale_share;
    return sale_share;
}

int cdp_consent_regime_honours_gpc(const cdp_policy *policy, const char *regime) {
    (void)policy;
    for (size_t i = 0; regime != NULL && i < sizeof gpc_regimes / sizeof *gpc_regimes; i++)
        if (strcmp(gpc_regimes[i], regime) == 0)
            return 1;
    return 0;
}

/* The map lookup the lead swaps for cdp_policy_tcf_purposes(policy, tcf_purpose, count). */
static const char *const *tcf_purposes(const cdp_policy *policy, unsigned tcf_purpose,
                                       size_t *count) {
    (void)policy;
    *count = tcf_purpose < 12 && tcf_to_ours[tcf_purpose] != NULL;
    return *count ? &tcf_to_ours[tcf_purpose] : NULL;
}

/* ---- permanent: the TCF rule, not policy ----------------------------------------------------- */

/* TCF v2.2 allows legitimate interest for purposes 2 and 7-11 only (never 1; 3-6 need consent
 * since v2.2). Applied to every policy version: a v2.0 string's LI for 3-6 is not honoured,
 * which errs on the side of the person. */
static int tcf_allows_li(unsigned tcf_purpose) {
    return tcf_purpose == 2 || (tcf_purpose >= 7 && tcf_purpose <= 11);
}

void cdp_consent_map_tcf(const cdp_policy *policy, const cdp_tcf *tcf, cdp_consent_tcf_state *out,
                         size_t cap, size_t *count) {
    *count = 0;
    for (unsigned p = 1; p <= 11; p++) {
        size_t mapped = 0;
        const char *const *ours = tcf_purposes(policy, p, &mapped);
        int given = cdp_tcf_purpose_consent(tcf, p) ||
                    (tcf_allows_li(p) && cdp_tcf_purpose_legitimate_interest(tcf, p));
        for (size_t m = 0; m < mapped; m++) {
            size_t k = 0;
            while (k < *count && strcmp(out[k].purpose, ours[m]) != 0)
                k++;
            if (k == *count) {
                if (*count == cap)
                    continue;
                out[k].purpose = ours[m];
                out[k].state = CDP_CONSENT_STATE_GRANTED;
                (*count)++;
            }
            if (!given)
                out[k].state = CDP_CONSENT_STATE_DENIED;
        }
    }
}
