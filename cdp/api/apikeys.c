/* API keys: roles, actors, and the key store DIR/apikeys (JSON, mode 0600) that holds each key's
 * BLAKE2b-256 hash, never the key. Writers serialise on DIR/apikeys.lock (flock: other processes
 * such as `cdpctl keys create` write while a server runs); readers keep a per-process cache of the
 * parsed file, keyed by path, and reload it when stat() shows a new file (every write renames a
 * new inode into place). The cache keeps the loaded file open: while it is open its inode number
 * cannot be given to a new file, so "same inode" really means "same file". */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/apikeys.h"
#include "policy/privacy.h"
#include "api/handle.h"
#include "audit/admin.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/fs.h"

#define APIKEYS_FILE "apikeys"
#define APIKEYS_LOCK_FILE "apikeys.lock"
#define APIKEYS_MAX_FILE_BYTES (16u << 20)
#define PATH_CAP 4096

#define KEY_PREFIX "cdp_"
#define KEY_PREFIX_LEN 4
#define KEY_ID_BYTES 8
#define KEY_ID_HEX (2 * KEY_ID_BYTES)
#define KEY_RANDOM_BYTES 32
#define KEY_RANDOM_CHARS 43 /* base64url of 32 bytes, no padding */
#define KEY_LEN (KEY_PREFIX_LEN + KEY_ID_HEX + 1 + KEY_RANDOM_CHARS)
#define KEY_HASH_BYTES crypto_generichash_BYTES /* 32: BLAKE2b-256 */
#define CREATED_AT_MAX 32
/* Data directories whose key tables a process keeps parsed; the least recently used goes. */
#define CACHE_SLOTS 8

typedef struct apikey_entry {
    char key_id[KEY_ID_HEX + 1];
    cdp_role role;
    char region[CDP_REGION_ID_MAX + 1];
    char source[CDP_SOURCE_MAX + 1];
    char purposes[CDP_PURPOSES_MAX + 1];
    char created_at[CREATED_AT_MAX];
    int revoked;
    uint8_t hash[KEY_HASH_BYTES];
} apikey_entry;

typedef struct apikey_table {
    apikey_entry *entries;
    size_t count;
} apikey_table;

/* What stat() said about the file when the table was loaded: a rename gives a new inode. */
typedef struct file_identity {
    int exists;
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified;
} file_identity;

typedef struct cache_slot {
    char *path; /* DIR/apikeys; NULL: slot free */
    int fd;     /* the loaded file, kept open; -1 when there was none */
    file_identity seen;
    apikey_table table;
    unsigned long long last_used;
} cache_slot;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_slot cache[CACHE_SLOTS];
static unsigned long long cache_clock;

static const char *const role_names[] = {
    [CDP_ROLE_INGEST] = "ingest", [CDP_ROLE_PERSONALIZATION] = "personalization",
    [CDP_ROLE_DPO] = "dpo",       [CDP_ROLE_AUDITOR] = "auditor",
    [CDP_ROLE_ADMIN] = "admin",
};

static int role_valid(cdp_role role) { return role >= CDP_ROLE_INGEST && role <= CDP_ROLE_ADMIN; }

const char *cdp_role_name(cdp_role role) { return role_valid(role) ? role_names[role] : "unknown"; }

cdp_status cdp_role_parse(const char *name, cdp_role *out) {
    if (name == NULL || out == NULL)
        return CDP_BAD_REQUEST;
    for (int role = CDP_ROLE_INGEST; role <= CDP_ROLE_ADMIN; role++)
        if (strcmp(name, role_names[role]) == 0) {
            *out = (cdp_role)role;
            return CDP_OK;
        }
    return CDP_BAD_REQUEST;
}

/* ---- Validation of key attributes ------------------------------------------------------ */

