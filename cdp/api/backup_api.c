/* Backups through the public API: argument checks and locking here, the work in
 * cdp/privacy/backup.c through cdp/access. A restore is the file work, then an open of the
 * restored directory (which re-applies the ledger's later erasures and purges), then a key-epoch
 * close of every region. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access/access.h"
#include "api/handle.h"
#include "audit/admin.h"

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cdp_status cdp_backup(cdp_t *db, const char *backup_dir) {
    cdp_err err = {0};
    if (db == NULL || backup_dir == NULL || *backup_dir == '\0') {
        cdp_err_set(&err, CDP_MISUSE, "backup: NULL handle or empty backup_dir");
        return cdp_handle_fail(db, &err);
    }
    /* Exclusive: no erasure, ingest or epoch change runs while the regions are copied. */
    cdp_handle_lock_exclusive(db);
    cdp_status status = cdp_access_backup(cdp_handle_identity_env(db), cdp_handle_rootkey(db),
                                          cdp_handle_data_dir(db), backup_dir, wall_ms(), &err);
    cdp_handle_unlock(db);
    /* An admin action: recorded in the default region's log (after the copy, so not in it). */
    if (status == CDP_OK)
        status = cdp_audit_record_admin(
            cdp_handle_audit_log(db, cdp_policy_default_region(cdp_handle_policy(db))),
            "admin.backup", NULL, &err);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_restore(const char *backup_dir, const char *data_dir) {
    cdp_err err = {0};
    if (backup_dir == NULL || *backup_dir == '\0' || data_dir == NULL || *data_dir == '\0') {
        cdp_err_set(&err, CDP_MISUSE, "restore: empty backup_dir or data_dir");
        return cdp_handle_fail(NULL, &err);
    }
    cdp_status status = cdp_access_restore_files(backup_dir, data_dir, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(NULL, &err);
    cdp_t *db = NULL;
    status = cdp_open(data_dir, NULL, &db);
    for (size_t i = 0; status == CDP_OK && i < cdp_region_count(db); i++)
        status = cdp_close_epoch(db, cdp_region_id(db, i), NULL, NULL);
    if (status != CDP_OK)
        cdp_err_set(&err, status, "restore: %s", cdp_errmsg(db));
    cdp_err audit_err = {0};
    if (status == CDP_OK &&
        cdp_audit_record_admin(
            cdp_handle_audit_log(db, cdp_policy_default_region(cdp_handle_policy(db))),
            "admin.restore", NULL, &audit_err) != CDP_OK)
        status = cdp_err_set(&err, audit_err.status, "restore: %s", audit_err.message);
    cdp_close(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(NULL, &err);
}
