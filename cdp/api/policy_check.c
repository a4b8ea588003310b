/* cdp_policy_check: validates a policy bundle (policies/) on its own, without a data directory,
 * so `cdpctl policy check` can vet a change before `init` or a deployment. It runs the same
 * loaders cdp_open runs, and reports the problems of all of them at once. */
#include <stdio.h>
#include <string.h>

#include "cdp/cdp.h"
#include "identity/rules.h"
#include "policy/audit_policy.h"
#include "policy/policy.h"
#include "policy/privacy.h"
#include "util/alloc.h"

/* Appends one loader's message (already "file: path: reason" lines) to text. */
static int append(char *text, size_t size, size_t *len, const char *message) {
    int written = snprintf(text + *len, size - *len, "%s%s", *len > 0 ? "\n" : "", message);
    if (written < 0 || (size_t)written >= size - *len)
        return -1;
    *len += (size_t)written;
    return 0;
}

cdp_status cdp_policy_check(const char *dir, char **report) {
    if (report == NULL)
        return CDP_MISUSE;
    *report = NULL;
    if (dir == NULL || *dir == '\0')
        return CDP_MISUSE;

    cdp_policy *policy = NULL;
    cdp_identity_rules *rules = NULL;
    cdp_audit_policy audit_policy;
    cdp_err policy_err = {0}, rules_err = {0}, audit_err = {0};
    cdp_status policy_status = cdp_policy_load(dir, &policy, &policy_err);
    cdp_status rules_status = cdp_identity_rules_load(dir, &rules, &rules_err);
    cdp_status audit_status = cdp_audit_policy_load(dir, &audit_policy, &audit_err);
    cdp_status status = CDP_OK;
    /* Three loader messages of at most CDP_ERR_MESSAGE_MAX each, or the summary line. */
    char text[3 * CDP_ERR_MESSAGE_MAX + 8];
    size_t len = 0;
    text[0] = '\0';

    const cdp_status statuses[3] = {policy_status, rules_status, audit_status};
    const cdp_err *errs[3] = {&policy_err, &rules_err, &audit_err};
    for (size_t i = 0; i < 3; i++) {
        if (statuses[i] == CDP_OK)
            continue;
        /* Out of memory (or a misuse) outranks a bad bundle: the answer would be incomplete. */
        if (status == CDP_OK || status == CDP_BAD_POLICY)
            status = statuses[i];
        append(text, sizeof text, &len, errs[i]->message);
    }
    if (status == CDP_OK)
        snprintf(text, sizeof text,
                 "%zu regions, %zu purposes, %zu categories, %zu regimes; identity rules and "
                 "audit policy valid",
                 cdp_policy_region_count(policy), cdp_policy_purpose_count(policy),
                 cdp_policy_category_count(policy), cdp_policy_regime_count(policy));
    *report = cdp_strdup(text);
    if (*report == NULL)
        status = CDP_NOMEM;
    cdp_identity_rules_free(rules);
    cdp_policy_free(policy);
    return status;
}