static int is_lower_digit_underscore(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* [a-z0-9_]{1,32} */
static int source_valid(const char *source) {
    size_t len = strlen(source);
    if (len == 0 || len > CDP_SOURCE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_digit_underscore(source[i]))
            return 0;
    return 1;
}

/* A comma-separated list of [a-z_]{1,32}, at most CDP_PURPOSES_MAX characters in all, each a
 * purpose of the policy that the role may use (a key can only be narrowed, never widened). */
static cdp_status check_purposes(const cdp_policy *policy, cdp_role role, const char *purposes,
                                 cdp_err *err) {
    size_t total = strlen(purposes);
    if (total > CDP_PURPOSES_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "purposes: longer than %d characters",
                           CDP_PURPOSES_MAX);
    const char *item = purposes;
    for (;;) {
        size_t len = strcspn(item, ",");
        int ok = len >= 1 && len <= 32;
        for (size_t i = 0; ok && i < len; i++)
            ok = (item[i] >= 'a' && item[i] <= 'z') || item[i] == '_';
        if (!ok)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "purposes: \"%.*s\" is not a purpose name (1 to 32 characters "
                               "of a-z and _, separated by commas)",
                               (int)(len > 64 ? 64 : len), item);
        char name[33];
        memcpy(name, item, len);
        name[len] = '\0';
        if (cdp_policy_purpose(policy, name) == NULL)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "purposes: \"%s\" is not a purpose of policies/purposes.json", name);
        if (!cdp_policy_role_may_use(policy, cdp_role_name(role), name))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "purposes: role %s may not use \"%s\" (policies/roles.json)",
                               cdp_role_name(role), name);
        if (item[len] == '\0')
            return CDP_OK;
        item += len + 1;
    }
}

/* Resolves a region argument (NULL: the bundle's default) into out. */
static cdp_status resolve_region(const cdp_policy *policy, const char *region, char *out,
                                 cdp_err *err) {
    if (region == NULL || *region == '\0')
        region = cdp_policy_default_region(policy);
    if (region == NULL || cdp_policy_region(policy, region) == NULL ||
        strlen(region) > CDP_REGION_ID_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "region: unknown region \"%.32s\"",
                           region ? region : "");
    snprintf(out, CDP_REGION_ID_MAX + 1, "%s", region);
    return CDP_OK;
}

static cdp_status check_source(const char *source, cdp_err *err) {
    if (source != NULL && *source != '\0' && !source_valid(source))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "source: \"%.40s\" is not a channel name (1 to 32 characters of "
                           "a-z, 0-9 and _)",
                           source);
    return CDP_OK;
}

cdp_status cdp_actor_local(cdp_t *db, cdp_role role, const char *region, const char *source,
                           cdp_actor *actor) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || !role_valid(role)) {
        cdp_err_set(&err, CDP_MISUSE, "actor_local: NULL argument or unknown role");
        return cdp_handle_fail(db, &err);
    }
    cdp_actor local;
    memset(&local, 0, sizeof local);
    snprintf(local.key_id, sizeof local.key_id, "local");
    local.role = role;
    cdp_status status = resolve_region(cdp_handle_policy(db), region, local.region, &err);
    if (status == CDP_OK)
        status = check_source(source, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    if (source != NULL)
        snprintf(local.source, sizeof local.source, "%s", source);
    *actor = local;
    return CDP_OK;
}

static void actor_from_entry(const apikey_entry *entry, cdp_actor *actor) {
    memset(actor, 0, sizeof *actor);
    snprintf(actor->key_id, sizeof actor->key_id, "%s", entry->key_id);
    actor->role = entry->role;
    snprintf(actor->region, sizeof actor->region, "%s", entry->region);
    snprintf(actor->source, sizeof actor->source, "%s", entry->source);
    snprintf(actor->purposes, sizeof actor->purposes, "%s", entry->purposes);
}

/* ---- The file ------------------------------------------------------------------------------ */

static int is_lower_hex(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    return 1;
}

