/* Restriction of processing (GDPR Art. 18): the person's data is kept but served for no purpose
 * except legal_obligation and the DPO's own access (the decision in cdp/policy reads the flag
 * from the profile). Setting or lifting it rewrites the profile under the region's write lock,
 * re-read there so a concurrent ingest is not lost, with its audit record in the same batch. */
#include <string.h>

#include "privacy/restrict.h"
#include "store/records.h"
#include "util/alloc.h"

cdp_status cdp_privacy_set_restricted(const cdp_identity_env *env, size_t region_index,
                                      const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                      int restricted, const cdp_actor *actor, int *changed,
                                      cdp_err *err) {
    if (region_index >= env->region_count)
        return cdp_err_set(err, CDP_MISUSE, "restrict: region index out of range");
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    cdp_person person;
    cdp_profile_record profile = {0};
    cdp_buf plain = {0}, encoded = {0};
    cdp_batch *batch = NULL;
    memset(&person, 0, sizeof person);
    *changed = 0;
    pthread_mutex_lock(&env->region_locks[region_index]);
    cdp_status status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_PROFILES,
                                                    profile_id, CDP_PROFILE_ID_BYTES, &person,
                                                    &plain, err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain.data, plain.len, &profile, err);
    if (status != CDP_OK || (profile.restricted != 0) == (restricted != 0))
        goto done; /* already in that state: nothing to write, nothing to audit twice */
    profile.restricted = restricted != 0;
    batch = cdp_batch_new();
    if (batch == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    status = cdp_profile_record_encode(&profile, &encoded, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, &person, CDP_CF_PROFILES, profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, err);
    if (status == CDP_OK && !env->audit_disabled) {
        cdp_audit_entry entry = {
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = restricted ? "dsr.restrict" : "dsr.unrestrict",
            .lawful_basis = "legal_obligation",
            .profile_id = profile_id,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        status = cdp_audit_write(env->audit_logs[region_index], batch, &entry, 1, 0, NULL, err);
    }
    if (status == CDP_OK)
        status = cdp_region_write(region, batch, 1, err);
    if (status == CDP_OK)
        *changed = 1;
done:
    pthread_mutex_unlock(&env->region_locks[region_index]);
    cdp_batch_free(batch);
    cdp_buf_free_secret(&encoded);
    cdp_buf_free_secret(&plain);
    cdp_profile_record_clear(&profile);
    cdp_person_wipe(&person);
    return status;
}
