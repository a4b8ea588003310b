/* The one door: every read and write of personal data passes here. It resolves the person,
 * reads what the decision needs (their regime, consent per purpose, restriction, home region),
 * asks the policy (cdp_policy_decide), hands the decision to the audit log before any data
 * moves, and then releases only what the decision allows. The modules it delegates to
 * (identity, consent, privacy) and the store below them are the only other code that touches
 * personal-data column families: tests/layering_test.sh proves it from the object files.
 * Thread-safe (the caller holds the handle shared). */
#ifndef CDP_ACCESS_ACCESS_H
#define CDP_ACCESS_ACCESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "cdp/cdp.h"
#include "identity/resolve.h"
#include "identity/segment.h"
#include "policy/privacy.h"
#include "store/records.h"
#include "store/vault.h"
#include "crypto/rootkey.h"
#include "util/err.h"

#define CDP_ACCESS_PURPOSES_MAX 64

/* A person opened for one access. */
typedef struct cdp_access_person {
    size_t region_index;
    cdp_vault *vault;
    cdp_person person;
    cdp_profile_record profile;
    const char *regime; /* borrowed from the policy; never NULL once opened */
    /* Current consent per purpose, indexed as cdp_policy_purpose_at. */
    cdp_consent_state consent[CDP_ACCESS_PURPOSES_MAX];
    int sensitive_limited;
} cdp_access_person;

void cdp_access_person_clear(cdp_access_person *person);

/* Resolves ref ("TYPE:VALUE" or "profile:<32 hex>") to the person and loads what a decision
 * needs. CDP_INVALID_IDENTIFIER for a malformed ref, CDP_NOT_FOUND for nobody. */
cdp_status cdp_access_resolve(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, cdp_access_person *out, cdp_err *err);

/* The question for this actor, purpose and person (category NULL: the request as a whole). */
cdp_access_question cdp_access_question_for(const cdp_identity_env *env, const cdp_actor *actor,
                                            const char *purpose, const cdp_access_person *person,
                                            const char *category);

/* Reads. Each decides, audits (allow, withhold or deny, with the reason) and answers JSON text;
 * caller owns *json (free with cdp_free). A refusal is its status (CDP_FORBIDDEN,
 * CDP_PURPOSE_REQUIRED, CDP_CONSENT_DENIED, CDP_RESTRICTED, CDP_RESIDENCY_DENIED) and is audited
 * too when the person was found. */
cdp_status cdp_access_profile(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *purpose, const char *ref, char **json, cdp_err *err);
cdp_status cdp_access_identities(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *purpose, const char *ref, char **json,
                                 cdp_err *err);
cdp_status cdp_access_events(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *purpose, const char *ref, size_t limit,
                             const char *cursor, char **json, cdp_err *err);
/* Unmerge (role dpo or admin; no purpose: it is the DPO's own correction). */
cdp_status cdp_access_unmerge(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, const char *type, const char *value, char **json,
                              cdp_err *err);

/* Restricts (restricted 1) or lifts the restriction of (0) a person (GDPR Art. 18). Role dpo.
 * {"profile_id", "restricted", "changed"} */
cdp_status cdp_access_restrict(const cdp_identity_env *env, const cdp_actor *actor,
                               const char *ref, int restricted, char **json, cdp_err *err);

/* Deletes events past their category's retention in every region (reads already refuse
 * them). *deleted counts them. */
cdp_status cdp_access_retention_sweep(const cdp_identity_env *env, int64_t now_ms,
                                      size_t *deleted, cdp_err *err);

/* The access / portability export of everything held on the person (role dpo), audited durably
 * before the first byte is written. See cdp_subject_export. */
cdp_status cdp_access_subject_export(const cdp_identity_env *env, const cdp_actor *actor,
                                     const char *ref, const char *format, FILE *out,
                                     cdp_err *err);

/* Erasure: see cdp/privacy/erase.h (cdp_privacy_erase, _purge, _lift) for the contract; role
 * dpo or admin for erase, dpo for lifting a suppression. */
cdp_status cdp_access_erase(const cdp_identity_env *env, const cdp_actor *actor, const char *type,
                            const char *value, const char *request_id, int64_t now_ms,
                            char **receipt_json, cdp_err *err);
cdp_status cdp_access_erase_purge(const cdp_identity_env *env, size_t *purged, cdp_err *err);
/* At open: completes erasures a crash interrupted (signs missing receipts, then purges). */
cdp_status cdp_access_erase_recover(const cdp_identity_env *env, cdp_err *err);
cdp_status cdp_access_lift_suppression(const cdp_identity_env *env, const cdp_actor *actor,
                                       const char *type, const char *value, int64_t now_ms,
                                       cdp_err *err);

/* Consent: POST /v1/consent and the consent view (see cdp_consent_set, cdp_profile_consent). */
cdp_status cdp_access_consent_set(const cdp_identity_env *env, const cdp_actor *actor,
                                  const char *body, size_t len, int gpc, char **json,
                                  cdp_err *err);
cdp_status cdp_access_profile_consent(const cdp_identity_env *env, const cdp_actor *actor,
                                      const char *purpose, const char *ref, char **json,
                                      cdp_err *err);

/* Writes: one parsed Segment message. Traits and properties no purpose may lawfully store for
 * this person are removed from the message before it is stored (minimisation); each removal
 * is appended to dropped (a JSON array, may be NULL) as {"field", "category", "reason"} and
 * recorded in the stored event's context ("cdp": {"dropped": [...]}). Then the message goes to
 * identity resolution. */
cdp_status cdp_access_ingest(const cdp_identity_env *env, const cdp_actor *actor,
                             cdp_segment_message *message, int gpc, int64_t now_ms,
                             cdp_ingest_outcome *out, json_t *dropped, cdp_err *err);

/* Refusals and withholdings by reason, for /metrics (process-wide, monotonic). */
size_t cdp_access_counter_count(void);
void cdp_access_counter_at(size_t index, const char **reason, unsigned long long *denied,
                           unsigned long long *withheld);

/* Makes the WAL of a region the ingest touched durable. */
cdp_status cdp_access_sync_region(const cdp_identity_env *env, size_t region_index,
                                  cdp_err *err);

/* Backups (cdp/privacy/backup.h): the backup of the open data directory, the file work of a
 * restore, and the replay of erasures the ledger holds beyond what a store has applied. */
cdp_status cdp_access_backup(const cdp_identity_env *env, const cdp_rootkey *rootkey,
                             const char *data_dir, const char *backup_dir, int64_t now_ms,
                             cdp_err *err);
cdp_status cdp_access_restore_files(const char *backup_dir, const char *data_dir, cdp_err *err);
cdp_status cdp_access_ledger_replay(const cdp_identity_env *env, size_t *applied, cdp_err *err);

/* Store statistics (role admin or dpo): per region and in total, exact counts of people,
 * events, merged profiles, erasures, suppressed identifiers and the bytes on disk, as JSON (see
 * cdp_stats). Audited as "admin.stats" in the default region; no person is read. Caller owns
 * *json (free with cdp_free). */
cdp_status cdp_access_stats(const cdp_identity_env *env, const cdp_actor *actor, char **json,
                            cdp_err *err);

/* Bytes held in RocksDB memtables over every region and column family (the
 * "rocksdb.cur-size-all-mem-tables" property): memory that grows with writes until a flush, for
 * /metrics. No personal data; not audited. */
unsigned long long cdp_access_memtable_bytes(const cdp_identity_env *env);

#endif
