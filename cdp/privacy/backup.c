/* Backups and restores that keep erasures final: the ledger record of each erasure, its replay
 * onto a store that does not have it yet, the backup directory and the file work of a restore
 * (see backup.h). */
#include "privacy/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/log.h"
#include "crypto/keystore.h"
#include "privacy/ledger.h"
#include "store/region.h"
#include "store/vault.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/crashpoint.h"
#include "util/fs.h"

#define PATH_CAP 4096
#define META_KEY_MAX 96
#define MANIFEST_MAX (1u << 20)
#define MAC_BYTES 32
#define MAC_CONTEXT "CDPBACKP" /* crypto_kdf contexts are exactly 8 bytes */
#define MAC_SUBKEY_ID 1
#define RESTORING_MARKER "RESTORING"
#define FILE_FORMAT "FORMAT"
#define FILE_KEYSTORE "keystore"
#define FILE_APIKEYS "apikeys"
#define FILE_ROOT_KEY "root.key"
#define DIR_POLICIES "policies"
#define DIR_REGIONS "regions"

/* ---- the ledger record of an erasure ----------------------------------------------------- */

cdp_status cdp_privacy_ledger_record(const cdp_identity_env *env, size_t region_index,
                                     const char *request_id, json_t *members,
                                     const char *receipt_json, int only_if_missing,
                                     cdp_err *err) {
    cdp_ledger *ledger = env->ledger;
    if (ledger == NULL)
        return CDP_OK;
    if (only_if_missing) {
        int found = 0;
        cdp_status status = cdp_ledger_contains(ledger, request_id, &found, err);
        if (status != CDP_OK || found)
            return status;
    }
    json_t *receipt =
        receipt_json ? json_loads(receipt_json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *suppressed = json_object_get(receipt, "suppressed");
    json_t *time = json_object_get(receipt, "time");
    if (!json_is_array(members) || !json_is_array(suppressed) || !json_is_integer(time)) {
        json_decref(receipt);
        return cdp_err_set(err, CDP_CORRUPT,
                           "erasure %s: receipt or members do not make a ledger entry",
                           request_id);
    }
    json_t *entry = json_pack("{s:O, s:s, s:s, s:O, s:O, s:s}", "time", time, "region",
                              env->region_ids[region_index], "request_id", request_id,
                              "profiles", members, "suppress", suppressed, "receipt",
                              receipt_json);
    json_decref(receipt);
    if (entry == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status = cdp_ledger_append(ledger, entry, NULL, err);
    json_decref(entry);
    return status;
}

/* ---- replay ------------------------------------------------------------------------------ */

static cdp_status read_applied(cdp_region *region, uint64_t *applied, cdp_err *err) {
    uint8_t *value = NULL;
    size_t len = 0;
    *applied = 0;
    cdp_status status = cdp_region_get(region, CDP_CF_META, (const uint8_t *)CDP_BACKUP_APPLIED_KEY,
                                       strlen(CDP_BACKUP_APPLIED_KEY), &value, &len, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        return CDP_OK;
    }
    if (status != CDP_OK)
        return status;
    char text[24];
    int ok = len > 0 && len < sizeof text;
    if (ok) {
        memcpy(text, value, len);
        text[len] = '\0';
        char *end = NULL;
        unsigned long long parsed = strtoull(text, &end, 10);
        ok = *end == '\0';
        *applied = parsed;
    }
    cdp_region_free_value(value);
    return ok ? CDP_OK
              : cdp_err_set(err, CDP_CORRUPT, "meta %s: not a number", CDP_BACKUP_APPLIED_KEY);
}

static cdp_status write_applied(cdp_region *region, uint64_t position, cdp_err *err) {
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)position);
    cdp_batch *batch = cdp_batch_new();
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)CDP_BACKUP_APPLIED_KEY,
                  strlen(CDP_BACKUP_APPLIED_KEY), (const uint8_t *)text, strlen(text));
    cdp_status status = cdp_region_write(region, batch, 1, err);
    cdp_batch_free(batch);
    return status;
}

typedef struct replay_context {
    const cdp_identity_env *env;
    uint64_t *applied_from; /* per region */
    size_t *applied_count;  /* per region */
    cdp_err *err;
} replay_context;

/* Deletes every key of cf that starts with the profile id. */
static cdp_status delete_prefix(cdp_region *region, cdp_batch *batch, cdp_cf cf,
                                const uint8_t id[CDP_PROFILE_ID_BYTES], cdp_err *err) {
    cdp_iter *iter = NULL;
    cdp_status status = cdp_region_iter(region, cf, id, CDP_PROFILE_ID_BYTES, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        cdp_batch_delete(batch, region, cf, key, key_len);
    }
    if (status == CDP_OK)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    return status;
}

/* Identity index entries and message markers of the members: the index is keyed by blind
 * indexes the ledger cannot name (it holds no identifier), so the family is scanned for entries
 * whose value is a member's profile id. */
