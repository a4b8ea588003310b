/* The person's current consent per purpose, for the decision: the deciding record of each
 * purpose across the profile and the profiles merged into it (cdp/consent). A denial of
 * "sensitive_data" is the CPRA limit on sensitive data. */
#include <string.h>

#include "access/access_internal.h"
#include "consent/consent.h"

cdp_status cdp_access_read_consent(const cdp_identity_env *env, cdp_access_person *person,
                                   cdp_err *err) {
    cdp_consent_view view = {0};
    cdp_status status = cdp_consent_current(person->vault, &person->person,
                                            (const char *const *)person->profile.merged_from,
                                            person->profile.merged_from_count, &view, err);
    if (status != CDP_OK)
        return status;
    size_t purposes = cdp_policy_purpose_count(env->policy);
    for (size_t i = 0; i < view.count; i++) {
        const cdp_consent_record *record = &view.current[i];
        if (strcmp(record->purpose, "sensitive_data") == 0) {
            person->sensitive_limited = record->state == CDP_CONSENT_STATE_DENIED ||
                                        record->state == CDP_CONSENT_STATE_WITHDRAWN;
            continue;
        }
        for (size_t p = 0; p < purposes && p < CDP_ACCESS_PURPOSES_MAX; p++)
            if (strcmp(cdp_policy_purpose_at(env->policy, p)->id, record->purpose) == 0)
                person->consent[p] = record->state;
    }
    cdp_consent_view_clear(&view);
    return CDP_OK;
}
