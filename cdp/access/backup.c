/* Backups through the one door: the backup copies every region whole (people's data sealed as
 * stored) and the restore re-applies erasures; both are cdp/privacy/backup.c's. */
#include "access/access.h"
#include "privacy/backup.h"

cdp_status cdp_access_backup(const cdp_identity_env *env, const cdp_rootkey *rootkey,
                             const char *data_dir, const char *backup_dir, int64_t now_ms,
                             cdp_err *err) {
    return cdp_privacy_backup(env, rootkey, data_dir, backup_dir, now_ms, err);
}

cdp_status cdp_access_restore_files(const char *backup_dir, const char *data_dir, cdp_err *err) {
    return cdp_privacy_restore_files(backup_dir, data_dir, err);
}

cdp_status cdp_access_ledger_replay(const cdp_identity_env *env, size_t *applied, cdp_err *err) {
    return cdp_privacy_ledger_replay(env, applied, err);
}