static cdp_status delete_identity_entries(cdp_region *region, cdp_batch *batch,
                                          const uint8_t (*ids)[CDP_PROFILE_ID_BYTES],
                                          size_t id_count, cdp_err *err) {
    cdp_iter *iter = NULL;
    cdp_status status = cdp_region_iter(region, CDP_CF_IDENTITY, NULL, 0, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, value_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        const uint8_t *value = cdp_iter_value(iter, &value_len);
        if (value_len != CDP_PROFILE_ID_BYTES)
            continue;
        for (size_t i = 0; i < id_count; i++)
            if (memcmp(value, ids[i], CDP_PROFILE_ID_BYTES) == 0) {
                cdp_batch_delete(batch, region, CDP_CF_IDENTITY, key, key_len);
                break;
            }
    }
    if (status == CDP_OK)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    return status;
}

static cdp_status apply_entry(const cdp_identity_env *env, size_t region_index,
                              const char *request_id, json_t *entry, cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    json_t *profiles = json_object_get(entry, "profiles");
    json_t *suppress = json_object_get(entry, "suppress");
    const char *receipt = json_string_value(json_object_get(entry, "receipt"));
    json_t *receipt_json = receipt ? json_loads(receipt, 0, NULL) : NULL;
    const char *receipt_profile = json_string_value(json_object_get(receipt_json, "profile_id"));
    size_t count = json_array_size(profiles);
    uint8_t(*ids)[CDP_PROFILE_ID_BYTES] = cdp_calloc(count ? count : 1, sizeof *ids);
    cdp_batch *batch = cdp_batch_new();
    json_t *reference = NULL, *journal = NULL;
    cdp_status status = CDP_OK;
    if (ids == NULL || batch == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    if (receipt == NULL || receipt_profile == NULL || count == 0) {
        status = cdp_err_set(err, CDP_CORRUPT,
                             "erasures.ledger: %s: needs profiles and a receipt", request_id);
        goto done;
    }
    for (size_t i = 0; i < count && status == CDP_OK; i++) {
        const char *hex = json_string_value(json_array_get(profiles, i));
        if (hex == NULL || cdp_hex_decode(ids[i], CDP_PROFILE_ID_BYTES, hex, strlen(hex)) != 0) {
            status = cdp_err_set(err, CDP_CORRUPT,
                                 "erasures.ledger: %s: profiles[%zu]: not a profile id",
                                 request_id, i);
            break;
        }
        cdp_batch_delete(batch, region, CDP_CF_KEYS, ids[i], CDP_PROFILE_ID_BYTES);
        cdp_batch_delete(batch, region, CDP_CF_PROFILES, ids[i], CDP_PROFILE_ID_BYTES);
        status = delete_prefix(region, batch, CDP_CF_EVENTS, ids[i], err);
        if (status == CDP_OK)
            status = delete_prefix(region, batch, CDP_CF_CONSENT, ids[i], err);
        if (status == CDP_OK)
            status = delete_prefix(region, batch, CDP_CF_MERGES, ids[i], err);
    }
    if (status == CDP_OK)
        status = delete_identity_entries(region, batch, (const uint8_t(*)[CDP_PROFILE_ID_BYTES])ids,
                                         count, err);
    if (status != CDP_OK)
        goto done;
    reference = json_pack("{s:s, s:O}", "request_id", request_id, "time",
                          json_object_get(entry, "time"));
    journal = json_pack("{s:s, s:O, s:s}", "state", "done", "members", profiles, "receipt",
                        receipt);
    char *reference_text = reference ? json_dumps(reference, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *journal_text = journal ? json_dumps(journal, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (reference_text == NULL || journal_text == NULL) {
        free(reference_text);
        free(journal_text);
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(suppress) && status == CDP_OK; i++) {
        const char *hex = json_string_value(json_array_get(suppress, i));
        uint8_t blind[CDP_BLIND_BYTES];
        if (hex == NULL || cdp_hex_decode(blind, sizeof blind, hex, strlen(hex)) != 0)
            status = cdp_err_set(err, CDP_CORRUPT,
                                 "erasures.ledger: %s: suppress[%zu]: not a blind index",
                                 request_id, i);
        else
            cdp_batch_put(batch, region, CDP_CF_SUPPRESS, blind, sizeof blind,
                          (const uint8_t *)reference_text, strlen(reference_text));
    }
    char key[META_KEY_MAX];
    snprintf(key, sizeof key, "erasure/%s", request_id);
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                  (const uint8_t *)journal_text, strlen(journal_text));
    snprintf(key, sizeof key, "erasure.profile/%s", receipt_profile);
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                  (const uint8_t *)request_id, strlen(request_id));
    free(reference_text);
    free(journal_text);
    if (status != CDP_OK)
        goto done;
    static const char *const categories[] = {"keys",    "profile", "event",
                                             "consent", "merges",  "identity"};
    json_t *time = json_object_get(entry, "time");
    cdp_audit_entry audit = {
        .time_ms = json_is_integer(time) ? (int64_t)json_integer_value(time) : 0,
        .actor_key_id = "local",
        .actor_role = "admin",
        .operation = "erasure.replay",
        .profile_id = ids[0],
        .categories = categories,
        .category_count = sizeof categories / sizeof categories[0],
        .decision = CDP_AUDIT_ALLOW,
        .request_id = request_id,
    };
    pthread_mutex_lock(&env->region_locks[region_index]);
    status = cdp_audit_write(env->audit_logs[region_index], batch, &audit, 1, 1, NULL, err);
    pthread_mutex_unlock(&env->region_locks[region_index]);
    for (size_t i = 0; status == CDP_OK && i < count; i++)
        cdp_vault_forget_person(vault, ids[i]);
done:
    json_decref(reference);
    json_decref(journal);
    json_decref(receipt_json);
    cdp_batch_free(batch);
    cdp_free(ids);
    return status;
}

static cdp_status replay_one(void *context, uint64_t seq, json_t *entry) {
    replay_context *replay = context;
    const cdp_identity_env *env = replay->env;
    const char *region_id = json_string_value(json_object_get(entry, "region"));
    const char *request_id = json_string_value(json_object_get(entry, "request_id"));
    size_t r = 0;
    while (r < env->region_count && strcmp(env->region_ids[r], region_id) != 0)
        r++;
    if (r == env->region_count)
        return cdp_err_set(replay->err, CDP_CORRUPT,
                           "erasures.ledger: seq %llu: region \"%s\" is not in this data "
                           "directory; refusing to serve without applying it",
                           (unsigned long long)seq, region_id);
    if (seq <= replay->applied_from[r])
        return CDP_OK;
    if (!cdp_audit_token_ok(request_id))
        return cdp_err_set(replay->err, CDP_CORRUPT, "erasures.ledger: seq %llu: bad request_id",
                           (unsigned long long)seq);
    /* The journal entry is written in the erasure's own atomic batch: when it is there, the
     * erasure is in this store already. */
    char key[META_KEY_MAX];
    snprintf(key, sizeof key, "erasure/%s", request_id);
    uint8_t *value = NULL;
    size_t len = 0;
    cdp_region *region = cdp_vault_region(env->vaults[r]);
    cdp_status status =
        cdp_region_get(region, CDP_CF_META, (const uint8_t *)key, strlen(key), &value, &len,
                       replay->err);
    cdp_region_free_value(value);
    if (status == CDP_OK)
        return CDP_OK;
    if (status != CDP_NOT_FOUND)
        return status;
    cdp_err_clear(replay->err);
    status = apply_entry(env, r, request_id, entry, replay->err);
    if (status == CDP_OK)
        replay->applied_count[r]++;
    return status;
}

cdp_status cdp_privacy_ledger_replay(const cdp_identity_env *env, size_t *applied, cdp_err *err) {
    if (applied != NULL)
        *applied = 0;
    if (env->ledger == NULL)
        return CDP_OK;
    uint64_t position = cdp_ledger_position(env->ledger);
    uint64_t *from = cdp_calloc(env->region_count ? env->region_count : 1, sizeof *from);
    size_t *counts = cdp_calloc(env->region_count ? env->region_count : 1, sizeof *counts);
    cdp_status status = from && counts ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
    uint64_t lowest = position;
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++) {
        status = read_applied(cdp_vault_region(env->vaults[r]), &from[r], err);
        if (from[r] < lowest)
            lowest = from[r];
    }
    if (status == CDP_OK && lowest < position) {
        replay_context context = {.env = env, .applied_from = from, .applied_count = counts,
                                  .err = err};
        status = cdp_ledger_foreach(env->ledger, lowest, replay_one, &context, err);
    }
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++) {
        cdp_region *region = cdp_vault_region(env->vaults[r]);
        if (counts[r] > 0) {
            /* As erasure's purge: memtables to SST (the WAL holding the replayed people's
             * records becomes obsolete), then every personal-data family compacted. */
            static const cdp_cf families[] = {CDP_CF_KEYS,    CDP_CF_PROFILES, CDP_CF_EVENTS,
                                              CDP_CF_CONSENT, CDP_CF_MERGES,   CDP_CF_IDENTITY};
            status = cdp_region_flush(region, err);
            for (size_t i = 0; status == CDP_OK && i < sizeof families / sizeof families[0]; i++)
                status = cdp_region_compact(region, families[i], NULL, 0, NULL, 0, err);
            if (applied != NULL)
                *applied += counts[r];
        }
        if (status == CDP_OK && from[r] != position)
            status = write_applied(region, position, err);
    }
    cdp_free(from);
    cdp_free(counts);
    return status;
}

