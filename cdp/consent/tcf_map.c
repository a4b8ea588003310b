/* What consent needs from the privacy policy (policies/purposes.json, regimes.json, tcf.json):
 * our purposes, which of them are a sale or share (GPC opts out of those), which regimes honour
 * GPC, and the TCF purpose map. "sensitive_data" is accepted besides the policy's purposes: a
 * denial of it is the CPRA "limit the use of my sensitive personal information" choice. */
#include "consent/tcf_map.h"

#include <string.h>

static const char sensitive_data[] = "sensitive_data";

int cdp_consent_purpose_known(const cdp_policy *policy, const char *purpose,
                              const char **canonical) {
    if (purpose == NULL)
        return 0;
    const cdp_purpose_policy *known = cdp_policy_purpose(policy, purpose);
    const char *id = known != NULL ? known->id
                     : strcmp(purpose, sensitive_data) == 0 ? sensitive_data
                                                             : NULL;
    if (id != NULL && canonical != NULL)
        *canonical = id;
    return id != NULL;
}

/* Valid until the calling thread's next call (the policy's purposes flagged sale_share). */
const char *const *cdp_consent_sale_share_purposes(const cdp_policy *policy, size_t *count) {
    static _Thread_local const char *ids[CDP_CONSENT_TCF_MAPPED_MAX];
    size_t found = 0;
    for (size_t i = 0; i < cdp_policy_purpose_count(policy) && found < CDP_CONSENT_TCF_MAPPED_MAX;
         i++) {
        const cdp_purpose_policy *purpose = cdp_policy_purpose_at(policy, i);
        if (purpose->sale_share)
            ids[found++] = purpose->id;
    }
    *count = found;
    return ids;
}

int cdp_consent_regime_honours_gpc(const cdp_policy *policy, const char *regime) {
    const cdp_regime_policy *known =
        regime != NULL ? cdp_policy_regime_by_id(policy, regime) : NULL;
    return known != NULL && known->honours_gpc;
}

static const char *const *tcf_purposes(const cdp_policy *policy, unsigned tcf_purpose,
                                       size_t *count) {
    return cdp_policy_tcf_purposes(policy, tcf_purpose, count);
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