/* Copies a string member into out (cap bytes with NUL); 0 if missing, not a string or too long. */
static int copy_member(json_t *object, const char *name, char *out, size_t cap) {
    json_t *value = json_object_get(object, name);
    if (!json_is_string(value) || json_string_length(value) >= cap ||
        strlen(json_string_value(value)) != json_string_length(value))
        return 0;
    memcpy(out, json_string_value(value), json_string_length(value) + 1);
    return 1;
}

static cdp_status parse_entry(json_t *item, size_t index, apikey_entry *entry, cdp_err *err) {
    char role[32], hash_hex[2 * KEY_HASH_BYTES + 1];
    memset(entry, 0, sizeof *entry);
    const char *bad = NULL;
    if (!json_is_object(item))
        bad = "not an object";
    else if (!copy_member(item, "key_id", entry->key_id, sizeof entry->key_id) ||
             strlen(entry->key_id) != KEY_ID_HEX || !is_lower_hex(entry->key_id, KEY_ID_HEX))
        bad = "key_id";
    else if (!copy_member(item, "role", role, sizeof role) ||
             cdp_role_parse(role, &entry->role) != CDP_OK)
        bad = "role";
    else if (!copy_member(item, "region", entry->region, sizeof entry->region))
        bad = "region";
    else if (!copy_member(item, "source", entry->source, sizeof entry->source))
        bad = "source";
    else if (!copy_member(item, "purposes", entry->purposes, sizeof entry->purposes))
        bad = "purposes";
    else if (!copy_member(item, "created_at", entry->created_at, sizeof entry->created_at))
        bad = "created_at";
    else if (!json_is_boolean(json_object_get(item, "revoked")))
        bad = "revoked";
    else if (!copy_member(item, "hash", hash_hex, sizeof hash_hex) ||
             cdp_hex_decode(entry->hash, KEY_HASH_BYTES, hash_hex, strlen(hash_hex)) != 0)
        bad = "hash";
    if (bad != NULL)
        return cdp_err_set(err, CDP_CORRUPT, "apikeys: keys[%zu]: %s is missing or malformed",
                           index, bad);
    entry->revoked = json_is_true(json_object_get(item, "revoked"));
    return CDP_OK;
}

static void table_free(apikey_table *table) {
    if (table->entries != NULL)
        sodium_memzero(table->entries, table->count * sizeof *table->entries);
    cdp_free(table->entries);
    table->entries = NULL;
    table->count = 0;
}

/* Parses the file's bytes: {"version": 1, "keys": [...]}. */
static cdp_status table_parse(const uint8_t *bytes, size_t len, apikey_table *out, cdp_err *err) {
    json_error_t json_error;
    cdp_status status = CDP_OK;
    apikey_table table = {0};
    json_t *root = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL)
        return cdp_err_set(err, CDP_CORRUPT, "apikeys: line %d: %s", json_error.line,
                           json_error.text);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_object(root) || json_integer_value(json_object_get(root, "version")) != 1 ||
        !json_is_array(keys)) {
        status = cdp_err_set(err, CDP_CORRUPT, "apikeys: not a version 1 key file");
        goto done;
    }
    table.count = json_array_size(keys);
    table.entries = cdp_calloc(table.count, sizeof *table.entries);
    if (table.entries == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
        table.count = 0;
        goto done;
    }
    for (size_t i = 0; status == CDP_OK && i < table.count; i++)
        status = parse_entry(json_array_get(keys, i), i, &table.entries[i], err);
done:
    json_decref(root);
    if (status != CDP_OK)
        table_free(&table);
    else
        *out = table;
    return status;
}

/* Reads and parses the file; a missing file is an empty table. */
static cdp_status table_read(const char *path, apikey_table *out, cdp_err *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    cdp_status status = cdp_file_read(path, APIKEYS_MAX_FILE_BYTES, &bytes, &len, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        return CDP_OK;
    }
    if (status == CDP_OK)
        status = table_parse(bytes, len, out, err);
    cdp_free(bytes);
    return status;
}

