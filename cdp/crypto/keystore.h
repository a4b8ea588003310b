/* The keystore: per region and per epoch, a random key-encryption key (KEK) that wraps the
 * people's data keys, a blind-index key, and an Ed25519 audit signing key. Different regions
 * never share a key. The file (DATA/keystore) is sealed with a key derived from the root key and
 * rewritten atomically on every change.
 *
 * Epochs make erasure reach copies outside the live files: closing an epoch re-wraps every
 * surviving data key under a new KEK (done by the store) and then destroys the old epoch here,
 * so a wrapped key left in an old SST, WAL, checkpoint or backup can no longer be opened.
 *
 * Thread safety: lookups may run concurrently with each other; begin/destroy/add mutate and must
 * be serialised against lookups by the caller (the cdp_t handle holds a lock). */
#ifndef CDP_CRYPTO_KEYSTORE_H
#define CDP_CRYPTO_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/rootkey.h"
#include "util/err.h"

#define CDP_KEK_BYTES 32
#define CDP_BLIND_KEY_BYTES 32
#define CDP_AUDIT_SECRET_KEY_BYTES 64 /* crypto_sign_SECRETKEYBYTES */
#define CDP_AUDIT_PUBLIC_KEY_BYTES 32 /* crypto_sign_PUBLICKEYBYTES */
#define CDP_REGION_NAME_MAX 16

/* One epoch's keys of one region. Lives in sodium_malloc'd memory owned by the keystore. */
typedef struct cdp_region_keys {
    char region[CDP_REGION_NAME_MAX + 1];
    uint32_t epoch; /* 1, 2, ... */
    uint8_t kek[CDP_KEK_BYTES];
    uint8_t blind_key[CDP_BLIND_KEY_BYTES];
    uint8_t audit_secret_key[CDP_AUDIT_SECRET_KEY_BYTES];
    uint8_t audit_public_key[CDP_AUDIT_PUBLIC_KEY_BYTES];
} cdp_region_keys;

typedef struct cdp_keystore cdp_keystore;

/* Creates the keystore file at path with epoch 1 for each region (fresh random keys each).
 * CDP_EXISTS if the file exists; CDP_MISUSE on a duplicate or invalid region name. */
cdp_status cdp_keystore_create(const char *path, const cdp_rootkey *rootkey,
                               const char *const *regions, size_t region_count, cdp_err *err);

/* Opens and unseals the keystore. CDP_BAD_KEY when this root key did not seal it (wrong key);
 * CDP_CORRUPT when the file is malformed; CDP_NOT_FOUND when absent. Caller owns *out (free with
 * cdp_keystore_close). */
cdp_status cdp_keystore_open(const char *path, const cdp_rootkey *rootkey, cdp_keystore **out,
                             cdp_err *err);

/* Wipes every key and frees; accepts NULL. */
void cdp_keystore_close(cdp_keystore *keystore);

/* The region's current epoch. Borrowed until the keystore is closed or that epoch destroyed.
 * CDP_NOT_FOUND for an unknown region. */
cdp_status cdp_keystore_current(const cdp_keystore *keystore, const char *region,
                                const cdp_region_keys **out, cdp_err *err);

/* A given epoch of the region. CDP_NOT_FOUND if the region or epoch is unknown;
 * CDP_CRYPTO ("epoch N of region R was destroyed") if it was destroyed. */
cdp_status cdp_keystore_epoch(const cdp_keystore *keystore, const char *region, uint32_t epoch,
                              const cdp_region_keys **out, cdp_err *err);

/* Adds a region (epoch 1, fresh keys) and persists. CDP_EXISTS if already there. */
cdp_status cdp_keystore_add_region(cdp_keystore *keystore, const char *region, cdp_err *err);

/* Starts a new epoch for the region with fresh random keys, makes it current, persists.
 * Earlier epochs stay usable (for unwrapping during the re-wrap) until destroyed. */
cdp_status cdp_keystore_begin_epoch(cdp_keystore *keystore, const char *region,
                                    uint32_t *new_epoch, cdp_err *err);

/* Destroys an old epoch: wipes its KEK, blind-index key and audit secret key, keeps only its
 * audit public key (old checkpoints stay verifiable), persists atomically. CDP_CONFLICT for the
 * current epoch; CDP_NOT_FOUND for an unknown one; destroying twice is CDP_OK. */
cdp_status cdp_keystore_destroy_epoch(cdp_keystore *keystore, const char *region, uint32_t epoch,
                                      cdp_err *err);

/* The audit public key of any epoch, destroyed ones included. */
cdp_status cdp_keystore_audit_public_key(const cdp_keystore *keystore, const char *region,
                                         uint32_t epoch,
                                         uint8_t out[CDP_AUDIT_PUBLIC_KEY_BYTES], cdp_err *err);

/* Region names in the keystore, in creation order. Borrowed until close. */
size_t cdp_keystore_region_count(const cdp_keystore *keystore);
const char *cdp_keystore_region_name(const cdp_keystore *keystore, size_t index);

/* Epochs of a region that are not destroyed (ascending), at most `cap` written; returns the
 * total count (0 for an unknown region). */
size_t cdp_keystore_live_epochs(const cdp_keystore *keystore, const char *region, uint32_t *out,
                                size_t cap);

/* The region's suppression key: what the `suppress` column family's blind indexes of erased
 * people's identifiers are keyed with. Unlike the epoch's blind-index key it never rotates (it is
 * derived from the keystore's sealing key, so from the root key, and the region name): closing an
 * epoch must not lift a suppression, and a suppression entry cannot be re-keyed, since nothing
 * personal is kept to re-key it from. Never leaves memory; wipe with sodium_memzero. */
cdp_status cdp_keystore_suppress_key(const cdp_keystore *keystore, const char *region,
                                     uint8_t out[CDP_BLIND_KEY_BYTES], cdp_err *err);

#endif
