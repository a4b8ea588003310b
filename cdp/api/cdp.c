/* The cdp_t handle: creating and opening a data directory (root key, keystore, policy copy,
 * one partition per region), thread-local error messages, and key-epoch closing. */
#include "api/apikeys.h"
#include "api/handle.h"

#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/log.h"
#include "policy/audit_policy.h"
#include "crypto/rootkey.h"
#include "access/access.h"
#include "store/codec.h"
#include "store/region.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/fs.h"
#include "privacy/ledger.h"

#ifndef CDP_DEFAULT_POLICY_DIR
#define CDP_DEFAULT_POLICY_DIR "policies"
#endif
#define DEFAULT_BLOCK_CACHE_BYTES (256u << 20)
#define PATH_CAP 4096

typedef struct region_slot {
    char id[CDP_REGION_NAME_MAX + 1];
    cdp_region *region;
    cdp_vault *vault;
    cdp_audit_log *audit; /* the region's tamper-evident log of every decision */
} region_slot;

struct cdp {
    char *data_dir;
    cdp_policy *policy;
    cdp_rootkey *rootkey;
    cdp_keystore *keystore;
    rocksdb_cache_t *block_cache;
    region_slot *regions;
    size_t region_count;
    /* Identity resolution over the regions (arrays parallel to regions). */
    cdp_identity_rules *identity_rules;
    cdp_vault **vaults;
    cdp_audit_log **audit_logs;
    const char **region_ids;
    pthread_mutex_t *region_locks;
    size_t region_locks_ready;
    cdp_identity_counters counters;
    cdp_identity_env identity_env;
    cdp_audit_policy audit_policy;
    int64_t last_retention_sweep_ms;
    pthread_rwlock_t lock;
    int lock_ready;
    cdp_ledger *ledger; /* DIR/erasures.ledger */
};

/* The last error of the calling thread, with the handle it belongs to. */
static _Thread_local struct {
    const cdp_t *db;
    cdp_err err;
} last_error;

cdp_status cdp_handle_fail(const cdp_t *db, const cdp_err *err) {
    last_error.db = db;
    last_error.err = *err;
    if (last_error.err.status == CDP_OK)
        last_error.err.status = CDP_INTERNAL;
    return last_error.err.status;
}

const char *cdp_errmsg(const cdp_t *db) {
    if (last_error.db != db || last_error.err.status == CDP_OK)
        return "";
    return last_error.err.message[0] ? last_error.err.message
                                     : cdp_strerror(last_error.err.status);
}

void cdp_options_default(cdp_options *options) {
    memset(options, 0, sizeof *options);
    options->block_cache_bytes = DEFAULT_BLOCK_CACHE_BYTES;
}

void cdp_handle_lock_shared(cdp_t *db) { pthread_rwlock_rdlock(&db->lock); }
void cdp_handle_lock_exclusive(cdp_t *db) { pthread_rwlock_wrlock(&db->lock); }
void cdp_handle_unlock(cdp_t *db) { pthread_rwlock_unlock(&db->lock); }

cdp_audit_log *cdp_handle_audit_log(cdp_t *db, const char *region) {
    for (size_t i = 0; region != NULL && i < db->region_count; i++)
        if (strcmp(db->regions[i].id, region) == 0)
            return db->regions[i].audit;
    return NULL;
}

cdp_vault *cdp_handle_vault(cdp_t *db, const char *region) {
    for (size_t i = 0; i < db->region_count; i++)
        if (strcmp(db->regions[i].id, region) == 0)
            return db->regions[i].vault;
    return NULL;
}

const cdp_policy *cdp_handle_policy(const cdp_t *db) { return db->policy; }
const cdp_identity_env *cdp_handle_identity_env(const cdp_t *db) { return &db->identity_env; }
void cdp_handle_bench_disable_audit(cdp_t *db) { db->identity_env.audit_disabled = 1; }
void cdp_handle_bench_disable_enforcement(cdp_t *db) {
    db->identity_env.enforcement_disabled = 1;
}