/* ---- files ------------------------------------------------------------------------------- */

static int path_exists(const char *path) {
    struct stat info;
    return lstat(path, &info) == 0;
}

/* Copies one regular file (any size), fsync'd, created with mode (O_EXCL). */
static cdp_status copy_file(const char *from, const char *to, int mode, cdp_err *err) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return cdp_err_set(err, errno == ENOENT ? CDP_NOT_FOUND : CDP_IO, "%s: %s", from,
                           strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    cdp_status status = CDP_OK;
    if (out < 0)
        status = cdp_err_set(err, CDP_IO, "%s: %s", to, strerror(errno));
    char buffer[1 << 16];
    while (status == CDP_OK) {
        ssize_t got = read(in, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            status = cdp_err_set(err, CDP_IO, "%s: read: %s", from, strerror(errno));
        if (got <= 0)
            break;
        for (ssize_t done = 0; done < got && status == CDP_OK;) {
            ssize_t written = write(out, buffer + done, (size_t)(got - done));
            if (written < 0 && errno == EINTR)
                continue;
            if (written <= 0)
                status = cdp_err_set(err, CDP_IO, "%s: write: %s", to, strerror(errno));
            else
                done += written;
        }
    }
    if (status == CDP_OK && fsync(out) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: fsync: %s", to, strerror(errno));
    if (out >= 0)
        close(out);
    close(in);
    return status;
}

static cdp_status sync_dir(const char *path, cdp_err *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cdp_status status = CDP_OK;
    if (fd < 0 || fsync(fd) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: cannot sync: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return status;
}

/* Copies every regular file of src (flat) into the new directory dst. */
static cdp_status copy_dir(const char *src, const char *dst, int mode, cdp_err *err) {
    DIR *dir = opendir(src);
    if (dir == NULL)
        return cdp_err_set(err, errno == ENOENT ? CDP_CORRUPT : CDP_IO, "%s: %s", src,
                           strerror(errno));
    cdp_status status = cdp_mkdir(dst, 0700, err);
    struct dirent *entry;
    while (status == CDP_OK && (entry = readdir(dir)) != NULL) {
        char from[PATH_CAP], to[PATH_CAP];
        struct stat info;
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        status = cdp_path_join(from, sizeof from, src, entry->d_name, err);
        if (status == CDP_OK)
            status = cdp_path_join(to, sizeof to, dst, entry->d_name, err);
        if (status == CDP_OK && (lstat(from, &info) != 0 || !S_ISREG(info.st_mode)))
            continue;
        if (status == CDP_OK)
            status = copy_file(from, to, mode, err);
    }
    closedir(dir);
    if (status == CDP_OK)
        status = sync_dir(dst, err);
    return status;
}

static cdp_status join3(char *out, const char *a, const char *b, const char *c, cdp_err *err) {
    char middle[PATH_CAP];
    cdp_status status = cdp_path_join(middle, sizeof middle, a, b, err);
    return status == CDP_OK ? cdp_path_join(out, PATH_CAP, middle, c, err) : status;
}

/* ---- the manifest ------------------------------------------------------------------------ */

static void manifest_mac(const cdp_rootkey *rootkey, const char *text, char hex[2 * MAC_BYTES + 1]) {
    uint8_t key[crypto_generichash_KEYBYTES], mac[MAC_BYTES];
    crypto_kdf_derive_from_key(key, sizeof key, MAC_SUBKEY_ID, MAC_CONTEXT,
                               cdp_rootkey_bytes(rootkey));
    crypto_generichash(mac, sizeof mac, (const uint8_t *)text, strlen(text), key, sizeof key);
    sodium_memzero(key, sizeof key);
    cdp_hex_encode(hex, mac, sizeof mac);
}

/* The manifest's text without its MAC, canonical (sorted keys), as the MAC covers it. Caller
 * frees with free(). */
static char *manifest_body_text(json_t *manifest) {
    json_t *copy = json_deep_copy(manifest);
    if (copy == NULL)
        return NULL;
    json_object_del(copy, "mac");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

/* ---- backup ------------------------------------------------------------------------------ */

static int dir_is_empty(const char *path) {
    DIR *dir = opendir(path);
    if (dir == NULL)
        return 0;
    struct dirent *entry;
    int empty = 1;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            empty = 0;
    closedir(dir);
    return empty;
}

/* Copies data_dir/name to backup_dir/name when it exists (optional) or always (required). */
static cdp_status copy_top_file(const char *from_dir, const char *to_dir, const char *name,
                                int required, cdp_err *err) {
    char from[PATH_CAP], to[PATH_CAP];
    cdp_status status = cdp_path_join(from, sizeof from, from_dir, name, err);
    if (status == CDP_OK)
        status = cdp_path_join(to, sizeof to, to_dir, name, err);
    if (status == CDP_OK && !required && !path_exists(from))
        return CDP_OK;
    if (status == CDP_OK)
        status = copy_file(from, to, 0600, err);
    if (status == CDP_NOT_FOUND)
        status = cdp_err_set(err, CDP_CORRUPT, "%s: missing", from);
    return status;
}

cdp_status cdp_privacy_backup(const cdp_identity_env *env, const cdp_rootkey *rootkey,
                              const char *data_dir, const char *backup_dir, int64_t now_ms,
                              cdp_err *err) {
    char path[PATH_CAP], regions_dir[PATH_CAP];
    json_t *manifest = NULL, *regions = NULL;
    char *body = NULL, *text = NULL;
    int made = 0, existed = 0;
    cdp_status status = CDP_OK;
    if (env->ledger == NULL)
        return cdp_err_set(err, CDP_MISUSE, "backup: the data directory has no erasure ledger");
    if (path_exists(backup_dir)) {
        if (!dir_is_empty(backup_dir))
            return cdp_err_set(err, CDP_EXISTS,
                               "backup_dir: %s exists and is not empty; a backup never "
                               "overwrites anything",
                               backup_dir);
        existed = 1;
    } else {
        status = cdp_mkdir(backup_dir, 0700, err);
        if (status != CDP_OK)
            return status;
    }
    made = 1;
    /* The ledger position first, then the copies: every erasure at or before it is in the
     * regions copied (its ledger line is written after its batch is durable), and the handle's
     * exclusive lock keeps new ones out until the copy is done. */
    uint64_t position = cdp_ledger_position(env->ledger);
    status = cdp_path_join(regions_dir, sizeof regions_dir, backup_dir, DIR_REGIONS, err);
    if (status == CDP_OK)
        status = cdp_mkdir(regions_dir, 0700, err);
    regions = json_array();
    if (status == CDP_OK && regions == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++) {
        status = cdp_path_join(path, sizeof path, regions_dir, env->region_ids[r], err);
        if (status == CDP_OK)
            status = cdp_region_checkpoint(cdp_vault_region(env->vaults[r]), path, err);
        if (status == CDP_OK && json_array_append_new(regions, json_string(env->region_ids[r])))
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        cdp_crash_point("backup.after_region");
    }
    if (status == CDP_OK)
        status = copy_top_file(data_dir, backup_dir, FILE_KEYSTORE, 1, err);
    if (status == CDP_OK)
        status = copy_top_file(data_dir, backup_dir, FILE_FORMAT, 1, err);
    if (status == CDP_OK)
        status = copy_top_file(data_dir, backup_dir, FILE_APIKEYS, 0, err);
    if (status == CDP_OK)
        status = copy_top_file(data_dir, backup_dir, CDP_LEDGER_FILE, 1, err);
    if (status == CDP_OK) {
        char from[PATH_CAP], to[PATH_CAP];
        status = cdp_path_join(from, sizeof from, data_dir, DIR_POLICIES, err);
        if (status == CDP_OK)
            status = cdp_path_join(to, sizeof to, backup_dir, DIR_POLICIES, err);
        if (status == CDP_OK)
            status = copy_dir(from, to, 0600, err);
    }
    if (status != CDP_OK)
        goto done;
    manifest = json_pack("{s:s, s:I, s:{s:s, s:I}, s:O, s:s}", "format", CDP_BACKUP_FORMAT,
                         "created", (json_int_t)now_ms, "ledger", "id",
                         cdp_ledger_id(env->ledger), "position", (json_int_t)position, "regions",
                         regions, "root_key",
                         "not included: kept by the operator; restoring needs the same root key");
    body = manifest ? manifest_body_text(manifest) : NULL;
    if (body == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    char mac[2 * MAC_BYTES + 1];
    manifest_mac(rootkey, body, mac);
    if (json_object_set_new(manifest, "mac", json_string(mac)) != 0 ||
        (text = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    /* Written last: a directory without a manifest is an unfinished backup, never restored. */
    status = cdp_path_join(path, sizeof path, backup_dir, CDP_BACKUP_MANIFEST, err);
    if (status == CDP_OK)
        status = cdp_file_write_atomic(path, text, strlen(text), 0600, err);
done:
    if (status != CDP_OK && made) {
        /* Leave nothing half-made; an empty directory the caller gave stays, empty. */
        cdp_remove_tree(backup_dir);
        if (existed)
            (void)cdp_mkdir(backup_dir, 0700, NULL);
    }
    free(text);
    free(body);
    json_decref(manifest);
    json_decref(regions);
    return status;
}

/* ---- restore ----------------------------------------------------------------------------- */

typedef struct backup_info {
    json_t *manifest;
    const char *ledger_id;
    uint64_t position;
    json_t *regions;
} backup_info;

static cdp_status read_manifest(const char *backup_dir, const cdp_rootkey *rootkey,
                                backup_info *info, cdp_err *err) {
    char path[PATH_CAP];
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(info, 0, sizeof *info);
    cdp_status status = cdp_path_join(path, sizeof path, backup_dir, CDP_BACKUP_MANIFEST, err);
    if (status == CDP_OK)
        status = cdp_file_read(path, MANIFEST_MAX, &bytes, &len, err);
    if (status == CDP_NOT_FOUND)
        return cdp_err_set(err, CDP_NOT_FOUND,
                           "%s: no backup manifest (not a backup, or one that did not finish)",
                           path);
    if (status != CDP_OK)
        return status;
    json_error_t parse_error;
    info->manifest = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &parse_error);
    cdp_free(bytes);
    if (!json_is_object(info->manifest))
        return cdp_err_set(err, CDP_CORRUPT, "%s: does not parse: %s", path, parse_error.text);
    const char *format = json_string_value(json_object_get(info->manifest, "format"));
    json_t *ledger = json_object_get(info->manifest, "ledger");
    json_t *position = json_object_get(ledger, "position");
    info->ledger_id = json_string_value(json_object_get(ledger, "id"));
    info->regions = json_object_get(info->manifest, "regions");
    const char *mac = json_string_value(json_object_get(info->manifest, "mac"));
    if (format == NULL || strcmp(format, CDP_BACKUP_FORMAT) != 0)
        return cdp_err_set(err, CDP_CORRUPT, "%s: format: expected \"%s\"", path,
                           CDP_BACKUP_FORMAT);
    if (info->ledger_id == NULL || strlen(info->ledger_id) != CDP_LEDGER_ID_HEX)
        return cdp_err_set(err, CDP_CORRUPT, "%s: ledger.id: expected %d hex characters", path,
                           CDP_LEDGER_ID_HEX);
    if (!json_is_integer(position) || json_integer_value(position) < 0)
        return cdp_err_set(err, CDP_CORRUPT, "%s: ledger.position: expected a count", path);
    info->position = (uint64_t)json_integer_value(position);
    if (!json_is_array(info->regions) || json_array_size(info->regions) == 0)
        return cdp_err_set(err, CDP_CORRUPT, "%s: regions: expected a list of region ids", path);
    for (size_t i = 0; i < json_array_size(info->regions); i++) {
        const char *id = json_string_value(json_array_get(info->regions, i));
        if (id == NULL || !cdp_audit_token_ok(id) || strchr(id, '.') != NULL ||
            strlen(id) > CDP_REGION_NAME_MAX)
            return cdp_err_set(err, CDP_CORRUPT, "%s: regions[%zu]: not a region id", path, i);
    }
    if (mac == NULL)
        return cdp_err_set(err, CDP_CORRUPT, "%s: mac: missing", path);
    char *body = manifest_body_text(info->manifest);
    if (body == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    char expected[2 * MAC_BYTES + 1];
    manifest_mac(rootkey, body, expected);
    free(body);
    if (strlen(mac) != strlen(expected) || sodium_memcmp(mac, expected, strlen(expected)) != 0)
        return cdp_err_set(err, CDP_CORRUPT,
                           "%s: mac: does not verify (the manifest was changed after the backup)",
                           path);
    return CDP_OK;
}

/* What may be in a target that is not a data directory (no FORMAT): the root key, the ledger and
 * the API keys the operator put there, and what an interrupted restore left. */
static cdp_status check_target(const char *data_dir, cdp_err *err) {
    char path[PATH_CAP];
    cdp_status status = cdp_path_join(path, sizeof path, data_dir, FILE_FORMAT, err);
    if (status != CDP_OK)
        return status;
    if (path_exists(path)) {
        /* A data directory: it must be stopped. Opening each region takes RocksDB's lock. */
        char regions[PATH_CAP];
        status = cdp_path_join(regions, sizeof regions, data_dir, DIR_REGIONS, err);
        DIR *dir = status == CDP_OK ? opendir(regions) : NULL;
        struct dirent *entry;
        while (dir != NULL && status == CDP_OK && (entry = readdir(dir)) != NULL) {
            if (entry->d_name[0] == '.')
                continue;
            cdp_region *region = NULL;
            cdp_region_options options = {0};
            status = cdp_path_join(path, sizeof path, regions, entry->d_name, err);
            cdp_err open_err = {0};
            if (status == CDP_OK &&
                cdp_region_open(path, entry->d_name, &options, &region, &open_err) != CDP_OK &&
                strstr(open_err.message, "lock") != NULL)
                status = cdp_err_set(err, CDP_CONFLICT,
                                     "%s: the data directory is in use (stop cdpd and every "
                                     "process that has it open first)",
                                     data_dir);
            cdp_region_close(region);
        }
        if (dir != NULL)
            closedir(dir);
        return status;
    }
    status = cdp_path_join(path, sizeof path, data_dir, RESTORING_MARKER, err);
    if (status != CDP_OK || path_exists(path))
        return status;
    DIR *dir = opendir(data_dir);
    if (dir == NULL)
        return cdp_err_set(err, CDP_IO, "%s: %s", data_dir, strerror(errno));
    struct dirent *entry;
    while (status == CDP_OK && (entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strcmp(name, FILE_ROOT_KEY) == 0 || strcmp(name, CDP_LEDGER_FILE) == 0 ||
            strcmp(name, FILE_APIKEYS) == 0)
            continue;
        status = cdp_err_set(err, CDP_EXISTS,
                             "%s: not a data directory and not empty (%s); restore into a data "
                             "directory, a new one, or one holding only root.key, "
                             "erasures.ledger and apikeys",
                             data_dir, name);
    }
    closedir(dir);
    return status;
}

static cdp_status mark_applied(const char *data_dir, const char *region_id, uint64_t position,
                               cdp_err *err) {
    char path[PATH_CAP];
    cdp_region *region = NULL;
    cdp_region_options options = {0};
    cdp_status status = join3(path, data_dir, DIR_REGIONS, region_id, err);
    if (status == CDP_OK)
        status = cdp_region_open(path, region_id, &options, &region, err);
    if (status == CDP_OK)
        status = write_applied(region, position, err);
    cdp_region_close(region);
    return status;
}

cdp_status cdp_privacy_restore_files(const char *backup_dir, const char *data_dir,
                                     cdp_err *err) {
    char path[PATH_CAP], from[PATH_CAP], to[PATH_CAP];
    cdp_rootkey *rootkey = NULL;
    cdp_keystore *keystore = NULL;
    backup_info info;
    memset(&info, 0, sizeof info);
    cdp_status status = CDP_OK;
    if (!path_exists(backup_dir)) {
        status = cdp_err_set(err, CDP_NOT_FOUND, "%s: no such backup directory", backup_dir);
        goto done;
    }
    /* The root key: from the environment, else the target's root.key. */
    status = cdp_path_join(path, sizeof path, data_dir, FILE_ROOT_KEY, err);
    if (status == CDP_OK)
        status = cdp_rootkey_load(path, &rootkey, err);
    if (status == CDP_NOT_FOUND) {
        status = cdp_err_set(err, CDP_BAD_KEY,
                             "%s: no root key: restoring needs the root key the backup was made "
                             "under (CDP_ROOT_KEY, or root.key in the data directory)",
                             path);
        goto done;
    }
    if (status != CDP_OK)
        goto done;
    /* The keystore first: a wrong root key is CDP_BAD_KEY, before the manifest's MAC (which
     * would fail too) can blame the manifest. */
    status = cdp_path_join(path, sizeof path, backup_dir, CDP_BACKUP_MANIFEST, err);
    if (status == CDP_OK && !path_exists(path)) {
        status = cdp_err_set(err, CDP_NOT_FOUND,
                             "%s: no backup manifest (not a backup, or one that did not finish)",
                             path);
        goto done;
    }
    status = cdp_path_join(path, sizeof path, backup_dir, FILE_KEYSTORE, err);
    if (status == CDP_OK)
        status = cdp_keystore_open(path, rootkey, &keystore, err);
    if (status == CDP_NOT_FOUND)
        status = cdp_err_set(err, CDP_CORRUPT, "%s: missing from the backup", path);
    if (status == CDP_BAD_KEY)
        cdp_err_prefix(err, "backup keystore (restore needs the root key it was made under)");
    if (status == CDP_OK)
        status = read_manifest(backup_dir, rootkey, &info, err);
    for (size_t i = 0; status == CDP_OK && i < json_array_size(info.regions); i++) {
        const char *id = json_string_value(json_array_get(info.regions, i));
        const cdp_region_keys *keys = NULL;
        status = join3(path, backup_dir, DIR_REGIONS, id, err);
        if (status == CDP_OK && !path_exists(path))
            status = cdp_err_set(err, CDP_CORRUPT, "%s: region %s is missing from the backup",
                                 path, id);
        if (status == CDP_OK && cdp_keystore_current(keystore, id, &keys, NULL) != CDP_OK)
            status = cdp_err_set(err, CDP_CORRUPT, "%s: keystore: no keys for region %s",
                                 backup_dir, id);
    }
    const char *required[] = {FILE_FORMAT, CDP_LEDGER_FILE, DIR_POLICIES};
    for (size_t i = 0; status == CDP_OK && i < sizeof required / sizeof required[0]; i++) {
        status = cdp_path_join(path, sizeof path, backup_dir, required[i], err);
        if (status == CDP_OK && !path_exists(path))
            status = cdp_err_set(err, CDP_CORRUPT, "%s: missing from the backup", path);
    }
    if (status != CDP_OK)
        goto done;

    /* The target, and whose ledger wins. */
    if (!path_exists(data_dir))
        status = cdp_mkdir(data_dir, 0700, err);
    else
        status = check_target(data_dir, err);
    char ledger_path[PATH_CAP];
    if (status == CDP_OK)
        status = cdp_path_join(ledger_path, sizeof ledger_path, data_dir, CDP_LEDGER_FILE, err);
    int keep_ledger = status == CDP_OK && path_exists(ledger_path);
    if (keep_ledger) {
        char id[CDP_LEDGER_ID_HEX + 1];
        uint64_t position = 0;
        status = cdp_ledger_peek(ledger_path, id, &position, err);
        if (status == CDP_OK && strcmp(id, info.ledger_id) != 0)
            status = cdp_err_set(err, CDP_CONFLICT,
                                 "%s: belongs to another data directory (ledger id %s, the "
                                 "backup's is %s)",
                                 ledger_path, id, info.ledger_id);
        if (status == CDP_OK && position < info.position)
            status = cdp_err_set(err, CDP_CONFLICT,
                                 "%s: ends at erasure %llu, before the backup's position %llu "
                                 "(an older copy of the ledger)",
                                 ledger_path, (unsigned long long)position,
                                 (unsigned long long)info.position);
    }
    if (status != CDP_OK)
        goto done;

    /* From here on the target changes. FORMAT goes first and comes back last: a crash in
     * between leaves a directory that cdp_open refuses and that restore accepts again. */
    status = cdp_path_join(path, sizeof path, data_dir, RESTORING_MARKER, err);
    if (status == CDP_OK)
        status = cdp_file_write_atomic(path, "restoring\n", 10, 0600, err);
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, FILE_FORMAT, err);
    if (status == CDP_OK && path_exists(path) && unlink(path) != 0)
        status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    if (status == CDP_OK)
        status = sync_dir(data_dir, err);
    const char *replaced[] = {DIR_REGIONS, DIR_POLICIES, FILE_KEYSTORE};
    for (size_t i = 0; status == CDP_OK && i < sizeof replaced / sizeof replaced[0]; i++) {
        status = cdp_path_join(path, sizeof path, data_dir, replaced[i], err);
        if (status == CDP_OK)
            cdp_remove_tree(path);
    }
    cdp_crash_point("restore.after_remove");
    if (status == CDP_OK)
        status = cdp_path_join(path, sizeof path, data_dir, DIR_REGIONS, err);
    if (status == CDP_OK)
        status = cdp_mkdir(path, 0700, err);
    for (size_t i = 0; status == CDP_OK && i < json_array_size(info.regions); i++) {
        const char *id = json_string_value(json_array_get(info.regions, i));
        status = join3(from, backup_dir, DIR_REGIONS, id, err);
        if (status == CDP_OK)
            status = join3(to, data_dir, DIR_REGIONS, id, err);
        if (status == CDP_OK)
            status = copy_dir(from, to, 0600, err);
    }
    if (status == CDP_OK)
        status = cdp_path_join(from, sizeof from, backup_dir, DIR_POLICIES, err);
    if (status == CDP_OK)
        status = cdp_path_join(to, sizeof to, data_dir, DIR_POLICIES, err);
    if (status == CDP_OK)
        status = copy_dir(from, to, 0644, err);
    if (status == CDP_OK)
        status = copy_top_file(backup_dir, data_dir, FILE_KEYSTORE, 1, err);
    if (status == CDP_OK && !keep_ledger)
        status = copy_top_file(backup_dir, data_dir, CDP_LEDGER_FILE, 1, err);
    /* API keys revoked since the backup must stay revoked: the target's file wins. */
    if (status == CDP_OK) {
        status = cdp_path_join(path, sizeof path, data_dir, FILE_APIKEYS, err);
        if (status == CDP_OK && !path_exists(path))
            status = copy_top_file(backup_dir, data_dir, FILE_APIKEYS, 0, err);
    }
    /* Every region is up to date with the ledger as far as the backup's position: the open
     * that follows applies every erasure after it. */
    for (size_t i = 0; status == CDP_OK && i < json_array_size(info.regions); i++)
        status = mark_applied(data_dir, json_string_value(json_array_get(info.regions, i)),
                              info.position, err);
    if (status == CDP_OK)
        status = sync_dir(data_dir, err);
    cdp_crash_point("restore.before_format");
    if (status == CDP_OK) {
        char format_to[PATH_CAP];
        status = cdp_path_join(from, sizeof from, backup_dir, FILE_FORMAT, err);
        if (status == CDP_OK)
            status = cdp_path_join(format_to, sizeof format_to, data_dir, FILE_FORMAT, err);
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (status == CDP_OK)
            status = cdp_file_read(from, 256, &bytes, &len, err);
        if (status == CDP_OK)
            status = cdp_file_write_atomic(format_to, bytes, len, 0644, err);
        cdp_free(bytes);
    }
    if (status == CDP_OK) {
        status = cdp_path_join(path, sizeof path, data_dir, RESTORING_MARKER, err);
        if (status == CDP_OK && unlink(path) != 0)
            status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    }
done:
    json_decref(info.manifest);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
    return status;
}