/* Frees text from json_dumps with jansson's own allocator (the process may have replaced it). */
static void json_text_free(char *text) {
    json_malloc_t malloc_function;
    json_free_t free_function;
    json_get_alloc_funcs(&malloc_function, &free_function);
    if (text != NULL)
        free_function(text);
}

static cdp_status table_write(const char *path, const apikey_table *table, cdp_err *err) {
    cdp_status status = CDP_OK;
    char *text = NULL;
    json_t *root = json_object();
    json_t *keys = json_array();
    if (root == NULL || keys == NULL || json_object_set_new(root, "version", json_integer(1)) ||
        json_object_set(root, "keys", keys)) {
        status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    for (size_t i = 0; i < table->count; i++) {
        const apikey_entry *entry = &table->entries[i];
        char hash_hex[2 * KEY_HASH_BYTES + 1];
        cdp_hex_encode(hash_hex, entry->hash, KEY_HASH_BYTES);
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "key_id", entry->key_id, "role",
                      cdp_role_name(entry->role), "region", entry->region, "source", entry->source,
                      "purposes", entry->purposes, "created_at", entry->created_at, "revoked",
                      entry->revoked, "hash", hash_hex);
        if (item == NULL || json_array_append_new(keys, item) != 0) {
            status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
            goto done;
        }
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    status = cdp_file_write_atomic(path, text, strlen(text), 0600, err);
done:
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        json_text_free(text);
    }
    json_decref(keys);
    json_decref(root);
    return status;
}

