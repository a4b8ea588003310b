/* The keystore: region keys per epoch, held in sodium_malloc'd memory and persisted as one file
 * sealed with a key derived from the root key: "CDPKEYS1" || nonce || XChaCha20-Poly1305.
 * Every change is written atomically before it takes effect in memory. */
#include "crypto/keystore.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/aead.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define KEYSTORE_MAGIC_BYTES 8
#define KEYSTORE_FORMAT_VERSION 1
/* Far above any real keystore (about 170 bytes per epoch); bounds what a damaged file costs. */
#define KEYSTORE_MAX_FILE_BYTES ((size_t)64 * 1024 * 1024)
#define KEYSTORE_KDF_CONTEXT "cdpkstor"
#define KEYSTORE_KDF_SUBKEY_ID 1

static const uint8_t keystore_magic[KEYSTORE_MAGIC_BYTES] = {'C', 'D', 'P', 'K',
                                                             'E', 'Y', 'S', '1'};

_Static_assert(CDP_AUDIT_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES, "audit secret key");
_Static_assert(CDP_AUDIT_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES, "audit public key");
_Static_assert(CDP_ROOT_KEY_BYTES == crypto_kdf_KEYBYTES, "root key is a KDF key");
_Static_assert(sizeof KEYSTORE_KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "KDF context");

typedef struct keystore_epoch {
    uint32_t epoch;
    int destroyed;
    /* Kept outside keys: it outlives the epoch's destruction. */
    uint8_t audit_public_key[CDP_AUDIT_PUBLIC_KEY_BYTES];
    cdp_region_keys *keys; /* own sodium_malloc allocation; NULL once destroyed */
} keystore_epoch;

typedef struct keystore_region {
    char name[CDP_REGION_NAME_MAX + 1];
    uint32_t current;
    keystore_epoch *epochs; /* ascending by epoch; the last one is current */
    size_t epoch_count;
    size_t epoch_cap;
} keystore_region;

struct cdp_keystore {
    char *path;
    uint8_t *seal_key; /* sodium_malloc'd, read-only */
    keystore_region *regions;
    size_t region_count;
    size_t region_cap;
};

/* sodium_malloc bypasses cdp_malloc; asking the allocation wrapper first lets the tests' failure
 * injection reach the secret allocations too. */
static void *keystore_secret_alloc(size_t size) {
    void *gate = cdp_malloc(1);
    if (gate == NULL)
        return NULL;
    cdp_free(gate);
    return sodium_malloc(size);
}