/* Loads the identity rules and builds the arrays identity resolution works over. */
static cdp_status open_identity(cdp_t *db, const char *policy_dir, cdp_err *err) {
    cdp_status status = cdp_identity_rules_load(policy_dir, &db->identity_rules, err);
    if (status != CDP_OK)
        return status;
    size_t count = db->region_count;
    db->vaults = cdp_calloc(count, sizeof *db->vaults);
    db->audit_logs = cdp_calloc(count, sizeof *db->audit_logs);
    db->region_ids = cdp_calloc(count, sizeof *db->region_ids);
    db->region_locks = cdp_calloc(count, sizeof *db->region_locks);
    if (db->vaults == NULL || db->audit_logs == NULL || db->region_ids == NULL ||
        db->region_locks == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        db->vaults[i] = db->regions[i].vault;
        db->audit_logs[i] = db->regions[i].audit;
        db->region_ids[i] = db->regions[i].id;
        if (pthread_mutex_init(&db->region_locks[i], NULL) != 0)
            return cdp_err_set(err, CDP_INTERNAL, "cannot create a region lock");
        db->region_locks_ready = i + 1;
    }
    db->identity_env = (cdp_identity_env){
        .vaults = db->vaults,
        .audit_logs = db->audit_logs,
        .region_ids = db->region_ids,
        .region_locks = db->region_locks,
        .region_count = count,
        .policy = db->policy,
        .rules = db->identity_rules,
        .counters = &db->counters,
    };
    return CDP_OK;
}
const char *cdp_handle_data_dir(const cdp_t *db) { return db->data_dir; }
const cdp_rootkey *cdp_handle_rootkey(const cdp_t *db) { return db->rootkey; }

/* Opens (creating when absent) the erasure ledger and hands it to the erasure path. */
static cdp_status open_ledger(cdp_t *db, cdp_err *err) {
    char path[PATH_CAP];
    cdp_status status = cdp_path_join(path, sizeof path, db->data_dir, CDP_LEDGER_FILE, err);
    if (status == CDP_OK)
        status = cdp_ledger_open(path, 1, &db->ledger, err);
    db->identity_env.ledger = db->ledger;
    return status;
}
size_t cdp_region_count(const cdp_t *db) { return db->region_count; }
const char *cdp_region_id(const cdp_t *db, size_t index) {
    return index < db->region_count ? db->regions[index].id : NULL;
}

/* Creates root key (unless from the environment), keystore, policy copy and FORMAT file.
 * The regions themselves are created by open_regions with create=1. */
static cdp_status create_layout(cdp_t *db, const char *policy_dir, cdp_err *err) {
    char path[PATH_CAP];
    const char *names[64];
    size_t count = cdp_policy_region_count(db->policy);
    if (count > 64)
        return cdp_err_set(err, CDP_BAD_POLICY, "regions.json: more than 64 regions");
    for (size_t i = 0; i < count; i++)
        names[i] = cdp_policy_region_at(db->policy, i)->id;

    cdp_status status = cdp_mkdir(db->data_dir, 0700, err);
    if (status == CDP_EXISTS)
        return cdp_err_set(err, CDP_EXISTS,
                           "%s: already exists; init refuses an existing directory",
                           db->data_dir);
    if (status != CDP_OK)
        return status;
    if (getenv(CDP_ROOT_KEY_ENV) == NULL) {
        status = cdp_path_join(path, sizeof path, db->data_dir, CDP_FILE_ROOT_KEY, err);
        if (status == CDP_OK)
            status = cdp_rootkey_create_file(path, err);
        if (status != CDP_OK)
            return status;
    }
    status = cdp_path_join(path, sizeof path, db->data_dir, CDP_FILE_ROOT_KEY, err);
    if (status == CDP_OK)
        status = cdp_rootkey_load(path, &db->rootkey, err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, db->data_dir, CDP_FILE_KEYSTORE, err);
    if (status == CDP_OK)
        status = cdp_keystore_create(path, db->rootkey, names, count, err);
    if (status == CDP_OK)
        status = cdp_keystore_open(path, db->rootkey, &db->keystore, err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, db->data_dir, CDP_DIR_POLICIES, err);
    if (status == CDP_OK)
        status = cdp_mkdir(path, 0700, err);
    if (status == CDP_OK)
        status = cdp_copy_files(policy_dir, path, ".json", err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, db->data_dir, CDP_DIR_REGIONS, err);
    if (status == CDP_OK)
        status = cdp_mkdir(path, 0700, err);
    return status;
}

