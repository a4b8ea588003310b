/* The decisions of cdp/access into the audit log, and their counts for /metrics. */
#include <stdatomic.h>
#include <string.h>

#include "access/access_internal.h"

cdp_status cdp_access_audit(const cdp_identity_env *env, size_t region_index,
                            const cdp_actor *actor, const char *operation, const char *purpose,
                            const uint8_t *profile_id, const cdp_access_answer *answer,
                            cdp_audit_decision decision, const char *const *categories,
                            size_t category_count, cdp_err *err) {
    if (env->audit_disabled)
        return CDP_OK; /* benchmark only: see cdp_handle_bench_disable_audit */
    if (category_count > CDP_AUDIT_MAX_CATEGORIES)
        category_count = CDP_AUDIT_MAX_CATEGORIES;
    const char *reason = answer != NULL && answer->kind != CDP_DECISION_ALLOW ? answer->reason
                                                                                : NULL;
    cdp_audit_entry entry = {
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = operation,
        .purpose = purpose != NULL && cdp_audit_token_ok(purpose) ? purpose : NULL,
        .lawful_basis = answer != NULL && answer->basis != NULL &&
                                cdp_audit_token_ok(answer->basis)
                            ? answer->basis
                            : NULL,
        .profile_id = profile_id,
        .categories = categories,
        .category_count = category_count,
        .decision = decision,
        .reason = reason != NULL && cdp_audit_token_ok(reason) ? reason : NULL,
        .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
    };
    /* Reads and refusals reach the WAL now and the disk at the next sync (every ingest request,
     * consent write and checkpoint syncs): syncing each refusal would let any caller force an
     * fsync per request. */
    return cdp_audit_write(env->audit_logs[region_index], NULL, &entry, 1, 0, NULL, err);
}

/* ---- counts by reason --------------------------------------------------------------------- */

static const char *const counted_reasons[] = {
    "purpose_required",        "unknown_purpose",   "role_purpose",     "key_purpose",
    "no_consent",              "consent_denied",    "consent_withdrawn", "gpc_opt_out",
    "category_not_in_purpose", "sensitive_needs_consent", "sensitive_limited", "restricted",
    "no_transfer_rule",        "localised",         "expired",          "other",
};
#define REASONS (sizeof counted_reasons / sizeof counted_reasons[0])
static _Atomic unsigned long long denied_counts[REASONS], withheld_counts[REASONS];

void cdp_access_count(const char *reason, int denied) {
    size_t i = 0;
    while (i + 1 < REASONS && (reason == NULL || strcmp(counted_reasons[i], reason) != 0))
        i++;
    atomic_fetch_add(denied ? &denied_counts[i] : &withheld_counts[i], 1);
}

size_t cdp_access_counter_count(void) { return REASONS; }

void cdp_access_counter_at(size_t index, const char **reason, unsigned long long *denied,
                           unsigned long long *withheld) {
    *reason = counted_reasons[index];
    *denied = atomic_load(&denied_counts[index]);
    *withheld = atomic_load(&withheld_counts[index]);
}