static int keystore_name_valid(const char *name) {
    if (name == NULL)
        return 0;
    size_t len = strnlen(name, CDP_REGION_NAME_MAX + 1);
    if (len == 0 || len > CDP_REGION_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static keystore_region *keystore_find_region(const cdp_keystore *keystore, const char *name) {
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < keystore->region_count; i++)
        if (strcmp(keystore->regions[i].name, name) == 0)
            return &keystore->regions[i];
    return NULL;
}

static keystore_epoch *keystore_find_epoch(const keystore_region *region, uint32_t epoch) {
    for (size_t i = 0; i < region->epoch_count; i++)
        if (region->epochs[i].epoch == epoch)
            return &region->epochs[i];
    return NULL;
}

static void keystore_region_free(keystore_region *region) {
    for (size_t i = 0; i < region->epoch_count; i++)
        sodium_free(region->epochs[i].keys);
    cdp_free(region->epochs);
    region->epochs = NULL;
    region->epoch_count = region->epoch_cap = 0;
}

void cdp_keystore_close(cdp_keystore *keystore) {
    if (keystore == NULL)
        return;
    for (size_t i = 0; i < keystore->region_count; i++)
        keystore_region_free(&keystore->regions[i]);
    cdp_free(keystore->regions);
    sodium_free(keystore->seal_key);
    cdp_free(keystore->path);
    cdp_free(keystore);
}

/* Room for one more region, so that appending cannot fail after keys were made. */
static cdp_status keystore_reserve_region(cdp_keystore *keystore) {
    if (keystore->region_count < keystore->region_cap)
        return CDP_OK;
    size_t cap = keystore->region_cap ? keystore->region_cap * 2 : 4;
    keystore_region *regions = cdp_realloc(keystore->regions, cap * sizeof *regions);
    if (regions == NULL)
        return CDP_NOMEM;
    keystore->regions = regions;
    keystore->region_cap = cap;
    return CDP_OK;
}

static cdp_status keystore_reserve_epoch(keystore_region *region) {
    if (region->epoch_count < region->epoch_cap)
        return CDP_OK;
    size_t cap = region->epoch_cap ? region->epoch_cap * 2 : 4;
    keystore_epoch *epochs = cdp_realloc(region->epochs, cap * sizeof *epochs);
    if (epochs == NULL)
        return CDP_NOMEM;
    region->epochs = epochs;
    region->epoch_cap = cap;
    return CDP_OK;
}

/* Appends a new epoch with fresh random keys to region (which need not be current yet). */
static cdp_status keystore_append_fresh_epoch(keystore_region *region, uint32_t epoch) {
    if (keystore_reserve_epoch(region) != CDP_OK)
        return CDP_NOMEM;
    cdp_region_keys *keys = keystore_secret_alloc(sizeof *keys);
    if (keys == NULL)
        return CDP_NOMEM;
    memset(keys, 0, sizeof *keys);
    memcpy(keys->region, region->name, sizeof keys->region);
    keys->epoch = epoch;
    randombytes_buf(keys->kek, sizeof keys->kek);
    randombytes_buf(keys->blind_key, sizeof keys->blind_key);
    crypto_sign_keypair(keys->audit_public_key, keys->audit_secret_key);
    sodium_mprotect_readonly(keys);
    keystore_epoch *slot = &region->epochs[region->epoch_count++];
    slot->epoch = epoch;
    slot->destroyed = 0;
    memcpy(slot->audit_public_key, keys->audit_public_key, sizeof slot->audit_public_key);
    slot->keys = keys;
    return CDP_OK;
}

/* Appends a region with no epochs; the caller adds them. name must be valid. */
static keystore_region *keystore_append_region(cdp_keystore *keystore, const char *name) {
    if (keystore_reserve_region(keystore) != CDP_OK)
        return NULL;
    keystore_region *region = &keystore->regions[keystore->region_count++];
    memset(region, 0, sizeof *region);
    memcpy(region->name, name, strlen(name) + 1);
    return region;
}

/* Removes the last region (undoing a failed add). */
static void keystore_pop_region(cdp_keystore *keystore) {
    keystore_region_free(&keystore->regions[keystore->region_count - 1]);
    keystore->region_count--;
}

/* An empty in-memory keystore bound to path and to the sealing key derived from rootkey. */
static cdp_status keystore_new(const char *path, const cdp_rootkey *rootkey, cdp_keystore **out,
                               cdp_err *err) {
    cdp_status status = CDP_OK;
    *out = NULL;
    if (sodium_init() < 0) {
        cdp_err_set(err, CDP_INTERNAL, "keystore: libsodium failed to initialise");
        return CDP_INTERNAL;
    }
    cdp_keystore *keystore = cdp_calloc(1, sizeof *keystore);
    if (keystore == NULL) {
        cdp_err_set(err, CDP_NOMEM, "keystore: out of memory");
        return CDP_NOMEM;
    }
    keystore->path = cdp_strdup(path);
    keystore->seal_key = keystore_secret_alloc(CDP_AEAD_KEY_BYTES);
    if (keystore->path == NULL || keystore->seal_key == NULL) {
        status = CDP_NOMEM;
        cdp_err_set(err, status, "keystore: out of memory");
        goto done;
    }
    if (crypto_kdf_derive_from_key(keystore->seal_key, CDP_AEAD_KEY_BYTES, KEYSTORE_KDF_SUBKEY_ID,
                                   KEYSTORE_KDF_CONTEXT, cdp_rootkey_bytes(rootkey)) != 0) {
        status = CDP_INTERNAL;
        cdp_err_set(err, status, "keystore: key derivation failed");
        goto done;
    }
    sodium_mprotect_readonly(keystore->seal_key);
    *out = keystore;
    keystore = NULL;
done:
    cdp_keystore_close(keystore);
    return status;
}

/* ---- Plaintext serialization (version 1) ----
 * u8 version || u32 region_count || per region:
 *   u8 name_len || name || u32 current || u32 epoch_count || per epoch:
 *     u32 epoch || u8 destroyed || [kek 32 || blind_key 32 || audit_secret_key 64 unless destroyed]
 *     || audit_public_key 32
 * Integers big-endian. Destroyed epochs carry no secret material at all. */

#define EPOCH_LIVE_SECRET_BYTES                                                                    \
    ((size_t)CDP_KEK_BYTES + CDP_BLIND_KEY_BYTES + CDP_AUDIT_SECRET_KEY_BYTES)

static size_t keystore_encoded_size(const cdp_keystore *keystore) {
    size_t size = 1 + 4;
    for (size_t i = 0; i < keystore->region_count; i++) {
        const keystore_region *region = &keystore->regions[i];
        size += 1 + strlen(region->name) + 4 + 4;
        for (size_t j = 0; j < region->epoch_count; j++)
            size += 4 + 1 + (region->epochs[j].destroyed ? 0 : EPOCH_LIVE_SECRET_BYTES) +
                    CDP_AUDIT_PUBLIC_KEY_BYTES;
    }
    return size;
}

static uint8_t *keystore_put(uint8_t *cursor, const void *bytes, size_t len) {
    memcpy(cursor, bytes, len);
    return cursor + len;
}

static uint8_t *keystore_put_u32(uint8_t *cursor, uint32_t value) {
    cdp_store_be32(cursor, value);
    return cursor + 4;
}

/* Serializes into sodium_malloc'd memory; caller frees with sodium_free (which wipes). */
static cdp_status keystore_encode(const cdp_keystore *keystore, uint8_t **out, size_t *out_len) {
    size_t size = keystore_encoded_size(keystore);
    uint8_t *plain = keystore_secret_alloc(size);
    if (plain == NULL)
        return CDP_NOMEM;
    uint8_t *cursor = plain;
    *cursor++ = KEYSTORE_FORMAT_VERSION;
    cursor = keystore_put_u32(cursor, (uint32_t)keystore->region_count);
    for (size_t i = 0; i < keystore->region_count; i++) {
        const keystore_region *region = &keystore->regions[i];
        size_t name_len = strlen(region->name);
        *cursor++ = (uint8_t)name_len;
        cursor = keystore_put(cursor, region->name, name_len);
        cursor = keystore_put_u32(cursor, region->current);
        cursor = keystore_put_u32(cursor, (uint32_t)region->epoch_count);
        for (size_t j = 0; j < region->epoch_count; j++) {
            const keystore_epoch *epoch = &region->epochs[j];
            cursor = keystore_put_u32(cursor, epoch->epoch);
            *cursor++ = epoch->destroyed ? 1 : 0;
            if (!epoch->destroyed) {
                cursor = keystore_put(cursor, epoch->keys->kek, CDP_KEK_BYTES);
                cursor = keystore_put(cursor, epoch->keys->blind_key, CDP_BLIND_KEY_BYTES);
                cursor =
                    keystore_put(cursor, epoch->keys->audit_secret_key, CDP_AUDIT_SECRET_KEY_BYTES);
            }
            cursor = keystore_put(cursor, epoch->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES);
        }
    }
    *out = plain;
    *out_len = size;
    return CDP_OK;
}

/* Seals the whole keystore and replaces the file atomically (0600). */
static cdp_status keystore_persist(const cdp_keystore *keystore, cdp_err *err) {
    cdp_status status = CDP_OK;
    uint8_t *plain = NULL;
    uint8_t *file = NULL;
    size_t plain_len = 0;
    if (keystore_encode(keystore, &plain, &plain_len) != CDP_OK) {
        status = cdp_err_set(err, CDP_NOMEM, "keystore %s: out of memory", keystore->path);
        goto done;
    }
    size_t file_cap = KEYSTORE_MAGIC_BYTES + plain_len + CDP_AEAD_OVERHEAD;
    file = cdp_malloc(file_cap);
    if (file == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "keystore %s: out of memory", keystore->path);
        goto done;
    }
    memcpy(file, keystore_magic, KEYSTORE_MAGIC_BYTES);
    size_t sealed_len = 0;
    status =
        cdp_aead_seal(file + KEYSTORE_MAGIC_BYTES, file_cap - KEYSTORE_MAGIC_BYTES, &sealed_len,
                      plain, plain_len, keystore_magic, KEYSTORE_MAGIC_BYTES, keystore->seal_key);
    if (status != CDP_OK) {
        status = cdp_err_set(err, status, "keystore %s: sealing failed", keystore->path);
        goto done;
    }
    status =
        cdp_file_write_atomic(keystore->path, file, KEYSTORE_MAGIC_BYTES + sealed_len, 0600, err);
    if (status != CDP_OK)
        cdp_err_prefix(err, "keystore");
done:
    cdp_free(file);
    sodium_free(plain);
    return status;
}

