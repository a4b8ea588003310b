/* Inside the policy module: the loaded privacy half of the bundle (privacy.c loads it, decide.c
 * answers from it, policy.c owns it inside cdp_policy). Not for other modules: they use
 * policy/privacy.h. */
#ifndef CDP_POLICY_PRIVACY_INTERNAL_H
#define CDP_POLICY_PRIVACY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "policy/privacy.h"

/* A text in double quotes, escaped (\\x.. for controls and non-ASCII) and shortened, so a
 * hostile key cannot forge lines of a policy report. Shared by policy.c and privacy.c. */
#define CDP_POLICY_QUOTED_MAX 96
const char *cdp_policy_quoted(char out[CDP_POLICY_QUOTED_MAX], const char *text);

/* 1 if key is one of known; else 0 and *nearest the known key within two edits (Levenshtein),
 * or NULL, for a "did you mean" hint. Shared by policy.c and privacy.c. */
int cdp_policy_key_known(const char *key, const char *const *known, size_t known_count,
                         const char **nearest);

#define PRIVACY_TCF_PURPOSES 11
#define PRIVACY_TCF_FEATURES 2

typedef struct privacy_trait {
    const char *name;     /* exact name, or the prefix with its dot ("address.") */
    const char *category; /* a category id */
    int prefix;           /* 1: the entry was "prefix.*" */
} privacy_trait;

typedef struct privacy_event {
    const char *type;
    const char *category;
} privacy_event;

typedef struct privacy_list {
    const char *const *items;
    size_t count;
} privacy_list;

typedef struct privacy_rule {
    const char *from;
    const char *to;
    const char *basis;
    privacy_list purposes;
} privacy_rule;

typedef struct privacy_retention {
    const char *category;
    int64_t ms;
} privacy_retention;

typedef struct privacy_role {
    const char *id;
    privacy_list purposes;
} privacy_role;

typedef struct privacy_block privacy_block;

typedef struct cdp_privacy {
    privacy_block *arena;
    cdp_category_policy *categories;
    size_t category_count;
    const char *unmapped;  /* the id of the unmapped category */
    privacy_trait *traits; /* built-in then tenant entries */
    size_t trait_count;
    privacy_event *events;
    size_t event_count;
    cdp_purpose_policy *purposes;
    size_t purpose_count;
    cdp_regime_policy *regimes;
    size_t regime_count;
    privacy_rule *rules;
    size_t rule_count;
    privacy_retention *retention;
    size_t retention_count;
    privacy_list tcf_purposes[PRIVACY_TCF_PURPOSES + 1]; /* index 1..11 */
    privacy_list tcf_features[PRIVACY_TCF_FEATURES + 1]; /* index 1..2 */
    privacy_role *roles;
    size_t role_count;
} cdp_privacy;

/* Where the loader sends each problem: file ("purposes.json"), path ("purposes[3].bases[0]",
 * NULL for the whole file) and reason; policy.c formats and collects them. */
typedef struct cdp_policy_reporter {
    void (*add)(void *context, const char *file, const char *path, const char *reason);
    void *context;
} cdp_policy_reporter;

/* Loads and validates the privacy files of dir, reporting every problem. regions is the
 * loaded regions half, or NULL when regions.json was refused (then checks against regions and
 * their regime ids are skipped: regions.json's own errors are reported already). *out is the
 * result even when problems were reported (the caller refuses the bundle; caller owns, free
 * with cdp_privacy_free). CDP_NOMEM with *nomem_file naming the file being read. */
cdp_status cdp_privacy_load(const char *dir, const cdp_policy *regions,
                            const cdp_policy_reporter *reporter, cdp_privacy **out,
                            const char **nomem_file);

void cdp_privacy_free(cdp_privacy *privacy); /* accepts NULL */

/* The privacy half of a loaded bundle (policy.c); NULL for NULL. Borrowed. */
const cdp_privacy *cdp_policy_privacy(const cdp_policy *policy);

#endif
