/* The access and portability export (GDPR Art. 15 and 20) through the one door: role, format
 * and person checked, the export audited (durably) before any data leaves, then written by
 * cdp/privacy/subject_export. */
#include <string.h>
#include <time.h>

#include "access/access_internal.h"
#include "privacy/subject_export.h"

static int64_t subject_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The allow decision, synced: it must be on disk before the first byte of personal data is. */
static cdp_status audit_export(const cdp_identity_env *env, const cdp_actor *actor,
                               const cdp_subject *subject, cdp_err *err) {
    static const char *const categories[] = {"profile", "identity", "events",
                                             "merges",  "consent",  "audit"};
    cdp_audit_entry entry = {
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = "subject.export",
        .lawful_basis = "legal_obligation", /* GDPR Art. 6(1)(c): answering Art. 15/20 */
        .profile_id = subject->person.profile_id,
        .categories = categories,
        .category_count = sizeof categories / sizeof categories[0],
        .decision = CDP_AUDIT_ALLOW,
        .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
    };
    return cdp_audit_write(env->audit_logs[subject->region_index], NULL, &entry, 1, 1, NULL, err);
}

cdp_status cdp_access_subject_export(const cdp_identity_env *env, const cdp_actor *actor,
                                     const char *ref, const char *format, FILE *out,
                                     cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO)
        return cdp_err_set(err, CDP_FORBIDDEN,
                           "role %s may not export a data subject (data-subject requests are for "
                           "the dpo role)",
                           cdp_role_name(actor->role));
    cdp_subject_format parsed;
    cdp_status status = cdp_subject_format_parse(format, &parsed, err);
    if (status != CDP_OK)
        return status;
    /* The person as every access finds them; their key and profile move into the subject. */
    cdp_subject subject = {0};
    cdp_access_person opened;
    status = cdp_access_resolve(env, actor, ref, &opened, err);
    if (status == CDP_OK) {
        subject.region_index = opened.region_index;
        subject.vault = opened.vault;
        subject.audit_log = env->audit_logs[opened.region_index];
        subject.person = opened.person;
        subject.profile = opened.profile;
        memset(&opened.person, 0, sizeof opened.person);
        memset(&opened.profile, 0, sizeof opened.profile);
    }
    cdp_access_person_clear(&opened);
    if (status == CDP_OK)
        status = audit_export(env, actor, &subject, err);
    if (status == CDP_OK)
        status = cdp_subject_export_write(&subject, parsed, subject_now_ms(), out, NULL, err);
    cdp_subject_clear(&subject);
    return status;
}