typedef struct keystore_reader {
    const uint8_t *cursor;
    size_t left;
} keystore_reader;

static int keystore_take(keystore_reader *reader, void *out, size_t len) {
    if (len > reader->left)
        return -1;
    memcpy(out, reader->cursor, len);
    reader->cursor += len;
    reader->left -= len;
    return 0;
}

static int keystore_take_u8(keystore_reader *reader, uint8_t *out) {
    return keystore_take(reader, out, 1);
}

static int keystore_take_u32(keystore_reader *reader, uint32_t *out) {
    uint8_t bytes[4];
    if (keystore_take(reader, bytes, sizeof bytes) != 0)
        return -1;
    *out = cdp_load_be32(bytes);
    return 0;
}

/* Reads one epoch record into region. Returns CDP_CORRUPT (with *why) or CDP_NOMEM. */
static cdp_status keystore_decode_epoch(keystore_reader *reader, keystore_region *region,
                                        const char **why) {
    uint32_t number = 0;
    uint8_t destroyed = 0;
    if (keystore_take_u32(reader, &number) != 0 || keystore_take_u8(reader, &destroyed) != 0) {
        *why = "truncated epoch";
        return CDP_CORRUPT;
    }
    if (number == 0 || destroyed > 1) {
        *why = "invalid epoch record";
        return CDP_CORRUPT;
    }
    if (region->epoch_count > 0 && number <= region->epochs[region->epoch_count - 1].epoch) {
        *why = "epochs out of order";
        return CDP_CORRUPT;
    }
    if (reader->left < (destroyed ? 0 : EPOCH_LIVE_SECRET_BYTES) + CDP_AUDIT_PUBLIC_KEY_BYTES) {
        *why = "truncated epoch keys";
        return CDP_CORRUPT;
    }
    if (keystore_reserve_epoch(region) != CDP_OK)
        return CDP_NOMEM;
    cdp_region_keys *keys = NULL;
    if (!destroyed) {
        keys = keystore_secret_alloc(sizeof *keys);
        if (keys == NULL)
            return CDP_NOMEM;
        memset(keys, 0, sizeof *keys);
        memcpy(keys->region, region->name, sizeof keys->region);
        keys->epoch = number;
        keystore_take(reader, keys->kek, CDP_KEK_BYTES);
        keystore_take(reader, keys->blind_key, CDP_BLIND_KEY_BYTES);
        keystore_take(reader, keys->audit_secret_key, CDP_AUDIT_SECRET_KEY_BYTES);
    }
    keystore_epoch *slot = &region->epochs[region->epoch_count++];
    slot->epoch = number;
    slot->destroyed = destroyed;
    slot->keys = keys;
    keystore_take(reader, slot->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES);
    if (keys != NULL) {
        memcpy(keys->audit_public_key, slot->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES);
        sodium_mprotect_readonly(keys);
    }
    return CDP_OK;
}

