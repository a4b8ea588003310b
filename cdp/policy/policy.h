/* The policy bundle (policies/): regions here; purposes, categories, regimes, roles, transfers,
 * retention and TCF in policy/privacy.h (identity rules: identity/rules.h). Loading validates
 * everything and reports every error as "file: path: reason" (one per line in the message); a
 * bundle with any error is refused whole. A loaded bundle is immutable and safe to share across threads. */
#ifndef CDP_POLICY_POLICY_H
#define CDP_POLICY_POLICY_H

#include <stddef.h>

#include "util/err.h"

typedef struct cdp_policy cdp_policy;

/* A US state (or other subdivision) whose law differs from the region's default regime. */
typedef struct cdp_subdivision_regime {
    const char *code;   /* ISO 3166-2 suffix, e.g. "CA" */
    const char *regime; /* e.g. "ccpa" */
} cdp_subdivision_regime;

typedef struct cdp_region_policy {
    const char *id;              /* "eu", "us", "br", "in", "cn": [a-z]{2,8} */
    const char *name;            /* human name */
    const char *regime;          /* default regime id: "gdpr", "ccpa", "lgpd", "dpdp", "pipl", ... */
    const char *default_country; /* ISO alpha-2 used for national phone formats when unknown */
    int localised;               /* 1: data never leaves (PIPL); no transfer rule may name it */
    const char *const *countries; /* ISO 3166-1 alpha-2 codes */
    size_t country_count;
    const cdp_subdivision_regime *subdivisions;
    size_t subdivision_count;
} cdp_region_policy;

/* Loads dir/regions.json and the privacy files (categories.json, purposes.json, regimes.json,
 * transfers.json, retention.json, tcf.json, roles.json: policy/privacy.h); all are required.
 * Caller owns *out (free with cdp_policy_free). CDP_BAD_POLICY with every problem of every
 * file listed, e.g. "regions.json: regions[1].countries[3]: unknown ISO 3166-1 alpha-2 code
 * \"XQ\""; CDP_NOMEM as "FILE: out of memory". */
cdp_status cdp_policy_load(const char *dir, cdp_policy **out, cdp_err *err);

void cdp_policy_free(cdp_policy *policy); /* accepts NULL */

/* Borrowed until cdp_policy_free. */
size_t cdp_policy_region_count(const cdp_policy *policy);
const cdp_region_policy *cdp_policy_region_at(const cdp_policy *policy, size_t index);
const cdp_region_policy *cdp_policy_region(const cdp_policy *policy, const char *id); /* NULL */
const char *cdp_policy_default_region(const cdp_policy *policy);

/* The region of a country (alpha-2, either case): its listed region, else the default region
 * for a valid code not listed; NULL for a code that is not ISO 3166-1. */
const char *cdp_policy_region_for_country(const cdp_policy *policy, const char *country);

/* The regime for a person in region, with optional subdivision (state) code (may be NULL). */
const char *cdp_policy_regime(const cdp_policy *policy, const char *region,
                              const char *subdivision);

/* As cdp_policy_regime, knowing the person's country (alpha-2, either case; may be NULL): a
 * subdivision's regime first, then the country's own regime where the region lists one
 * ("country_regimes": GB is UK GDPR inside eu), else the region's. NULL for an unknown region. */
const char *cdp_policy_regime_for_country(const cdp_policy *policy, const char *region,
                                          const char *country, const char *subdivision);

/* 1 if code is an ISO 3166-1 alpha-2 code (upper case), from Debian's iso-codes. */
int cdp_iso3166_valid(const char *code);

#endif
