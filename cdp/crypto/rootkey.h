/* The root key: 32 bytes from DATA/root.key (mode 0600, made by `cdpctl init`) or from the
 * environment variable CDP_ROOT_KEY (64 hex characters), so it can come from a KMS.
 * Held in sodium_malloc'd, mlocked memory and wiped when freed. It seals only the keystore. */
#ifndef CDP_CRYPTO_ROOTKEY_H
#define CDP_CRYPTO_ROOTKEY_H

#include <stdint.h>

#include "util/err.h"

#define CDP_ROOT_KEY_BYTES 32
#define CDP_ROOT_KEY_ENV "CDP_ROOT_KEY"

typedef struct cdp_rootkey cdp_rootkey;

/* Creates a new random root key file at path with mode 0600 (O_EXCL: CDP_EXISTS if present),
 * fsynced. */
cdp_status cdp_rootkey_create_file(const char *path, cdp_err *err);

/* Loads the root key: from CDP_ROOT_KEY when that variable is set (CDP_BAD_KEY unless exactly 64
 * hex characters), else from path, which must be a regular file of exactly 32 bytes
 * (CDP_BAD_KEY otherwise; CDP_NOT_FOUND if absent) whose mode gives group and others nothing
 * (CDP_INSECURE otherwise, e.g. 0644). Caller owns *out (free with cdp_rootkey_free). */
cdp_status cdp_rootkey_load(const char *path, cdp_rootkey **out, cdp_err *err);

/* Wraps 32 given bytes (tests, KMS integrations). Caller owns *out. */
cdp_status cdp_rootkey_from_bytes(const uint8_t key[CDP_ROOT_KEY_BYTES], cdp_rootkey **out,
                                  cdp_err *err);

/* Borrowed until cdp_rootkey_free. */
const uint8_t *cdp_rootkey_bytes(const cdp_rootkey *rootkey);

/* 1 when the key came from the environment rather than a file. */
int cdp_rootkey_from_env(const cdp_rootkey *rootkey);

/* Wipes and frees; accepts NULL. */
void cdp_rootkey_free(cdp_rootkey *rootkey);

#endif