/* Rebuilds the regions from plaintext. Every length is checked against the bytes left. */
static cdp_status keystore_decode(cdp_keystore *keystore, const uint8_t *plain, size_t plain_len,
                                  cdp_err *err) {
    keystore_reader reader = {plain, plain_len};
    const char *why = NULL;
    uint8_t version = 0;
    uint32_t region_count = 0;
    if (keystore_take_u8(&reader, &version) != 0 || keystore_take_u32(&reader, &region_count) != 0)
        goto corrupt;
    if (version != KEYSTORE_FORMAT_VERSION) {
        return cdp_err_set(err, CDP_CORRUPT, "keystore %s: format version %u is not supported",
                           keystore->path, version);
    }
    for (uint32_t i = 0; i < region_count; i++) {
        uint8_t name_len = 0;
        char name[CDP_REGION_NAME_MAX + 1] = {0};
        uint32_t current = 0, epoch_count = 0;
        if (keystore_take_u8(&reader, &name_len) != 0 || name_len > CDP_REGION_NAME_MAX ||
            keystore_take(&reader, name, name_len) != 0 || strlen(name) != name_len ||
            !keystore_name_valid(name)) {
            why = "invalid region name";
            goto corrupt;
        }
        if (keystore_find_region(keystore, name) != NULL) {
            why = "duplicate region";
            goto corrupt;
        }
        if (keystore_take_u32(&reader, &current) != 0 ||
            keystore_take_u32(&reader, &epoch_count) != 0 || epoch_count == 0) {
            why = "invalid region header";
            goto corrupt;
        }
        keystore_region *region = keystore_append_region(keystore, name);
        if (region == NULL)
            goto nomem;
        region->current = current;
        for (uint32_t j = 0; j < epoch_count; j++) {
            cdp_status status = keystore_decode_epoch(&reader, region, &why);
            if (status == CDP_NOMEM)
                goto nomem;
            if (status != CDP_OK)
                goto corrupt;
        }
        const keystore_epoch *last = &region->epochs[region->epoch_count - 1];
        if (last->epoch != current || last->destroyed) {
            why = "current epoch is not the newest live one";
            goto corrupt;
        }
    }
    if (reader.left != 0) {
        why = "trailing bytes";
        goto corrupt;
    }
    return CDP_OK;
nomem:
    return cdp_err_set(err, CDP_NOMEM, "keystore %s: out of memory", keystore->path);
corrupt:
    return cdp_err_set(err, CDP_CORRUPT, "keystore %s: %s", keystore->path,
                       why != NULL ? why : "truncated");
}