/* Exclusive hold on DIR/apikeys.lock for a read-modify-write of the file; -1 on failure. */
static int lock_store(const char *data_dir, cdp_err *err) {
    char path[PATH_CAP];
    if (cdp_path_join(path, sizeof path, data_dir, APIKEYS_LOCK_FILE, err) != CDP_OK)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            cdp_err_set(err, CDP_IO, "%s: flock: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_store(int fd) {
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* DIR/apikeys, after checking DIR is a data directory (so a typo creates nothing). */
static cdp_status store_path(const char *data_dir, char *path, cdp_err *err) {
    struct stat info;
    cdp_status status = cdp_path_join(path, PATH_CAP, data_dir, CDP_FILE_FORMAT, err);
    if (status != CDP_OK)
        return status;
    if (stat(path, &info) != 0)
        return cdp_err_set(err, CDP_NOT_FOUND, "%s: no such data directory (cdpctl init)",
                           data_dir);
    return cdp_path_join(path, PATH_CAP, data_dir, APIKEYS_FILE, err);
}

/* ---- The read cache ------------------------------------------------------------------------ */

static void identity_of(const struct stat *info, file_identity *out) {
    out->exists = 1;
    out->device = info->st_dev;
    out->inode = info->st_ino;
    out->size = info->st_size;
    out->modified = info->st_mtim;
}

static cdp_status stat_identity(const char *path, file_identity *out, cdp_err *err) {
    struct stat info;
    memset(out, 0, sizeof *out);
    if (stat(path, &info) != 0) {
        if (errno == ENOENT)
            return CDP_OK;
        return cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    }
    identity_of(&info, out);
    return CDP_OK;
}

/* Opens and parses the file, returning the open descriptor and the identity of exactly the
 * bytes parsed (a missing file: fd -1, an empty table). */
static cdp_status table_load(const char *path, int *fd_out, file_identity *seen, apikey_table *out,
                             cdp_err *err) {
    struct stat info;
    uint8_t *bytes = NULL;
    cdp_status status = CDP_OK;
    memset(out, 0, sizeof *out);
    memset(seen, 0, sizeof *seen);
    *fd_out = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return CDP_OK;
        return cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &info) != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if ((size_t)info.st_size > APIKEYS_MAX_FILE_BYTES) {
        status =
            cdp_err_set(err, CDP_CORRUPT, "%s: larger than %u bytes", path, APIKEYS_MAX_FILE_BYTES);
        goto done;
    }
    size_t size = (size_t)info.st_size, got = 0;
    bytes = cdp_malloc(size + 1);
    if (bytes == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    while (got < size) {
        ssize_t n = pread(fd, bytes + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != size) {
        status = cdp_err_set(err, CDP_IO, "%s: short read", path);
        goto done;
    }
    status = table_parse(bytes, size, out, err);
    if (status == CDP_OK) {
        identity_of(&info, seen);
        *fd_out = fd;
        fd = -1;
    }
done:
    if (bytes != NULL)
        sodium_memzero(bytes, (size_t)info.st_size);
    cdp_free(bytes);
    if (fd >= 0)
        close(fd);
    return status;
}

static int same_identity(const file_identity *a, const file_identity *b) {
    if (a->exists != b->exists)
        return 0;
    return !a->exists ||
           (a->device == b->device && a->inode == b->inode && a->size == b->size &&
            a->modified.tv_sec == b->modified.tv_sec && a->modified.tv_nsec == b->modified.tv_nsec);
}

/* Finds key_id in the current table for path, reloading it when the file changed. *found is
 * set to 1 and *entry filled when present. Caller holds cache_lock. */
static cdp_status cache_lookup(const char *path, const char *key_id, apikey_entry *entry,
                               int *found, cdp_err *err) {
    file_identity now;
    *found = 0;
    cdp_status status = stat_identity(path, &now, err);
    if (status != CDP_OK)
        return status;
    cache_slot *slot = NULL, *oldest = &cache[0];
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].path != NULL && strcmp(cache[i].path, path) == 0) {
            slot = &cache[i];
            break;
        }
        if (cache[i].path == NULL ||
            (oldest->path != NULL && cache[i].last_used < oldest->last_used))
            oldest = &cache[i];
    }
    if (slot == NULL) {
        char *copy = cdp_strdup(path);
        if (copy == NULL)
            return cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
        slot = oldest;
        table_free(&slot->table);
        cdp_free(slot->path);
        if (slot->path != NULL && slot->fd >= 0)
            close(slot->fd);
        memset(slot, 0, sizeof *slot);
        slot->path = copy;
        slot->fd = -1;
        slot->seen.exists = -1; /* never matches: forces the first load */
    }
    slot->last_used = ++cache_clock;
    if (!same_identity(&slot->seen, &now)) {
        apikey_table table;
        file_identity seen;
        int fd = -1;
        status = table_load(path, &fd, &seen, &table, err);
        if (status != CDP_OK)
            return status;
        table_free(&slot->table);
        if (slot->fd >= 0)
            close(slot->fd);
        slot->table = table;
        slot->fd = fd;
        /* The identity of what was read; a file replaced since is caught by the next stat. */
        slot->seen = seen;
    }
    for (size_t i = 0; i < slot->table.count; i++)
        if (strcmp(slot->table.entries[i].key_id, key_id) == 0) {
            *entry = slot->table.entries[i];
            *found = 1;
            break;
        }
    return CDP_OK;
}

/* ---- Public functions ---------------------------------------------------------------------- */

