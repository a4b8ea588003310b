/* Private view of the cdp_t handle for the library's own layers, tests and the benchmark.
 * Public callers use include/cdp/cdp.h only. */
#ifndef CDP_API_HANDLE_H
#define CDP_API_HANDLE_H

#include "audit/log.h"
#include "cdp/cdp.h"
#include "crypto/keystore.h"
#include "crypto/rootkey.h"
#include "policy/policy.h"
#include "identity/resolve.h"
#include "identity/rules.h"
#include "store/vault.h"
#include "util/err.h"

/* The data directory's files. */
#define CDP_FILE_FORMAT "FORMAT"
#define CDP_FILE_ROOT_KEY "root.key"
#define CDP_FILE_KEYSTORE "keystore"
#define CDP_DIR_POLICIES "policies"
#define CDP_DIR_REGIONS "regions"
#define CDP_FORMAT_LINE "cdp-data 1\n"

/* The audit log of a region; NULL for an unknown region. Borrowed until cdp_close. */
cdp_audit_log *cdp_handle_audit_log(cdp_t *db, const char *region);

/* The vault of a region; NULL for an unknown region. Borrowed until cdp_close. */
cdp_vault *cdp_handle_vault(cdp_t *db, const char *region);
const cdp_policy *cdp_handle_policy(const cdp_t *db);
const char *cdp_handle_data_dir(const cdp_t *db);
/* The root key the handle was opened with. Borrowed until cdp_close. */
const cdp_rootkey *cdp_handle_rootkey(const cdp_t *db);

/* The identity-resolution environment over every region. Borrowed until cdp_close. */
const cdp_identity_env *cdp_handle_identity_env(const cdp_t *db);

/* Benchmark only: turns the audit of ingest and reads off for this handle, so cdp-bench can
 * report what the audit costs. No public call reaches it. */
void cdp_handle_bench_disable_audit(cdp_t *db);
/* Benchmark only: turns the access decision (and its consent look-up) off for this handle's
 * reads, so cdp-bench can compare enforced reads with unenforced ones. */
void cdp_handle_bench_disable_enforcement(cdp_t *db);

/* Records err as the calling thread's last error on db and returns its status. */
cdp_status cdp_handle_fail(const cdp_t *db, const cdp_err *err);

/* Shared and exclusive holds on the handle: ordinary calls take it shared, key-epoch changes
 * exclusive, so keys never change under a running read or write. */
void cdp_handle_lock_shared(cdp_t *db);
void cdp_handle_lock_exclusive(cdp_t *db);
void cdp_handle_unlock(cdp_t *db);

#endif