cdp_status cdp_keystore_open(const char *path, const cdp_rootkey *rootkey, cdp_keystore **out,
                             cdp_err *err) {
    cdp_status status = CDP_OK;
    cdp_keystore *keystore = NULL;
    uint8_t *file = NULL;
    uint8_t *plain = NULL;
    size_t file_len = 0, plain_len = 0;
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: no output pointer");
    *out = NULL;
    if (path == NULL || cdp_rootkey_bytes(rootkey) == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL path or root key");
    status = keystore_new(path, rootkey, &keystore, err);
    if (status != CDP_OK)
        goto done;
    status = cdp_file_read(path, KEYSTORE_MAX_FILE_BYTES, &file, &file_len, err);
    if (status != CDP_OK) {
        cdp_err_prefix(err, "keystore");
        goto done;
    }
    if (file_len < KEYSTORE_MAGIC_BYTES + CDP_AEAD_OVERHEAD ||
        memcmp(file, keystore_magic, KEYSTORE_MAGIC_BYTES) != 0) {
        status = cdp_err_set(err, CDP_CORRUPT, "keystore %s: not a keystore file (%zu bytes)", path,
                             file_len);
        goto done;
    }
    size_t sealed_len = file_len - KEYSTORE_MAGIC_BYTES;
    plain = keystore_secret_alloc(sealed_len - CDP_AEAD_OVERHEAD + 1);
    if (plain == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "keystore %s: out of memory", path);
        goto done;
    }
    status = cdp_aead_open(plain, sealed_len - CDP_AEAD_OVERHEAD, &plain_len,
                           file + KEYSTORE_MAGIC_BYTES, sealed_len, keystore_magic,
                           KEYSTORE_MAGIC_BYTES, keystore->seal_key);
    if (status == CDP_CRYPTO) {
        status = cdp_err_set(err, CDP_BAD_KEY,
                             "keystore %s: root key does not open it (wrong key, or the file "
                             "was altered)",
                             path);
        goto done;
    }
    if (status != CDP_OK) {
        status = cdp_err_set(err, status, "keystore %s: cannot unseal", path);
        goto done;
    }
    status = keystore_decode(keystore, plain, plain_len, err);
    if (status != CDP_OK)
        goto done;
    *out = keystore;
    keystore = NULL;
done:
    sodium_free(plain);
    cdp_free(file);
    cdp_keystore_close(keystore);
    return status;
}