static void format_now(char *out, size_t cap) {
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static void hash_secret(uint8_t hash[KEY_HASH_BYTES], const char *secret, size_t len) {
    crypto_generichash(hash, KEY_HASH_BYTES, (const unsigned char *)secret, len, NULL, 0);
}

cdp_status cdp_apikeys_create_at(const char *data_dir, const cdp_policy *policy, cdp_role role,
                                 const char *region, const char *source, const char *purposes,
                                 char **secret, cdp_actor *info, cdp_err *error) {
    cdp_err err = {0};
    char path[PATH_CAP];
    char key[KEY_LEN + 1];
    uint8_t random_part[KEY_RANDOM_BYTES], id_bytes[KEY_ID_BYTES];
    apikey_table table = {0};
    apikey_entry entry;
    int lock_fd = -1;
    cdp_status status = CDP_OK;
    memset(&entry, 0, sizeof entry);
    if (secret != NULL)
        *secret = NULL;
    if (data_dir == NULL || policy == NULL || secret == NULL || !role_valid(role)) {
        status = cdp_err_set(&err, CDP_MISUSE, "apikey_create: NULL argument or unknown role");
        goto done;
    }
    entry.role = role;
    status = resolve_region(policy, region, entry.region, &err);
    if (status == CDP_OK)
        status = check_source(source, &err);
    if (status == CDP_OK && purposes != NULL)
        status = check_purposes(policy, role, purposes, &err);
    if (status != CDP_OK)
        goto done;
    snprintf(entry.source, sizeof entry.source, "%s", source ? source : "");
    snprintf(entry.purposes, sizeof entry.purposes, "%s", purposes ? purposes : "");
    format_now(entry.created_at, sizeof entry.created_at);

    status = store_path(data_dir, path, &err);
    if (status != CDP_OK)
        goto done;
    lock_fd = lock_store(data_dir, &err);
    if (lock_fd < 0) {
        status = err.status;
        goto done;
    }
    status = table_read(path, &table, &err);
    if (status != CDP_OK)
        goto done;
    /* 64-bit random ids: a collision is unlikely, but must not give two keys one id. */
    for (int unique = 0; !unique;) {
        randombytes_buf(id_bytes, sizeof id_bytes);
        cdp_hex_encode(entry.key_id, id_bytes, sizeof id_bytes);
        unique = 1;
        for (size_t i = 0; i < table.count; i++)
            if (strcmp(table.entries[i].key_id, entry.key_id) == 0)
                unique = 0;
    }
    randombytes_buf(random_part, sizeof random_part);
    memcpy(key, KEY_PREFIX, KEY_PREFIX_LEN);
    memcpy(key + KEY_PREFIX_LEN, entry.key_id, KEY_ID_HEX);
    key[KEY_PREFIX_LEN + KEY_ID_HEX] = '_';
    sodium_bin2base64(key + KEY_PREFIX_LEN + KEY_ID_HEX + 1, KEY_RANDOM_CHARS + 1, random_part,
                      sizeof random_part, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_secret(entry.hash, key, KEY_LEN);

    apikey_entry *grown = cdp_realloc(table.entries, (table.count + 1) * sizeof *grown);
    if (grown == NULL) {
        status = cdp_err_set(&err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    table.entries = grown;
    table.entries[table.count++] = entry;
    /* Allocated before the write: a key stored but never shown would be a key nobody holds. */
    *secret = cdp_strndup(key, KEY_LEN);
    if (*secret == NULL) {
        status = cdp_err_set(&err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    status = table_write(path, &table, &err);
    if (status != CDP_OK) {
        sodium_memzero(*secret, KEY_LEN);
        cdp_free(*secret);
        *secret = NULL;
        goto done;
    }
    if (info != NULL)
        actor_from_entry(&entry, info);
done:
    unlock_store(lock_fd);
    table_free(&table);
    sodium_memzero(key, sizeof key);
    sodium_memzero(random_part, sizeof random_part);
    if (status != CDP_OK && error != NULL)
        *error = err;
    return status;
}

cdp_status cdp_apikey_create(cdp_t *db, cdp_role role, const char *region, const char *source,
                             const char *purposes, char **secret, cdp_actor *info) {
    cdp_err err = {0};
    cdp_status status =
        db == NULL ? cdp_err_set(&err, CDP_MISUSE, "apikey_create: NULL handle")
                   : cdp_apikeys_create_at(cdp_handle_data_dir(db), cdp_handle_policy(db), role,
                                           region, source, purposes, secret, info, &err);
    if (status == CDP_OK) {
        /* The key exists now whatever happens here: a failed audit append is retried by the
         * next cdp_maintain or open (idempotent), so it does not fail the call. */
        cdp_err audit_err = {0};
        cdp_handle_lock_shared(db);
        cdp_apikeys_audit_changes(db, &audit_err);
        cdp_handle_unlock(db);
    }
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

/* "cdp_" + 16 lowercase hex + "_" + 43 base64url characters. */
static int key_well_formed(const char *secret, size_t len) {
    if (len != KEY_LEN || memcmp(secret, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
        !is_lower_hex(secret + KEY_PREFIX_LEN, KEY_ID_HEX) ||
        secret[KEY_PREFIX_LEN + KEY_ID_HEX] != '_')
        return 0;
    for (size_t i = KEY_PREFIX_LEN + KEY_ID_HEX + 1; i < KEY_LEN; i++) {
        char c = secret[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

cdp_status cdp_apikey_verify(cdp_t *db, const char *secret, size_t secret_len, cdp_actor *out) {
    static const uint8_t no_hash[KEY_HASH_BYTES] = {0};
    cdp_err err = {0};
    char path[PATH_CAP], key_id[KEY_ID_HEX + 1];
    uint8_t hash[KEY_HASH_BYTES];
    apikey_entry entry;
    int found = 0;
    if (db == NULL || out == NULL || (secret == NULL && secret_len > 0)) {
        cdp_err_set(&err, CDP_MISUSE, "apikey_verify: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (secret == NULL || !key_well_formed(secret, secret_len)) {
        cdp_err_set(&err, CDP_UNAUTHORIZED, "missing or unknown API key");
        return cdp_handle_fail(db, &err);
    }
    memcpy(key_id, secret + KEY_PREFIX_LEN, KEY_ID_HEX);
    key_id[KEY_ID_HEX] = '\0';
    hash_secret(hash, secret, secret_len);
    cdp_status status = store_path(cdp_handle_data_dir(db), path, &err);
    if (status == CDP_OK) {
        pthread_mutex_lock(&cache_lock);
        status = cache_lookup(path, key_id, &entry, &found, &err);
        pthread_mutex_unlock(&cache_lock);
    }
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    /* Compare even for an unknown id, so that known and unknown ids cost the same. */
    int match = sodium_memcmp(hash, found ? entry.hash : no_hash, KEY_HASH_BYTES) == 0;
    if (!found || !match || entry.revoked) {
        sodium_memzero(&entry, sizeof entry);
        cdp_err_set(&err, CDP_UNAUTHORIZED, "missing or unknown API key");
        return cdp_handle_fail(db, &err);
    }
    actor_from_entry(&entry, out);
    sodium_memzero(&entry, sizeof entry);
    return CDP_OK;
}

cdp_status cdp_apikeys_revoke_at(const char *data_dir, const char *key_id, cdp_err *error) {
    cdp_err err = {0};
    char path[PATH_CAP];
    apikey_table table = {0};
    int lock_fd = -1;
    cdp_status status = CDP_OK;
    if (data_dir == NULL || key_id == NULL) {
        status = cdp_err_set(&err, CDP_MISUSE, "apikey_revoke: NULL argument");
        goto done;
    }
    status = store_path(data_dir, path, &err);
    if (status != CDP_OK)
        goto done;
    lock_fd = lock_store(data_dir, &err);
    if (lock_fd < 0) {
        status = err.status;
        goto done;
    }
    status = table_read(path, &table, &err);
    if (status != CDP_OK)
        goto done;
    apikey_entry *entry = NULL;
    for (size_t i = 0; i < table.count; i++)
        if (strcmp(table.entries[i].key_id, key_id) == 0)
            entry = &table.entries[i];
    if (entry == NULL) {
        status = cdp_err_set(&err, CDP_NOT_FOUND, "key id: no API key \"%.40s\"", key_id);
        goto done;
    }
    if (entry->revoked)
        goto done; /* revoking twice is not an error: the outcome is the one asked for */
    entry->revoked = 1;
    status = table_write(path, &table, &err);
done:
    unlock_store(lock_fd);
    table_free(&table);
    if (status != CDP_OK && error != NULL)
        *error = err;
    return status;
}

cdp_status cdp_apikey_revoke(cdp_t *db, const char *key_id) {
    cdp_err err = {0};
    cdp_status status = db == NULL ? cdp_err_set(&err, CDP_MISUSE, "apikey_revoke: NULL handle")
                                   : cdp_apikeys_revoke_at(cdp_handle_data_dir(db), key_id, &err);
    if (status == CDP_OK) {
        /* The key exists now whatever happens here: a failed audit append is retried by the
         * next cdp_maintain or open (idempotent), so it does not fail the call. */
        cdp_err audit_err = {0};
        cdp_handle_lock_shared(db);
        cdp_apikeys_audit_changes(db, &audit_err);
        cdp_handle_unlock(db);
    }
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_apikeys_list_at(const char *data_dir, char **json, cdp_err *error) {
    cdp_err err = {0};
    char path[PATH_CAP];
    apikey_table table = {0};
    json_t *array = NULL;
    char *text = NULL;
    cdp_status status = CDP_OK;
    if (json != NULL)
        *json = NULL;
    if (data_dir == NULL || json == NULL) {
        status = cdp_err_set(&err, CDP_MISUSE, "apikey_list: NULL argument");
        goto done;
    }
    status = store_path(data_dir, path, &err);
    if (status == CDP_OK)
        status = table_read(path, &table, &err);
    if (status != CDP_OK)
        goto done;
    array = json_array();
    if (array == NULL) {
        status = cdp_err_set(&err, CDP_NOMEM, "apikeys: out of memory");
        goto done;
    }
    for (size_t i = 0; i < table.count; i++) {
        const apikey_entry *entry = &table.entries[i];
        json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "key_id", entry->key_id,
                                 "role", cdp_role_name(entry->role), "region", entry->region,
                                 "source", entry->source, "purposes", entry->purposes, "created_at",
                                 entry->created_at, "revoked", entry->revoked);
        if (item == NULL || json_array_append_new(array, item) != 0) {
            status = cdp_err_set(&err, CDP_NOMEM, "apikeys: out of memory");
            goto done;
        }
    }
    text = json_dumps(array, JSON_PRESERVE_ORDER);
    if (text == NULL || (*json = cdp_strdup(text)) == NULL)
        status = cdp_err_set(&err, CDP_NOMEM, "apikeys: out of memory");
done:
    json_text_free(text);
    json_decref(array);
    table_free(&table);
    if (status != CDP_OK && error != NULL)
        *error = err;
    return status;
}

cdp_status cdp_apikey_list(cdp_t *db, char **json) {
    cdp_err err = {0};
    cdp_status status = db == NULL ? cdp_err_set(&err, CDP_MISUSE, "apikey_list: NULL handle")
                                   : cdp_apikeys_list_at(cdp_handle_data_dir(db), json, &err);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_apikeys_audit_changes(cdp_t *db, cdp_err *err) {
    char path[PATH_CAP];
    apikey_table table = {0};
    cdp_audit_key_state *states = NULL;
    cdp_status status = store_path(cdp_handle_data_dir(db), path, err);
    if (status == CDP_OK)
        status = table_read(path, &table, err);
    if (status == CDP_OK && table.count > 0) {
        states = cdp_calloc(table.count, sizeof *states);
        if (states == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "apikeys: out of memory");
    }
    if (status == CDP_OK && table.count > 0) {
        for (size_t i = 0; i < table.count; i++)
            states[i] = (cdp_audit_key_state){table.entries[i].key_id,
                                              cdp_role_name(table.entries[i].role),
                                              table.entries[i].revoked};
        cdp_audit_log *log =
            cdp_handle_audit_log(db, cdp_policy_default_region(cdp_handle_policy(db)));
        status = log != NULL ? cdp_audit_record_key_changes(log, states, table.count, NULL, err)
                             : cdp_err_set(err, CDP_INTERNAL, "no audit log for the default region");
    }
    cdp_free(states);
    table_free(&table);
    return status;
}