static cdp_status open_regions(cdp_t *db, int create, size_t key_cache_entries, cdp_err *err) {
    char regions_dir[PATH_CAP], path[PATH_CAP];
    size_t count = cdp_policy_region_count(db->policy);
    db->regions = cdp_calloc(count, sizeof *db->regions);
    if (db->regions == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status =
        cdp_path_join(regions_dir, sizeof regions_dir, db->data_dir, CDP_DIR_REGIONS, err);
    cdp_region_options options = {.block_cache = db->block_cache, .create = create};
    char policy_dir[PATH_CAP];
    if (status == CDP_OK)
        status = cdp_path_join(policy_dir, sizeof policy_dir, db->data_dir, CDP_DIR_POLICIES, err);
    if (status == CDP_OK)
        status = cdp_audit_policy_load(policy_dir, &db->audit_policy, err);
    cdp_audit_options audit_options;
    cdp_audit_options_default(&audit_options);
    audit_options.checkpoint_every = db->audit_policy.checkpoint_every;
    audit_options.checkpoint_interval_ms = db->audit_policy.checkpoint_interval_ms;
    for (size_t i = 0; status == CDP_OK && i < count; i++) {
        region_slot *slot = &db->regions[i];
        const char *id = cdp_policy_region_at(db->policy, i)->id;
        snprintf(slot->id, sizeof slot->id, "%s", id);
        const cdp_region_keys *keys = NULL;
        status = cdp_keystore_current(db->keystore, id, &keys, err);
        if (status == CDP_NOT_FOUND) {
            status = cdp_err_set(err, CDP_BAD_POLICY,
                                 "regions.json: region \"%s\" has no keys in this data "
                                 "directory's keystore (added after init)",
                                 id);
            break;
        }
        if (status == CDP_OK)
            status = cdp_path_join(path, sizeof path, regions_dir, id, err);
        if (status == CDP_OK)
            status = cdp_region_open(path, id, &options, &slot->region, err);
        if (status == CDP_OK)
            status = cdp_vault_new_with_cache(slot->region, db->keystore, key_cache_entries,
                                              &slot->vault, err);
        if (status == CDP_OK)
            status = cdp_audit_log_open(slot->region, id, db->keystore, &audit_options, &slot->audit,
                                        err);
        db->region_count = i + 1;
    }
    return status;
}

static cdp_status check_format(const char *data_dir, cdp_err *err) {
    char path[PATH_CAP];
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdp_status status = cdp_path_join(path, sizeof path, data_dir, CDP_FILE_FORMAT, err);
    if (status == CDP_OK)
        status = cdp_file_read(path, 256, &bytes, &len, err);
    if (status == CDP_NOT_FOUND) {
        struct stat info;
        if (stat(data_dir, &info) != 0)
            return cdp_err_set(err, CDP_NOT_FOUND, "%s: no such data directory (cdpctl init)",
                               data_dir);
        return cdp_err_set(err, CDP_CORRUPT, "%s: not a cdp data directory (no %s)", data_dir,
                           CDP_FILE_FORMAT);
    }
    if (status != CDP_OK)
        return status;
    int ok = len == strlen(CDP_FORMAT_LINE) && memcmp(bytes, CDP_FORMAT_LINE, len) == 0;
    cdp_free(bytes);
    if (!ok)
        return cdp_err_set(err, CDP_CORRUPT, "%s: unsupported data directory format", data_dir);
    return CDP_OK;
}

cdp_status cdp_open(const char *data_dir, const cdp_options *options, cdp_t **out) {
    cdp_err err = {0};
    cdp_options defaults;
    char path[PATH_CAP];
    int created_dir = 0;
    cdp_status status = CDP_OK;
    if (options == NULL) {
        cdp_options_default(&defaults);
        options = &defaults;
    }
    *out = NULL;
    if (data_dir == NULL || *data_dir == '\0') {
        cdp_err_set(&err, CDP_MISUSE, "data directory: empty path");
        return cdp_handle_fail(NULL, &err);
    }
    cdp_t *db = cdp_calloc(1, sizeof *db);
    if (db == NULL) {
        cdp_err_set(&err, CDP_NOMEM, "out of memory");
        return cdp_handle_fail(NULL, &err);
    }
    *out = db;
    if (pthread_rwlock_init(&db->lock, NULL) != 0) {
        status = cdp_err_set(&err, CDP_INTERNAL, "cannot create the handle lock");
        goto fail;
    }
    db->lock_ready = 1;
    if (sodium_init() < 0) {
        status = cdp_err_set(&err, CDP_INTERNAL, "libsodium failed to initialise");
        goto fail;
    }
    status = cdp_codec_init(&err);
    if (status != CDP_OK)
        goto fail;
    db->data_dir = cdp_strdup(data_dir);
    if (db->data_dir == NULL) {
        status = cdp_err_set(&err, CDP_NOMEM, "out of memory");
        goto fail;
    }
    size_t cache_bytes =
        options->block_cache_bytes ? options->block_cache_bytes : DEFAULT_BLOCK_CACHE_BYTES;
    db->block_cache = rocksdb_cache_create_lru(cache_bytes);

    if (options->create) {
        const char *policy_dir = options->policy_dir ? options->policy_dir
                                                     : CDP_DEFAULT_POLICY_DIR;
        /* Validate the bundle before anything touches the disk. */
        status = cdp_policy_load(policy_dir, &db->policy, &err);
        if (status != CDP_OK)
            goto fail;
        status = create_layout(db, policy_dir, &err);
        created_dir = status != CDP_EXISTS;
        if (status != CDP_OK)
            goto fail;
        status = open_regions(db, 1, options->key_cache_entries, &err);
        if (status == CDP_OK)
            status = cdp_path_join(path, sizeof path, data_dir, CDP_DIR_POLICIES, &err);
        if (status == CDP_OK)
            status = open_identity(db, path, &err);
        if (status == CDP_OK)
            status = open_ledger(db, &err);
        if (status == CDP_OK)
            status = cdp_path_join(path, sizeof path, data_dir, CDP_FILE_FORMAT, &err);
        /* Written last: a directory without FORMAT is a half-made one, never opened. */
        if (status == CDP_OK)
            status = cdp_file_write_atomic(path, CDP_FORMAT_LINE, strlen(CDP_FORMAT_LINE), 0644,
                                           &err);
        if (status != CDP_OK)
            goto fail;
        return CDP_OK;
    }

    status = check_format(data_dir, &err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, CDP_DIR_POLICIES, &err);
    if (status == CDP_OK)
        status = cdp_policy_load(path, &db->policy, &err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, CDP_FILE_ROOT_KEY, &err);
    if (status == CDP_OK)
        status = cdp_rootkey_load(path, &db->rootkey, &err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, CDP_FILE_KEYSTORE, &err);
    if (status == CDP_OK)
        status = cdp_keystore_open(path, db->rootkey, &db->keystore, &err);
    if (status == CDP_OK)
        status = open_regions(db, 0, options->key_cache_entries, &err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, CDP_DIR_POLICIES, &err);
    if (status == CDP_OK)
        status = open_identity(db, path, &err);
    if (status == CDP_OK)
        status = open_ledger(db, &err);
    /* An erasure a crash interrupted is completed before anything else runs. */
    if (status == CDP_OK)
        status = cdp_access_erase_recover(&db->identity_env, &err);
    /* So is every erasure of the ledger this store has not applied (a restored copy). */
    if (status == CDP_OK)
        status = cdp_access_ledger_replay(&db->identity_env, NULL, &err);
    /* API keys changed while nobody had the store open (`cdpctl keys`): into the audit log. */
    if (status == CDP_OK)
        status = cdp_apikeys_audit_changes(db, &err);
    if (status != CDP_OK)
        goto fail;
    return CDP_OK;
fail:
    cdp_handle_fail(db, &err);
    if (created_dir) {
        /* Undo a half-made directory so a retry of init starts clean. */
        for (size_t i = 0; i < db->region_count; i++) {
            cdp_audit_log_close(db->regions[i].audit);
            cdp_vault_free(db->regions[i].vault);
            cdp_region_close(db->regions[i].region);
            db->regions[i].audit = NULL;
            db->regions[i].vault = NULL;
            db->regions[i].region = NULL;
        }
        cdp_remove_tree(data_dir);
    }
    return status;
}

void cdp_close(cdp_t *db) {
    if (db == NULL)
        return;
    for (size_t i = 0; db->regions != NULL && i < db->region_count; i++) {
        cdp_audit_log_close(db->regions[i].audit);
        cdp_vault_free(db->regions[i].vault);
        cdp_region_close(db->regions[i].region);
    }
    cdp_free(db->regions);
    for (size_t i = 0; i < db->region_locks_ready; i++)
        pthread_mutex_destroy(&db->region_locks[i]);
    cdp_free(db->region_locks);
    cdp_free(db->vaults);
    cdp_free(db->audit_logs);
    cdp_free(db->region_ids);
    cdp_identity_rules_free(db->identity_rules);
    cdp_ledger_close(db->ledger);
    if (db->block_cache != NULL)
        rocksdb_cache_destroy(db->block_cache);
    cdp_keystore_close(db->keystore);
    cdp_rootkey_free(db->rootkey);
    cdp_policy_free(db->policy);
    if (db->lock_ready)
        pthread_rwlock_destroy(&db->lock);
    if (last_error.db == db)
        last_error.db = NULL;
    cdp_free(db->data_dir);
    cdp_free(db);
}

cdp_status cdp_close_epoch(cdp_t *db, const char *region, uint32_t *new_epoch,
                           size_t *rewrapped) {
    cdp_err err = {0};
    if (db == NULL || region == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "close_epoch: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    cdp_vault *vault = cdp_handle_vault(db, region);
    if (vault == NULL) {
        cdp_err_set(&err, CDP_NOT_FOUND, "region: unknown region \"%s\"", region);
        return cdp_handle_fail(db, &err);
    }
    cdp_handle_lock_exclusive(db);
    cdp_status status = cdp_vault_close_epoch(vault, new_epoch, rewrapped, &err);
    if (status == CDP_OK) {
        /* Audited, and a checkpoint signed with the new epoch's key right away. */
        cdp_audit_log *log = cdp_handle_audit_log(db, region);
        static const char *const categories[] = {"keys"};
        cdp_audit_entry entry = {.actor_key_id = "local",
                                 .actor_role = "admin",
                                 .operation = "keys.rotate",
                                 .categories = categories,
                                 .category_count = 1,
                                 .decision = CDP_AUDIT_ALLOW};
        status = cdp_audit_write(log, NULL, &entry, 1, 1, NULL, &err);
        if (status == CDP_OK)
            status = cdp_audit_checkpoint_now(log, NULL, &err);
    }
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_maintain(cdp_t *db, int64_t now_ms) {
    cdp_err err = {0};
    if (db == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "maintain: NULL handle");
        return cdp_handle_fail(db, &err);
    }
    cdp_status status = CDP_OK;
    cdp_handle_lock_shared(db);
    for (size_t i = 0; status == CDP_OK && i < db->region_count; i++) {
        cdp_audit_log *log = db->regions[i].audit;
        cdp_audit_info info;
        cdp_audit_log_info(log, &info);
        /* Records since the last checkpoint, and it is due: sign a new one. */
        if (info.tree_size > (info.has_checkpoint ? info.last_checkpoint_size : 0) &&
            now_ms - info.last_checkpoint_ms >= db->audit_policy.checkpoint_interval_ms)
            status = cdp_audit_checkpoint_now(log, NULL, &err);
        if (status == CDP_OK && db->audit_policy.retention_days > 0)
            status = cdp_audit_retain(log, now_ms - db->audit_policy.retention_days * 86400000LL,
                                      NULL, &err);
    }
    /* Pending erasures are purged physically in one batch. */
    if (status == CDP_OK)
        status = cdp_access_erase_purge(&db->identity_env, NULL, &err);
    if (status == CDP_OK)
        status = cdp_apikeys_audit_changes(db, &err);
    cdp_handle_unlock(db);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    /* Data-subject requests waiting for the worker. */
    status = cdp_dsr_process(db, now_ms, 0);
    if (status != CDP_OK)
        return status;
    /* Expired events: at most once an hour (reads already refuse them). */
    if (now_ms - db->last_retention_sweep_ms >= 3600000) {
        db->last_retention_sweep_ms = now_ms;
        return cdp_retention_sweep(db, now_ms, NULL);
    }
    return CDP_OK;
}