cdp_status cdp_keystore_create(const char *path, const cdp_rootkey *rootkey,
                               const char *const *regions, size_t region_count, cdp_err *err) {
    cdp_status status = CDP_OK;
    cdp_keystore *keystore = NULL;
    if (path == NULL || cdp_rootkey_bytes(rootkey) == NULL || (regions == NULL && region_count))
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL path, root key or regions");
    for (size_t i = 0; i < region_count; i++) {
        if (!keystore_name_valid(regions[i]))
            return cdp_err_set(err, CDP_MISUSE,
                               "keystore: region name \"%.40s\" is invalid (1 to %d characters "
                               "of a-z, 0-9 and _)",
                               regions[i] != NULL ? regions[i] : "(null)", CDP_REGION_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(regions[i], regions[j]) == 0)
                return cdp_err_set(err, CDP_MISUSE, "keystore: region \"%s\" is listed twice",
                                   regions[i]);
    }
    /* The caller (cdpctl init) holds the data directory; this check is not a lock. */
    struct stat info;
    if (lstat(path, &info) == 0)
        return cdp_err_set(err, CDP_EXISTS, "keystore %s: exists already", path);
    if (errno != ENOENT)
        return cdp_err_set(err, CDP_IO, "keystore %s: %s", path, strerror(errno));
    status = keystore_new(path, rootkey, &keystore, err);
    if (status != CDP_OK)
        goto done;
    for (size_t i = 0; i < region_count; i++) {
        keystore_region *region = keystore_append_region(keystore, regions[i]);
        if (region == NULL || keystore_append_fresh_epoch(region, 1) != CDP_OK) {
            status = cdp_err_set(err, CDP_NOMEM, "keystore %s: out of memory", path);
            goto done;
        }
        region->current = 1;
    }
    status = keystore_persist(keystore, err);
done:
    cdp_keystore_close(keystore);
    return status;
}

cdp_status cdp_keystore_current(const cdp_keystore *keystore, const char *region_name,
                                const cdp_region_keys **out, cdp_err *err) {
    if (out != NULL)
        *out = NULL;
    if (keystore == NULL || region_name == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore, region or output");
    const keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: no region \"%.40s\"", region_name);
    const keystore_epoch *epoch = keystore_find_epoch(region, region->current);
    if (epoch == NULL || epoch->keys == NULL) /* decode and destroy keep this from happening */
        return cdp_err_set(err, CDP_INTERNAL, "keystore: region %s has no live current epoch",
                           region_name);
    *out = epoch->keys;
    return CDP_OK;
}

cdp_status cdp_keystore_epoch(const cdp_keystore *keystore, const char *region_name,
                              uint32_t epoch_number, const cdp_region_keys **out, cdp_err *err) {
    if (out != NULL)
        *out = NULL;
    if (keystore == NULL || region_name == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore, region or output");
    const keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: no region \"%.40s\"", region_name);
    const keystore_epoch *epoch = keystore_find_epoch(region, epoch_number);
    if (epoch == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: region %s has no epoch %u", region_name,
                           epoch_number);
    if (epoch->destroyed)
        return cdp_err_set(err, CDP_CRYPTO, "epoch %u of region %s was destroyed", epoch_number,
                           region_name);
    *out = epoch->keys;
    return CDP_OK;
}

cdp_status cdp_keystore_add_region(cdp_keystore *keystore, const char *region_name, cdp_err *err) {
    if (keystore == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore");
    if (!keystore_name_valid(region_name))
        return cdp_err_set(err, CDP_MISUSE,
                           "keystore: region name \"%.40s\" is invalid (1 to %d characters of "
                           "a-z, 0-9 and _)",
                           region_name != NULL ? region_name : "(null)", CDP_REGION_NAME_MAX);
    if (keystore_find_region(keystore, region_name) != NULL)
        return cdp_err_set(err, CDP_EXISTS, "keystore: region %s exists already", region_name);
    keystore_region *region = keystore_append_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOMEM, "keystore: out of memory");
    if (keystore_append_fresh_epoch(region, 1) != CDP_OK) {
        keystore_pop_region(keystore);
        return cdp_err_set(err, CDP_NOMEM, "keystore: out of memory");
    }
    region->current = 1;
    cdp_status status = keystore_persist(keystore, err);
    if (status != CDP_OK)
        keystore_pop_region(keystore); /* memory matches the file that is still there */
    return status;
}

