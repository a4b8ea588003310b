/* What consent needs from the privacy policy: our purposes a TC string grants or denies, whether
 * a purpose is known and whether it is a sale/share purpose (GPC opts out of it), and whether a
 * regime honours GPC. Every read of the policy by cdp/consent goes through these functions, so
 * the implementation (tcf_map.c) is the one place that changes when cdp/policy/privacy.c (with
 * policies/purposes.json, regimes.json and tcf.json) lands. Thread-safe, pure. */
#ifndef CDP_CONSENT_TCF_MAP_H
#define CDP_CONSENT_TCF_MAP_H

#include <stddef.h>

#include "consent/tcf.h"
#include "policy/policy.h"
#include "policy/privacy.h"

#define CDP_CONSENT_TCF_MAPPED_MAX 16

/* One of our purposes as a TC string decides it. purpose: static or borrowed from policy. */
typedef struct cdp_consent_tcf_state {
    const char *purpose;
    cdp_consent_state state; /* GRANTED or DENIED */
} cdp_consent_tcf_state;

/* Our purposes the TC string speaks for, each GRANTED when every TCF purpose mapped to it has
 * consent, or legitimate interest where TCF v2.2 allows it for that purpose (2, 7, 8, 9, 10,
 * 11), else DENIED. TCF purposes mapped to nothing (1: storage and access) decide nothing.
 * Writes at most cap entries into out, in a stable order; *count gets how many. */
void cdp_consent_map_tcf(const cdp_policy *policy, const cdp_tcf *tcf, cdp_consent_tcf_state *out,
                         size_t cap, size_t *count);

/* 1 if purpose is one of the policy's purposes; the static id string through *canonical (may be
 * NULL). */
int cdp_consent_purpose_known(const cdp_policy *policy, const char *purpose,
                              const char **canonical);
/* The purposes a sale/share opt-out (GPC) covers, in a stable order; *count. Borrowed. */
const char *const *cdp_consent_sale_share_purposes(const cdp_policy *policy, size_t *count);
/* 1 if the regime (an id from cdp_policy_regime_for_country) treats GPC as an opt-out. */
int cdp_consent_regime_honours_gpc(const cdp_policy *policy, const char *regime);

#endif