cdp_status cdp_keystore_begin_epoch(cdp_keystore *keystore, const char *region_name,
                                    uint32_t *new_epoch, cdp_err *err) {
    if (new_epoch != NULL)
        *new_epoch = 0;
    if (keystore == NULL || region_name == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore or region");
    keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: no region \"%.40s\"", region_name);
    uint32_t newest = region->epochs[region->epoch_count - 1].epoch;
    if (newest == UINT32_MAX)
        return cdp_err_set(err, CDP_CONFLICT, "keystore: region %s has used every epoch number",
                           region_name);
    uint32_t previous = region->current;
    if (keystore_append_fresh_epoch(region, newest + 1) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "keystore: out of memory");
    region->current = newest + 1;
    cdp_status status = keystore_persist(keystore, err);
    if (status != CDP_OK) {
        /* Nothing was wrapped under the new epoch yet: forget it. */
        region->epoch_count--;
        sodium_free(region->epochs[region->epoch_count].keys);
        region->current = previous;
        return status;
    }
    if (new_epoch != NULL)
        *new_epoch = region->current;
    return CDP_OK;
}

cdp_status cdp_keystore_destroy_epoch(cdp_keystore *keystore, const char *region_name,
                                      uint32_t epoch_number, cdp_err *err) {
    if (keystore == NULL || region_name == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore or region");
    keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: no region \"%.40s\"", region_name);
    keystore_epoch *epoch = keystore_find_epoch(region, epoch_number);
    if (epoch == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: region %s has no epoch %u", region_name,
                           epoch_number);
    if (epoch_number == region->current)
        return cdp_err_set(err, CDP_CONFLICT,
                           "keystore: epoch %u is the current epoch of region %s; begin a new "
                           "one first",
                           epoch_number, region_name);
    if (epoch->destroyed)
        return CDP_OK;
    /* The file must lose the keys first: if writing fails, the epoch stays fully usable. */
    epoch->destroyed = 1;
    cdp_status status = keystore_persist(keystore, err);
    if (status != CDP_OK) {
        epoch->destroyed = 0;
        return status;
    }
    sodium_free(epoch->keys); /* wipes KEK, blind-index key and audit secret key */
    epoch->keys = NULL;
    return CDP_OK;
}

cdp_status cdp_keystore_audit_public_key(const cdp_keystore *keystore, const char *region_name,
                                         uint32_t epoch_number,
                                         uint8_t out[CDP_AUDIT_PUBLIC_KEY_BYTES], cdp_err *err) {
    if (keystore == NULL || region_name == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "keystore: NULL keystore, region or output");
    const keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: no region \"%.40s\"", region_name);
    const keystore_epoch *epoch = keystore_find_epoch(region, epoch_number);
    if (epoch == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: region %s has no epoch %u", region_name,
                           epoch_number);
    memcpy(out, epoch->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES);
    return CDP_OK;
}

size_t cdp_keystore_region_count(const cdp_keystore *keystore) {
    return keystore != NULL ? keystore->region_count : 0;
}

const char *cdp_keystore_region_name(const cdp_keystore *keystore, size_t index) {
    if (keystore == NULL || index >= keystore->region_count)
        return NULL;
    return keystore->regions[index].name;
}

size_t cdp_keystore_live_epochs(const cdp_keystore *keystore, const char *region_name,
                                uint32_t *out, size_t cap) {
    if (keystore == NULL)
        return 0;
    const keystore_region *region = keystore_find_region(keystore, region_name);
    if (region == NULL)
        return 0;
    size_t count = 0;
    for (size_t i = 0; i < region->epoch_count; i++) {
        if (region->epochs[i].destroyed)
            continue;
        if (out != NULL && count < cap)
            out[count] = region->epochs[i].epoch;
        count++;
    }
    return count;
}

/* Derived, not stored: the keystore file format stays as it is, and the key follows the root key
 * rather than the epochs, so suppression entries outlive every key rotation. */
cdp_status cdp_keystore_suppress_key(const cdp_keystore *keystore, const char *region_name,
                                     uint8_t out[CDP_BLIND_KEY_BYTES], cdp_err *err) {
    static const char label[] = "cdp.suppress.v1";
    if (keystore == NULL || keystore_find_region(keystore, region_name) == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "keystore: unknown region \"%s\"",
                           region_name ? region_name : "");
    crypto_generichash_state state;
    crypto_generichash_init(&state, keystore->seal_key, CDP_AEAD_KEY_BYTES, CDP_BLIND_KEY_BYTES);
    crypto_generichash_update(&state, (const uint8_t *)label, sizeof label); /* with its NUL */
    crypto_generichash_update(&state, (const uint8_t *)region_name, strlen(region_name));
    crypto_generichash_final(&state, out, CDP_BLIND_KEY_BYTES);
    sodium_memzero(&state, sizeof state);
    return CDP_OK;
}
