/* Tests of the crypto layer: AEAD and its bindings, root key file rules, the sealed keystore and
 * its epochs, data-key wrapping and crypto-shredding, blind indexes, and allocation failures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/blind.h"
#include "crypto/datakey.h"
#include "crypto/keystore.h"
#include "crypto/rootkey.h"
#include "support/testutil.h"
#include "util/alloc.h"
#include "util/bytes.h"

/* ---- Per-test temporary directory ---- */

static char *test_dir;

static void setup(void) {
    cr_assert(sodium_init() >= 0);
    unsetenv(CDP_ROOT_KEY_ENV);
    test_dir = test_tempdir("crypto");
    cr_assert_not_null(test_dir);
}

static void teardown(void) {
    cdp_alloc_fail_reset();
    unsetenv(CDP_ROOT_KEY_ENV);
    test_rmtree(test_dir);
    free(test_dir);
    test_dir = NULL;
}

TestSuite(aead, .init = setup, .fini = teardown);
TestSuite(rootkey, .init = setup, .fini = teardown);
TestSuite(keystore, .init = setup, .fini = teardown);
TestSuite(datakey, .init = setup, .fini = teardown);
TestSuite(blind, .init = setup, .fini = teardown);
TestSuite(alloc_failure, .init = setup, .fini = teardown);

static void path_in_dir(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", test_dir, name);
}

static int all_zero(const uint8_t *bytes, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (bytes[i] != 0)
            return 0;
    return 1;
}

static const uint8_t test_root_bytes[CDP_ROOT_KEY_BYTES] = {
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};

static cdp_rootkey *test_rootkey(void) {
    cdp_rootkey *rootkey = NULL;
    cr_assert_eq(cdp_rootkey_from_bytes(test_root_bytes, &rootkey, NULL), CDP_OK);
    return rootkey;
}

/* Creates DIR/keystore for the given regions with the test root key and opens it. */
static cdp_keystore *make_keystore(const char *const *regions, size_t count, char *path,
                                   size_t cap) {
    path_in_dir(path, cap, "keystore");
    cdp_rootkey *rootkey = test_rootkey();
    cdp_err err = {0};
    cr_assert_eq(cdp_keystore_create(path, rootkey, regions, count, &err), CDP_OK, "%s",
                 err.message);
    cdp_keystore *keystore = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, &err), CDP_OK, "%s", err.message);
    cdp_rootkey_free(rootkey);
    return keystore;
}

/* The keystore file's plaintext, unsealed the way the format is specified (independently of
 * the keystore code). Caller frees with free(). */
static uint8_t *unseal_keystore_file(const char *path, size_t *plain_len) {
    size_t file_len = 0;
    uint8_t *file = test_read_file(path, &file_len);
    cr_assert_not_null(file);
    cr_assert_geq(file_len, 8 + 24 + 16);
    cr_assert_eq(memcmp(file, "CDPKEYS1", 8), 0);
    uint8_t seal_key[32];
    crypto_kdf_derive_from_key(seal_key, sizeof seal_key, 1, "cdpkstor", test_root_bytes);
    uint8_t *plain = malloc(file_len);
    unsigned long long len = 0;
    cr_assert_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(
                     plain, &len, NULL, file + 32, file_len - 32, file, 8, file + 8, seal_key),
                 0);
    free(file);
    *plain_len = (size_t)len;
    return plain;
}

/* Seals plain with the test root key's keystore key and writes it as the keystore file. */
static void reseal_keystore_file(const char *path, const uint8_t *plain, size_t plain_len) {
    uint8_t seal_key[32];
    crypto_kdf_derive_from_key(seal_key, sizeof seal_key, 1, "cdpkstor", test_root_bytes);
    size_t file_len = 8 + 24 + plain_len + 16;
    uint8_t *file = malloc(file_len);
    memcpy(file, "CDPKEYS1", 8);
    randombytes_buf(file + 8, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + 32, NULL, plain, plain_len, file, 8, NULL,
                                               file + 8, seal_key);
    cr_assert_eq(test_write_file(path, file, file_len, 0600), 0);
    free(file);
}

/* ---- AEAD ---- */

static const uint8_t test_aead_key[CDP_AEAD_KEY_BYTES] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static size_t make_ad(uint8_t *ad, const char *region, const char *column_family,
                      const char *record_key) {
    size_t ad_len = 0;
    cr_assert_eq(cdp_aead_ad(ad, CDP_AEAD_AD_MAX, &ad_len, region, column_family,
                             (const uint8_t *)record_key, strlen(record_key)),
                 CDP_OK);
    return ad_len;
}

Test(aead, round_trip_returns_the_plaintext) {
    const char *plain = "{\"email\":\"ada@example.com\"}";
    size_t plain_len = strlen(plain);
    uint8_t ad[CDP_AEAD_AD_MAX], sealed[128], opened[128];
    size_t ad_len = make_ad(ad, "eu", "profiles", "profile-1");
    size_t sealed_len = 0, opened_len = 0;
    cr_assert_eq(cdp_aead_seal(sealed, sizeof sealed, &sealed_len, (const uint8_t *)plain,
                               plain_len, ad, ad_len, test_aead_key),
                 CDP_OK);
    cr_assert_eq(sealed_len, plain_len + CDP_AEAD_OVERHEAD);
    cr_assert_null(memmem(sealed, sealed_len, "ada@example.com", 15), "plaintext visible");
    cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, sealed_len, ad, ad_len,
                               test_aead_key),
                 CDP_OK);
    cr_assert_eq(opened_len, plain_len);
    cr_assert_eq(memcmp(opened, plain, plain_len), 0);
    /* Empty plaintext works too. */
    cr_assert_eq(
        cdp_aead_seal(sealed, sizeof sealed, &sealed_len, NULL, 0, ad, ad_len, test_aead_key),
        CDP_OK);
    cr_assert_eq(
        cdp_aead_open(opened, 0, &opened_len, sealed, sealed_len, ad, ad_len, test_aead_key),
        CDP_OK);
    cr_assert_eq(opened_len, 0);
}

Test(aead, every_flipped_byte_of_nonce_ciphertext_or_tag_fails_with_crypto) {
    uint8_t plain[40], ad[CDP_AEAD_AD_MAX], sealed[40 + CDP_AEAD_OVERHEAD], opened[40];
    memset(plain, 'x', sizeof plain);
    size_t ad_len = make_ad(ad, "eu", "events", "e1");
    size_t sealed_len = 0, opened_len = 0;
    cr_assert_eq(cdp_aead_seal(sealed, sizeof sealed, &sealed_len, plain, sizeof plain, ad, ad_len,
                               test_aead_key),
                 CDP_OK);
    for (size_t i = 0; i < sealed_len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            sealed[i] ^= (uint8_t)(1u << bit);
            memset(opened, 0xaa, sizeof opened);
            cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, sealed_len, ad,
                                       ad_len, test_aead_key),
                         CDP_CRYPTO, "byte %zu bit %d", i, bit);
            cr_assert(all_zero(opened, sizeof opened), "output not wiped (byte %zu)", i);
            cr_assert_eq(opened_len, 0);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, sealed_len, ad, ad_len,
                               test_aead_key),
                 CDP_OK);
}

Test(aead, truncated_sealed_input_is_corrupt_or_fails_authentication) {
    uint8_t plain[16] = {0}, ad[CDP_AEAD_AD_MAX], sealed[16 + CDP_AEAD_OVERHEAD], opened[16];
    size_t ad_len = make_ad(ad, "eu", "profiles", "p");
    size_t sealed_len = 0, opened_len = 0;
    cr_assert_eq(cdp_aead_seal(sealed, sizeof sealed, &sealed_len, plain, sizeof plain, ad, ad_len,
                               test_aead_key),
                 CDP_OK);
    for (size_t len = 0; len < CDP_AEAD_OVERHEAD; len++)
        cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, len, ad, ad_len,
                                   test_aead_key),
                     CDP_CORRUPT, "length %zu", len);
    for (size_t len = CDP_AEAD_OVERHEAD; len < sealed_len; len++)
        cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, len, ad, ad_len,
                                   test_aead_key),
                     CDP_CRYPTO, "length %zu", len);
}

Test(aead, ciphertext_moved_to_another_region_column_family_or_record_key_fails) {
    const uint8_t plain[] = "consent: marketing=yes";
    uint8_t ad[CDP_AEAD_AD_MAX], other[CDP_AEAD_AD_MAX], sealed[64], opened[64];
    size_t ad_len = make_ad(ad, "eu", "consent", "profile-1");
    size_t sealed_len = 0, opened_len = 0;
    cr_assert_eq(cdp_aead_seal(sealed, sizeof sealed, &sealed_len, plain, sizeof plain, ad, ad_len,
                               test_aead_key),
                 CDP_OK);
    const char *bindings[][3] = {{"us", "consent", "profile-1"},
                                 {"eu", "profiles", "profile-1"},
                                 {"eu", "consent", "profile-2"},
                                 /* Length prefixes keep shifted boundaries apart. */
                                 {"euc", "onsent", "profile-1"}};
    for (size_t i = 0; i < sizeof bindings / sizeof bindings[0]; i++) {
        size_t other_len = make_ad(other, bindings[i][0], bindings[i][1], bindings[i][2]);
        cr_assert_eq(cdp_aead_open(opened, sizeof opened, &opened_len, sealed, sealed_len, other,
                                   other_len, test_aead_key),
                     CDP_CRYPTO, "binding %zu opened", i);
    }
}

Test(aead, refuses_short_output_buffers_and_oversized_associated_data) {
    uint8_t plain[10] = {0}, sealed[10 + CDP_AEAD_OVERHEAD], opened[10], ad[16];
    size_t out_len = 0;
    cr_assert_eq(cdp_aead_seal(sealed, sizeof sealed - 1, &out_len, plain, sizeof plain, NULL, 0,
                               test_aead_key),
                 CDP_MISUSE);
    cr_assert_eq(
        cdp_aead_seal(sealed, sizeof sealed, &out_len, plain, sizeof plain, NULL, 0, test_aead_key),
        CDP_OK);
    cr_assert_eq(cdp_aead_open(opened, sizeof opened - 1, &out_len, sealed, sizeof sealed, NULL, 0,
                               test_aead_key),
                 CDP_MISUSE);
    cr_assert_eq(cdp_aead_ad(ad, sizeof ad, &out_len, "eu", "profiles", (const uint8_t *)"k", 1),
                 CDP_MISUSE);
    cr_assert_eq(cdp_aead_ad(NULL, 0, &out_len, "eu", "profiles", NULL, 0), CDP_MISUSE);
}

#define NONCES_PER_THREAD 50000

static int compare_nonces(const void *a, const void *b) {
    return memcmp(a, b, CDP_AEAD_NONCE_BYTES);
}

static void *draw_nonces(void *arg) {
    uint8_t *nonces = arg;
    for (size_t i = 0; i < NONCES_PER_THREAD; i++)
        cdp_aead_nonce(nonces + i * CDP_AEAD_NONCE_BYTES);
    return NULL;
}

Test(aead, nonces_from_many_calls_and_two_threads_are_unique) {
    size_t total = 3 * NONCES_PER_THREAD;
    uint8_t *nonces = malloc(total * CDP_AEAD_NONCE_BYTES);
    cr_assert_not_null(nonces);
    pthread_t first, second;
    cr_assert_eq(pthread_create(&first, NULL, draw_nonces, nonces), 0);
    cr_assert_eq(pthread_create(&second, NULL, draw_nonces,
                                nonces + NONCES_PER_THREAD * CDP_AEAD_NONCE_BYTES),
                 0);
    draw_nonces(nonces + 2 * NONCES_PER_THREAD * CDP_AEAD_NONCE_BYTES);
    pthread_join(first, NULL);
    pthread_join(second, NULL);
    /* Threads draw different prefixes. */
    cr_assert_neq(memcmp(nonces, nonces + NONCES_PER_THREAD * CDP_AEAD_NONCE_BYTES, 16), 0);
    qsort(nonces, total, CDP_AEAD_NONCE_BYTES, compare_nonces);
    for (size_t i = 1; i < total; i++)
        cr_assert_neq(memcmp(nonces + (i - 1) * CDP_AEAD_NONCE_BYTES,
                             nonces + i * CDP_AEAD_NONCE_BYTES, CDP_AEAD_NONCE_BYTES),
                      0, "nonce repeated");
    free(nonces);
}

Test(aead, forked_child_does_not_repeat_the_parents_nonces) {
    uint8_t before[CDP_AEAD_NONCE_BYTES], parent_next[CDP_AEAD_NONCE_BYTES],
        child_next[CDP_AEAD_NONCE_BYTES];
    cdp_aead_nonce(before);
    int pipe_fds[2];
    cr_assert_eq(pipe(pipe_fds), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        uint8_t nonce[CDP_AEAD_NONCE_BYTES];
        cdp_aead_nonce(nonce);
        ssize_t written = write(pipe_fds[1], nonce, sizeof nonce);
        _exit(written == (ssize_t)sizeof nonce ? 0 : 1);
    }
    close(pipe_fds[1]);
    cdp_aead_nonce(parent_next);
    cr_assert_eq(read(pipe_fds[0], child_next, sizeof child_next), (ssize_t)sizeof child_next);
    close(pipe_fds[0]);
    int child_status = 0;
    waitpid(child, &child_status, 0);
    cr_assert_neq(memcmp(parent_next, child_next, CDP_AEAD_NONCE_BYTES), 0);
    cr_assert_neq(memcmp(before, child_next, 16), 0, "child kept the parent's prefix");
}

/* ---- Root key ---- */

Test(rootkey, created_file_has_mode_0600_and_32_bytes_and_loads) {
    char path[4096];
    path_in_dir(path, sizeof path, "root.key");
    mode_t old_umask = umask(0); /* the mode must not depend on the umask */
    cdp_status status = cdp_rootkey_create_file(path, NULL);
    umask(old_umask);
    cr_assert_eq(status, CDP_OK);
    struct stat info;
    cr_assert_eq(lstat(path, &info), 0);
    cr_assert(S_ISREG(info.st_mode));
    cr_assert_eq(info.st_mode & 07777, 0600);
    cr_assert_eq(info.st_size, 32);
    size_t len = 0;
    uint8_t *bytes = test_read_file(path, &len);
    cr_assert_eq(len, 32);
    cr_assert(!all_zero(bytes, len));
    cdp_rootkey *rootkey = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_rootkey_load(path, &rootkey, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(memcmp(cdp_rootkey_bytes(rootkey), bytes, 32), 0);
    cr_assert_eq(cdp_rootkey_from_env(rootkey), 0);
    cdp_rootkey_free(rootkey);
    free(bytes);
}

Test(rootkey, create_twice_is_exists_and_keeps_the_first_key) {
    char path[4096];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(cdp_rootkey_create_file(path, NULL), CDP_OK);
    size_t len = 0;
    uint8_t *first = test_read_file(path, &len);
    cdp_err err = {0};
    cr_assert_eq(cdp_rootkey_create_file(path, &err), CDP_EXISTS);
    cr_assert_eq(err.status, CDP_EXISTS);
    cr_assert_not_null(strstr(err.message, path));
    uint8_t *second = test_read_file(path, &len);
    cr_assert_eq(memcmp(first, second, 32), 0);
    free(first);
    free(second);
}

static void assert_load_refused(const char *path, cdp_status expected, const char *needle) {
    cdp_rootkey *rootkey = (cdp_rootkey *)&rootkey; /* must be reset to NULL */
    cdp_err err = {0};
    cr_assert_eq(cdp_rootkey_load(path, &rootkey, &err), expected, "got: %s", err.message);
    cr_assert_null(rootkey);
    cr_assert_eq(err.status, expected);
    cr_assert_not_null(strstr(err.message, path), "message lacks path: %s", err.message);
    if (needle != NULL)
        cr_assert_not_null(strstr(err.message, needle), "message: %s", err.message);
}

Test(rootkey, file_readable_by_others_mode_0644_is_insecure) {
    char path[4096];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(test_write_file(path, test_root_bytes, 32, 0644), 0);
    assert_load_refused(path, CDP_INSECURE, "0644");
}

Test(rootkey, file_readable_by_group_mode_0640_is_insecure) {
    char path[4096];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(test_write_file(path, test_root_bytes, 32, 0640), 0);
    assert_load_refused(path, CDP_INSECURE, "0640");
}

Test(rootkey, file_writable_by_group_mode_0620_is_insecure) {
    char path[4096];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(test_write_file(path, test_root_bytes, 32, 0620), 0);
    assert_load_refused(path, CDP_INSECURE, "0620");
}

Test(rootkey, file_of_31_or_33_bytes_is_bad_key) {
    char path[4096];
    uint8_t bytes[33] = {0};
    path_in_dir(path, sizeof path, "short.key");
    cr_assert_eq(test_write_file(path, bytes, 31, 0600), 0);
    assert_load_refused(path, CDP_BAD_KEY, "31 bytes");
    path_in_dir(path, sizeof path, "long.key");
    cr_assert_eq(test_write_file(path, bytes, 33, 0600), 0);
    assert_load_refused(path, CDP_BAD_KEY, "33 bytes");
}

Test(rootkey, missing_file_is_not_found) {
    char path[4096];
    path_in_dir(path, sizeof path, "absent.key");
    assert_load_refused(path, CDP_NOT_FOUND, NULL);
}

Test(rootkey, symlink_to_a_valid_key_is_refused) {
    char target[4096], link_path[4096];
    path_in_dir(target, sizeof target, "real.key");
    path_in_dir(link_path, sizeof link_path, "root.key");
    cr_assert_eq(cdp_rootkey_create_file(target, NULL), CDP_OK);
    cr_assert_eq(symlink(target, link_path), 0);
    assert_load_refused(link_path, CDP_BAD_KEY, "symbolic link");
}

Test(rootkey, directory_or_fifo_at_the_path_is_refused_without_hanging) {
    char path[4096];
    path_in_dir(path, sizeof path, "dir.key");
    cr_assert_eq(mkdir(path, 0700), 0);
    assert_load_refused(path, CDP_BAD_KEY, "regular file");
    path_in_dir(path, sizeof path, "fifo.key");
    cr_assert_eq(mkfifo(path, 0600), 0);
    assert_load_refused(path, CDP_BAD_KEY, "regular file");
}

Test(rootkey, environment_variable_with_valid_hex_takes_precedence) {
    char path[4096], hex[65];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(cdp_rootkey_create_file(path, NULL), CDP_OK); /* a different key on disk */
    cdp_hex_encode(hex, test_root_bytes, 32);
    for (int upper = 0; upper < 2; upper++) {
        if (upper)
            for (char *c = hex; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                    *c = (char)(*c - 'a' + 'A');
        cr_assert_eq(setenv(CDP_ROOT_KEY_ENV, hex, 1), 0);
        cdp_rootkey *rootkey = NULL;
        cdp_err err = {0};
        cr_assert_eq(cdp_rootkey_load(path, &rootkey, &err), CDP_OK, "%s", err.message);
        cr_assert_eq(memcmp(cdp_rootkey_bytes(rootkey), test_root_bytes, 32), 0);
        cr_assert_eq(cdp_rootkey_from_env(rootkey), 1);
        cdp_rootkey_free(rootkey);
    }
    /* Even without a file. */
    cdp_rootkey *rootkey = NULL;
    path_in_dir(path, sizeof path, "absent.key");
    cr_assert_eq(cdp_rootkey_load(path, &rootkey, NULL), CDP_OK);
    cdp_rootkey_free(rootkey);
    unsetenv(CDP_ROOT_KEY_ENV);
}

Test(rootkey, environment_variable_with_bad_hex_is_bad_key_and_not_echoed) {
    char path[4096], hex[65];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(cdp_rootkey_create_file(path, NULL), CDP_OK); /* no fallback to the file */
    cdp_hex_encode(hex, test_root_bytes, 32);
    char bad_char[65];
    memcpy(bad_char, hex, sizeof bad_char);
    bad_char[10] = 'g';
    const char *values[] = {"", "abcd", bad_char, "zz"};
    char too_long[67];
    snprintf(too_long, sizeof too_long, "%s00", hex);
    for (size_t i = 0; i < 5; i++) {
        const char *value = i < 4 ? values[i] : too_long;
        cr_assert_eq(setenv(CDP_ROOT_KEY_ENV, value, 1), 0);
        cdp_rootkey *rootkey = NULL;
        cdp_err err = {0};
        cr_assert_eq(cdp_rootkey_load(path, &rootkey, &err), CDP_BAD_KEY, "value %zu", i);
        cr_assert_null(rootkey);
        cr_assert_not_null(strstr(err.message, CDP_ROOT_KEY_ENV));
        if (strlen(value) > 4)
            cr_assert_null(strstr(err.message, value + 4), "secret echoed: %s", err.message);
    }
    unsetenv(CDP_ROOT_KEY_ENV);
}

Test(rootkey, free_accepts_null_and_accessors_tolerate_null) {
    cdp_rootkey_free(NULL);
    cr_assert_null(cdp_rootkey_bytes(NULL));
    cr_assert_eq(cdp_rootkey_from_env(NULL), 0);
    cr_assert_eq(cdp_rootkey_load(NULL, NULL, NULL), CDP_MISUSE);
}

/* ---- Keystore ---- */

static const char *const two_regions[] = {"eu", "us"};

static void assert_keys_equal(const cdp_region_keys *a, const cdp_region_keys *b) {
    cr_assert_str_eq(a->region, b->region);
    cr_assert_eq(a->epoch, b->epoch);
    cr_assert_eq(memcmp(a->kek, b->kek, CDP_KEK_BYTES), 0);
    cr_assert_eq(memcmp(a->blind_key, b->blind_key, CDP_BLIND_KEY_BYTES), 0);
    cr_assert_eq(memcmp(a->audit_secret_key, b->audit_secret_key, CDP_AUDIT_SECRET_KEY_BYTES), 0);
    cr_assert_eq(memcmp(a->audit_public_key, b->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES), 0);
}

Test(keystore, create_then_open_twice_gives_the_same_keys) {
    char path[4096];
    cdp_keystore *first = make_keystore(two_regions, 2, path, sizeof path);
    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *second = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &second, NULL), CDP_OK);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_mode & 07777, 0600);
    cr_assert_eq(cdp_keystore_region_count(second), 2);
    cr_assert_str_eq(cdp_keystore_region_name(second, 0), "eu");
    cr_assert_str_eq(cdp_keystore_region_name(second, 1), "us");
    cr_assert_null(cdp_keystore_region_name(second, 2));
    for (size_t i = 0; i < 2; i++) {
        const cdp_region_keys *a = NULL, *b = NULL;
        cr_assert_eq(cdp_keystore_current(first, two_regions[i], &a, NULL), CDP_OK);
        cr_assert_eq(cdp_keystore_current(second, two_regions[i], &b, NULL), CDP_OK);
        cr_assert_eq(a->epoch, 1);
        cr_assert_str_eq(a->region, two_regions[i]);
        assert_keys_equal(a, b);
        /* The audit key pair is a real Ed25519 pair. */
        uint8_t public_key[CDP_AUDIT_PUBLIC_KEY_BYTES];
        crypto_sign_ed25519_sk_to_pk(public_key, a->audit_secret_key);
        cr_assert_eq(memcmp(public_key, a->audit_public_key, sizeof public_key), 0);
        uint32_t live[4];
        cr_assert_eq(cdp_keystore_live_epochs(second, two_regions[i], live, 4), 1);
        cr_assert_eq(live[0], 1);
    }
    cdp_keystore_close(first);
    cdp_keystore_close(second);
    cdp_rootkey_free(rootkey);
}

Test(keystore, different_regions_have_different_keys) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *eu = NULL, *us = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &eu, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_current(keystore, "us", &us, NULL), CDP_OK);
    cr_assert_neq(memcmp(eu->kek, us->kek, CDP_KEK_BYTES), 0);
    cr_assert_neq(memcmp(eu->blind_key, us->blind_key, CDP_BLIND_KEY_BYTES), 0);
    cr_assert_neq(memcmp(eu->audit_secret_key, us->audit_secret_key, CDP_AUDIT_SECRET_KEY_BYTES),
                  0);
    cr_assert_neq(memcmp(eu->audit_public_key, us->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES),
                  0);
    cr_assert_neq(memcmp(eu->kek, eu->blind_key, CDP_KEK_BYTES), 0);
    cdp_keystore_close(keystore);
}

Test(keystore, file_holds_no_key_in_the_clear) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *eu = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &eu, NULL), CDP_OK);
    cr_assert_eq(test_scan_tree(test_dir, eu->kek, CDP_KEK_BYTES, NULL, 0), 0);
    cr_assert_eq(test_scan_tree(test_dir, eu->blind_key, CDP_BLIND_KEY_BYTES, NULL, 0), 0);
    cr_assert_eq(test_scan_tree(test_dir, test_root_bytes, CDP_ROOT_KEY_BYTES, NULL, 0), 0);
    cdp_keystore_close(keystore);
}

Test(keystore, wrong_root_key_is_bad_key) {
    char path[4096];
    cdp_keystore_close(make_keystore(two_regions, 2, path, sizeof path));
    uint8_t other_bytes[CDP_ROOT_KEY_BYTES];
    memcpy(other_bytes, test_root_bytes, sizeof other_bytes);
    other_bytes[31] ^= 1;
    cdp_rootkey *other = NULL;
    cr_assert_eq(cdp_rootkey_from_bytes(other_bytes, &other, NULL), CDP_OK);
    cdp_keystore *keystore = (cdp_keystore *)&keystore;
    cdp_err err = {0};
    cr_assert_eq(cdp_keystore_open(path, other, &keystore, &err), CDP_BAD_KEY);
    cr_assert_null(keystore);
    cr_assert_not_null(strstr(err.message, "root key does not open it"), "%s", err.message);
    cdp_rootkey_free(other);
}

Test(keystore, every_flipped_byte_of_the_file_is_bad_key_or_corrupt) {
    char path[4096];
    cdp_keystore_close(make_keystore(two_regions, 2, path, sizeof path));
    size_t len = 0;
    uint8_t *original = test_read_file(path, &len);
    cr_assert_not_null(original);
    cdp_rootkey *rootkey = test_rootkey();
    for (size_t i = 0; i < len; i++) {
        original[i] ^= 0x01;
        cr_assert_eq(test_write_file(path, original, len, 0600), 0);
        original[i] ^= 0x01;
        cdp_keystore *keystore = NULL;
        cdp_status status = cdp_keystore_open(path, rootkey, &keystore, NULL);
        cr_assert(status == CDP_BAD_KEY || status == CDP_CORRUPT, "byte %zu: status %d", i, status);
        cr_assert_null(keystore);
    }
    cdp_rootkey_free(rootkey);
    free(original);
}

Test(keystore, every_truncation_of_the_file_fails_cleanly) {
    char path[4096];
    cdp_keystore_close(make_keystore(two_regions, 2, path, sizeof path));
    size_t len = 0;
    uint8_t *original = test_read_file(path, &len);
    cdp_rootkey *rootkey = test_rootkey();
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_eq(test_write_file(path, original, cut, 0600), 0);
        cdp_keystore *keystore = NULL;
        cdp_err err = {0};
        cdp_status status = cdp_keystore_open(path, rootkey, &keystore, &err);
        cr_assert(status == CDP_BAD_KEY || status == CDP_CORRUPT, "length %zu: %s", cut,
                  err.message);
        cr_assert_null(keystore);
    }
    cdp_rootkey_free(rootkey);
    free(original);
}

/* The AEAD keeps damage from reaching the decoder; these plaintexts are sealed with the right
 * key so that the decoder's own bounds checks are what is tested. */
Test(keystore, malformed_plaintext_sealed_with_the_right_key_is_corrupt_never_a_crash) {
    char path[4096];
    cdp_keystore *made = make_keystore(two_regions, 2, path, sizeof path);
    uint32_t epoch = 0;
    cr_assert_eq(cdp_keystore_begin_epoch(made, "eu", &epoch, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_destroy_epoch(made, "eu", 1, NULL), CDP_OK);
    cdp_keystore_close(made);
    size_t plain_len = 0;
    uint8_t *plain = unseal_keystore_file(path, &plain_len);
    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *keystore = NULL;
    /* Every truncation of the plaintext. */
    for (size_t cut = 0; cut < plain_len; cut++) {
        reseal_keystore_file(path, plain, cut);
        cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_CORRUPT, "cut %zu",
                     cut);
    }
    /* Trailing bytes. */
    uint8_t *longer = malloc(plain_len + 1);
    memcpy(longer, plain, plain_len);
    longer[plain_len] = 0;
    reseal_keystore_file(path, longer, plain_len + 1);
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_CORRUPT);
    free(longer);
    /* Every byte set to 0x00, 0xff and 0x02 in turn: decodes (key bytes) or is corrupt. */
    const uint8_t replacements[] = {0x00, 0xff, 0x02, 0x80};
    for (size_t i = 0; i < plain_len; i++) {
        for (size_t r = 0; r < sizeof replacements; r++) {
            uint8_t saved = plain[i];
            plain[i] = replacements[r];
            reseal_keystore_file(path, plain, plain_len);
            plain[i] = saved;
            cdp_status status = cdp_keystore_open(path, rootkey, &keystore, NULL);
            cr_assert(status == CDP_OK || status == CDP_CORRUPT, "byte %zu: %d", i, status);
            cdp_keystore_close(keystore);
            keystore = NULL;
        }
    }
    /* A huge region count and a huge epoch count with nothing behind them. */
    uint8_t huge[] = {1, 0xff, 0xff, 0xff, 0xff};
    reseal_keystore_file(path, huge, sizeof huge);
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_CORRUPT);
    uint8_t huge_epochs[] = {1, 0, 0, 0, 1, 2, 'e', 'u', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    reseal_keystore_file(path, huge_epochs, sizeof huge_epochs);
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_CORRUPT);
    /* An unknown format version. */
    uint8_t version_two[] = {2, 0, 0, 0, 0};
    reseal_keystore_file(path, version_two, sizeof version_two);
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_CORRUPT);
    /* An empty keystore (no regions) is valid. */
    uint8_t empty[] = {1, 0, 0, 0, 0};
    reseal_keystore_file(path, empty, sizeof empty);
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_region_count(keystore), 0);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
    free(plain);
}

Test(keystore, begin_epoch_makes_a_new_current_epoch_with_new_keys_that_persists) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *old_keys = NULL, *new_keys = NULL, *us_before = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &old_keys, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_current(keystore, "us", &us_before, NULL), CDP_OK);
    uint8_t us_kek[CDP_KEK_BYTES];
    memcpy(us_kek, us_before->kek, sizeof us_kek);
    uint32_t epoch = 0;
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", &epoch, NULL), CDP_OK);
    cr_assert_eq(epoch, 2);
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &new_keys, NULL), CDP_OK);
    cr_assert_eq(new_keys->epoch, 2);
    /* The old epoch's pointer stays valid and usable. */
    cr_assert_eq(old_keys->epoch, 1);
    cr_assert_neq(memcmp(old_keys->kek, new_keys->kek, CDP_KEK_BYTES), 0);
    cr_assert_neq(memcmp(old_keys->blind_key, new_keys->blind_key, CDP_BLIND_KEY_BYTES), 0);
    cr_assert_neq(
        memcmp(old_keys->audit_public_key, new_keys->audit_public_key, CDP_AUDIT_PUBLIC_KEY_BYTES),
        0);
    const cdp_region_keys *again = NULL;
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 1, &again, NULL), CDP_OK);
    cr_assert_eq(again, old_keys);
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", &epoch, NULL), CDP_OK);
    cr_assert_eq(epoch, 3);
    uint32_t live[8];
    cr_assert_eq(cdp_keystore_live_epochs(keystore, "eu", live, 2), 3);
    cr_assert_eq(live[0], 1);
    cr_assert_eq(live[1], 2);

    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *reopened = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &reopened, NULL), CDP_OK);
    const cdp_region_keys *current = NULL, *original = NULL, *second = NULL;
    cr_assert_eq(cdp_keystore_current(reopened, "eu", &current, NULL), CDP_OK);
    cr_assert_eq(current->epoch, 3);
    cr_assert_eq(cdp_keystore_epoch(reopened, "eu", 1, &original, NULL), CDP_OK);
    assert_keys_equal(original, old_keys);
    cr_assert_eq(cdp_keystore_epoch(reopened, "eu", 2, &second, NULL), CDP_OK);
    assert_keys_equal(second, new_keys);
    /* Other regions are untouched. */
    cr_assert_eq(cdp_keystore_current(reopened, "us", &current, NULL), CDP_OK);
    cr_assert_eq(current->epoch, 1);
    cr_assert_eq(memcmp(current->kek, us_kek, CDP_KEK_BYTES), 0);
    cdp_keystore_close(reopened);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
}

Test(keystore, destroying_the_current_epoch_is_conflict) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    cdp_err err = {0};
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, &err), CDP_CONFLICT);
    cr_assert_not_null(strstr(err.message, "current"), "%s", err.message);
    const cdp_region_keys *keys = NULL;
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 1, &keys, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 7, NULL), CDP_NOT_FOUND);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "mars", 1, NULL), CDP_NOT_FOUND);
    cdp_keystore_close(keystore);
}

Test(keystore, destroyed_epoch_keys_are_gone_from_memory_and_file_but_audit_key_remains) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *old_keys = NULL;
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 1, &old_keys, NULL), CDP_OK);
    uint8_t kek[CDP_KEK_BYTES], blind_key[CDP_BLIND_KEY_BYTES],
        audit_secret[CDP_AUDIT_SECRET_KEY_BYTES], audit_public[CDP_AUDIT_PUBLIC_KEY_BYTES];
    memcpy(kek, old_keys->kek, sizeof kek);
    memcpy(blind_key, old_keys->blind_key, sizeof blind_key);
    memcpy(audit_secret, old_keys->audit_secret_key, sizeof audit_secret);
    memcpy(audit_public, old_keys->audit_public_key, sizeof audit_public);
    old_keys = NULL; /* borrowed until destroyed */

    uint32_t epoch = 0;
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", &epoch, NULL), CDP_OK);
    /* Before destruction the sealed file does hold the KEK: the scan below can see it. */
    size_t plain_len = 0;
    uint8_t *plain = unseal_keystore_file(path, &plain_len);
    cr_assert_not_null(memmem(plain, plain_len, kek, sizeof kek));
    free(plain);

    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, NULL), CDP_OK, "twice is fine");
    cdp_err err = {0};
    const cdp_region_keys *keys = (const cdp_region_keys *)&keys;
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 1, &keys, &err), CDP_CRYPTO);
    cr_assert_null(keys);
    cr_assert_not_null(strstr(err.message, "destroyed"), "%s", err.message);
    uint32_t live[4];
    cr_assert_eq(cdp_keystore_live_epochs(keystore, "eu", live, 4), 1);
    cr_assert_eq(live[0], 2);

    /* Neither the raw file, nor anything in the directory, nor the unsealed plaintext. */
    size_t file_len = 0;
    uint8_t *file = test_read_file(path, &file_len);
    cr_assert_null(memmem(file, file_len, kek, sizeof kek));
    free(file);
    cr_assert_eq(test_scan_tree(test_dir, kek, sizeof kek, NULL, 0), 0);
    plain = unseal_keystore_file(path, &plain_len);
    cr_assert_null(memmem(plain, plain_len, kek, sizeof kek), "KEK still in the keystore");
    cr_assert_null(memmem(plain, plain_len, blind_key, sizeof blind_key));
    cr_assert_null(memmem(plain, plain_len, audit_secret, sizeof audit_secret));
    cr_assert_not_null(memmem(plain, plain_len, audit_public, sizeof audit_public));
    free(plain);

    uint8_t public_key[CDP_AUDIT_PUBLIC_KEY_BYTES];
    cr_assert_eq(cdp_keystore_audit_public_key(keystore, "eu", 1, public_key, NULL), CDP_OK);
    cr_assert_eq(memcmp(public_key, audit_public, sizeof public_key), 0);

    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *reopened = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &reopened, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_epoch(reopened, "eu", 1, &keys, NULL), CDP_CRYPTO);
    cr_assert_eq(cdp_keystore_audit_public_key(reopened, "eu", 1, public_key, NULL), CDP_OK);
    cr_assert_eq(memcmp(public_key, audit_public, sizeof public_key), 0);
    cr_assert_eq(cdp_keystore_audit_public_key(reopened, "eu", 9, public_key, NULL), CDP_NOT_FOUND);
    cr_assert_eq(cdp_keystore_live_epochs(reopened, "eu", NULL, 0), 1);
    cdp_keystore_close(reopened);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
}

Test(keystore, duplicate_or_invalid_region_names_on_create_are_misuse) {
    char path[4096];
    path_in_dir(path, sizeof path, "keystore");
    cdp_rootkey *rootkey = test_rootkey();
    const char *const duplicate[] = {"eu", "us", "eu"};
    cdp_err err = {0};
    cr_assert_eq(cdp_keystore_create(path, rootkey, duplicate, 3, &err), CDP_MISUSE);
    cr_assert_not_null(strstr(err.message, "eu"), "%s", err.message);
    const char *const invalid[] = {"", "EU", "e-u", "eu ", "abcdefghijklmnopq", "é"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        const char *const one[] = {invalid[i]};
        cr_assert_eq(cdp_keystore_create(path, rootkey, one, 1, NULL), CDP_MISUSE, "%s",
                     invalid[i]);
    }
    const char *const null_name[] = {NULL};
    cr_assert_eq(cdp_keystore_create(path, rootkey, null_name, 1, NULL), CDP_MISUSE);
    cr_assert_eq(access(path, F_OK), -1, "no file left behind");
    const char *const longest[] = {"abcdefghijklmnop", "a_1"};
    cr_assert_eq(cdp_keystore_create(path, rootkey, longest, 2, NULL), CDP_OK);
    cdp_rootkey_free(rootkey);
}

Test(keystore, create_over_an_existing_file_is_exists) {
    char path[4096];
    cdp_keystore_close(make_keystore(two_regions, 2, path, sizeof path));
    size_t len = 0;
    uint8_t *before = test_read_file(path, &len);
    cdp_rootkey *rootkey = test_rootkey();
    cr_assert_eq(cdp_keystore_create(path, rootkey, two_regions, 2, NULL), CDP_EXISTS);
    size_t after_len = 0;
    uint8_t *after = test_read_file(path, &after_len);
    cr_assert_eq(after_len, len);
    cr_assert_eq(memcmp(before, after, len), 0);
    free(before);
    free(after);
    cdp_rootkey_free(rootkey);
}

Test(keystore, add_region_persists_and_refuses_an_existing_one) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    cr_assert_eq(cdp_keystore_add_region(keystore, "apac", NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_add_region(keystore, "eu", NULL), CDP_EXISTS);
    cr_assert_eq(cdp_keystore_add_region(keystore, "Bad", NULL), CDP_MISUSE);
    const cdp_region_keys *apac = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "apac", &apac, NULL), CDP_OK);
    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *reopened = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &reopened, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_region_count(reopened), 3);
    cr_assert_str_eq(cdp_keystore_region_name(reopened, 2), "apac");
    const cdp_region_keys *again = NULL;
    cr_assert_eq(cdp_keystore_current(reopened, "apac", &again, NULL), CDP_OK);
    assert_keys_equal(apac, again);
    cdp_keystore_close(reopened);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
}

Test(keystore, missing_file_is_not_found_and_unknown_region_is_not_found) {
    char path[4096];
    path_in_dir(path, sizeof path, "absent");
    cdp_rootkey *rootkey = test_rootkey();
    cdp_keystore *keystore = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_NOT_FOUND);
    cr_assert_null(keystore);
    keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *keys = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "mars", &keys, NULL), CDP_NOT_FOUND);
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 2, &keys, NULL), CDP_NOT_FOUND);
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "mars", NULL, NULL), CDP_NOT_FOUND);
    cr_assert_eq(cdp_keystore_live_epochs(keystore, "mars", NULL, 0), 0);
    cr_assert_eq(cdp_keystore_current(NULL, "eu", &keys, NULL), CDP_MISUSE);
    cdp_keystore_close(keystore);
    cdp_keystore_close(NULL);
    cdp_rootkey_free(rootkey);
}

/* ---- Data keys ---- */

static const uint8_t profile_a[] = "profile-a";
static const uint8_t profile_b[] = "profile-b";

Test(datakey, wrap_then_unwrap_returns_the_data_key) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], wrapped[CDP_WRAPPED_KEY_BYTES],
        unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cdp_err err = {0};
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, wrapped, &err),
        CDP_OK, "%s", err.message);
    cr_assert_eq(wrapped[0], CDP_WRAPPED_KEY_VERSION);
    cr_assert_eq(cdp_datakey_epoch(wrapped, sizeof wrapped), 1);
    cr_assert_null(memmem(wrapped, sizeof wrapped, data_key, sizeof data_key));
    uint32_t epoch = 0;
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, unwrapped, &epoch, &err),
                 CDP_OK, "%s", err.message);
    cr_assert_eq(epoch, 1);
    cr_assert_eq(memcmp(unwrapped, data_key, sizeof data_key), 0);
    /* Two wraps of the same key differ (fresh nonce). */
    uint8_t wrapped_again[CDP_WRAPPED_KEY_BYTES];
    cr_assert_eq(cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key,
                                  wrapped_again, NULL),
                 CDP_OK);
    cr_assert_neq(memcmp(wrapped, wrapped_again, sizeof wrapped), 0);
    cdp_keystore_close(keystore);
}

Test(datakey, unwrap_for_another_profile_or_region_or_altered_bytes_is_crypto) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], wrapped[CDP_WRAPPED_KEY_BYTES],
        unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, wrapped, NULL),
        CDP_OK);
    memset(unwrapped, 0xaa, sizeof unwrapped);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_b, sizeof profile_b, wrapped,
                                    sizeof wrapped, unwrapped, NULL, NULL),
                 CDP_CRYPTO);
    cr_assert(all_zero(unwrapped, sizeof unwrapped));
    cr_assert_eq(cdp_datakey_unwrap(keystore, "us", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, unwrapped, NULL, NULL),
                 CDP_CRYPTO);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "mars", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, unwrapped, NULL, NULL),
                 CDP_NOT_FOUND);
    for (size_t i = 1; i < sizeof wrapped; i++) {
        wrapped[i] ^= 0x20;
        cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                        sizeof wrapped, unwrapped, NULL, NULL),
                     CDP_CRYPTO, "byte %zu", i);
        wrapped[i] ^= 0x20;
    }
    cdp_keystore_close(keystore);
}

Test(datakey, rewrap_after_begin_epoch_names_the_new_epoch_and_keeps_the_data_key) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], old_wrapped[CDP_WRAPPED_KEY_BYTES],
        new_wrapped[CDP_WRAPPED_KEY_BYTES], unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, old_wrapped, NULL),
        CDP_OK);
    uint32_t epoch = 0;
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", &epoch, NULL), CDP_OK);
    cdp_err err = {0};
    cr_assert_eq(cdp_datakey_rewrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, new_wrapped, &err),
                 CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_datakey_epoch(new_wrapped, sizeof new_wrapped), 2);
    uint32_t unwrapped_epoch = 0;
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, new_wrapped,
                                    sizeof new_wrapped, unwrapped, &unwrapped_epoch, NULL),
                 CDP_OK);
    cr_assert_eq(unwrapped_epoch, 2);
    cr_assert_eq(memcmp(unwrapped, data_key, sizeof data_key), 0);
    /* Old copies still open until the old epoch is destroyed. */
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, unwrapped, &unwrapped_epoch, NULL),
                 CDP_OK);
    cr_assert_eq(unwrapped_epoch, 1);
    cdp_keystore_close(keystore);
}

Test(datakey, old_wrapped_copy_cannot_be_unwrapped_after_its_epoch_is_destroyed) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], old_wrapped[CDP_WRAPPED_KEY_BYTES],
        new_wrapped[CDP_WRAPPED_KEY_BYTES], unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, old_wrapped, NULL),
        CDP_OK);
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", NULL, NULL), CDP_OK);
    cr_assert_eq(cdp_datakey_rewrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, new_wrapped, NULL),
                 CDP_OK);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, NULL), CDP_OK);
    cdp_err err = {0};
    memset(unwrapped, 0xaa, sizeof unwrapped);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, unwrapped, NULL, &err),
                 CDP_CRYPTO);
    cr_assert_not_null(strstr(err.message, "destroyed"), "%s", err.message);
    cr_assert(all_zero(unwrapped, sizeof unwrapped));
    cr_assert_eq(cdp_datakey_rewrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, new_wrapped + 0, NULL),
                 CDP_CRYPTO);

    /* Also after a restart: the old copy is shredded for good. */
    cdp_keystore_close(keystore);
    cdp_rootkey *rootkey = test_rootkey();
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_OK);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, old_wrapped,
                                    sizeof old_wrapped, unwrapped, NULL, NULL),
                 CDP_CRYPTO);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
}

Test(datakey, surviving_rewrapped_key_still_unwraps_after_old_epoch_is_destroyed) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], wrapped[CDP_WRAPPED_KEY_BYTES],
        unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, wrapped, NULL),
        CDP_OK);
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", NULL, NULL), CDP_OK);
    /* Rewrap in place. */
    cr_assert_eq(cdp_datakey_rewrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, wrapped, NULL),
                 CDP_OK);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, NULL), CDP_OK);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, unwrapped, NULL, NULL),
                 CDP_OK);
    cr_assert_eq(memcmp(unwrapped, data_key, sizeof data_key), 0);
    cdp_keystore_close(keystore);
}

Test(datakey, wrong_length_or_version_is_corrupt_and_unknown_epoch_is_crypto) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], wrapped[CDP_WRAPPED_KEY_BYTES + 1],
        unwrapped[CDP_DATA_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, wrapped, NULL),
        CDP_OK);
    wrapped[CDP_WRAPPED_KEY_BYTES] = 0;
    for (size_t len = 0; len <= CDP_WRAPPED_KEY_BYTES + 1; len++) {
        if (len == CDP_WRAPPED_KEY_BYTES)
            continue;
        cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped, len,
                                        unwrapped, NULL, NULL),
                     CDP_CORRUPT, "length %zu", len);
        cr_assert_eq(cdp_datakey_epoch(wrapped, len), 0);
    }
    wrapped[0] = 0x02;
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    CDP_WRAPPED_KEY_BYTES, unwrapped, NULL, NULL),
                 CDP_CORRUPT);
    cr_assert_eq(cdp_datakey_epoch(wrapped, CDP_WRAPPED_KEY_BYTES), 0);
    wrapped[0] = CDP_WRAPPED_KEY_VERSION;
    cdp_store_be32(wrapped + 1, 42);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    CDP_WRAPPED_KEY_BYTES, unwrapped, NULL, NULL),
                 CDP_CRYPTO);
    cr_assert_eq(cdp_datakey_epoch(NULL, 0), 0);
    cdp_keystore_close(keystore);
}

/* ---- Blind index ---- */

static void blind(uint8_t out[CDP_BLIND_BYTES], const uint8_t *key, const char *type,
                  const char *value) {
    cdp_blind_index(out, key, type, (const uint8_t *)value, strlen(value));
}

Test(blind, same_key_type_and_value_give_the_same_index) {
    uint8_t key[CDP_BLIND_KEY_BYTES], a[CDP_BLIND_BYTES], b[CDP_BLIND_BYTES];
    randombytes_buf(key, sizeof key);
    blind(a, key, "email", "ada@example.com");
    blind(b, key, "email", "ada@example.com");
    cr_assert_eq(memcmp(a, b, CDP_BLIND_BYTES), 0);
    /* It is the specified keyed BLAKE2b-256 of len32(type) || type || value. */
    uint8_t input[4 + 5 + 15], expected[CDP_BLIND_BYTES];
    cdp_store_be32(input, 5);
    memcpy(input + 4, "email", 5);
    memcpy(input + 9, "ada@example.com", 15);
    crypto_generichash(expected, sizeof expected, input, sizeof input, key, sizeof key);
    cr_assert_eq(memcmp(a, expected, CDP_BLIND_BYTES), 0);
}

Test(blind, index_differs_by_type_key_and_value) {
    char path[4096];
    cdp_keystore *keystore = make_keystore(two_regions, 2, path, sizeof path);
    const cdp_region_keys *eu = NULL, *us = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &eu, NULL), CDP_OK);
    cr_assert_eq(cdp_keystore_current(keystore, "us", &us, NULL), CDP_OK);
    uint8_t base[CDP_BLIND_BYTES], other[CDP_BLIND_BYTES];
    blind(base, eu->blind_key, "email", "+4915112345678");
    blind(other, eu->blind_key, "phone", "+4915112345678");
    cr_assert_neq(memcmp(base, other, CDP_BLIND_BYTES), 0, "type ignored");
    blind(other, us->blind_key, "email", "+4915112345678");
    cr_assert_neq(memcmp(base, other, CDP_BLIND_BYTES), 0, "key ignored");
    blind(other, eu->blind_key, "email", "+4915112345679");
    cr_assert_neq(memcmp(base, other, CDP_BLIND_BYTES), 0, "value ignored");
    /* The type's length prefix keeps the boundary: ("ab","c") differs from ("a","bc"). */
    blind(base, eu->blind_key, "ab", "c");
    blind(other, eu->blind_key, "a", "bc");
    cr_assert_neq(memcmp(base, other, CDP_BLIND_BYTES), 0, "boundary ambiguous");
    cdp_keystore_close(keystore);
}

/* ---- Allocation failure ---- */

/* Runs until one attempt succeeds with no failure injected along the way, then a few more. */
#define ALLOC_FAIL_LIMIT 200

Test(alloc_failure, keystore_create_fails_cleanly_at_every_allocation) {
    cdp_rootkey *rootkey = test_rootkey();
    int successes = 0;
    for (long n = 0; n < ALLOC_FAIL_LIMIT && successes < 3; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/keystore-%ld", test_dir, n);
        cdp_err err = {0};
        cdp_alloc_fail_after(n);
        cdp_status status = cdp_keystore_create(path, rootkey, two_regions, 2, &err);
        cdp_alloc_fail_reset();
        if (status == CDP_OK) {
            successes++;
            continue;
        }
        cr_assert(status == CDP_NOMEM || status == CDP_IO, "n=%ld: %d %s", n, status, err.message);
        cr_assert_neq(err.message[0], '\0');
    }
    cr_assert_eq(successes, 3);
    cdp_rootkey_free(rootkey);
}

Test(alloc_failure, keystore_open_and_changes_fail_cleanly_at_every_allocation) {
    char path[4096];
    cdp_keystore_close(make_keystore(two_regions, 2, path, sizeof path));
    cdp_rootkey *rootkey = test_rootkey();
    int successes = 0;
    for (long n = 0; n < ALLOC_FAIL_LIMIT && successes < 3; n++) {
        cdp_keystore *keystore = NULL;
        cdp_err err = {0};
        cdp_alloc_fail_after(n);
        cdp_status status = cdp_keystore_open(path, rootkey, &keystore, &err);
        cdp_alloc_fail_reset();
        if (status != CDP_OK) {
            cr_assert_eq(status, CDP_NOMEM, "n=%ld: %s", n, err.message);
            cr_assert_null(keystore);
            continue;
        }
        successes++;
        cdp_keystore_close(keystore);
    }
    cr_assert_eq(successes, 3);

    /* Mutations: a failure leaves memory and file consistent and the keystore usable. */
    cdp_keystore *keystore = NULL;
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_OK);
    for (long n = 0; n < 40; n++) {
        char region[16];
        snprintf(region, sizeof region, "r%ld", n);
        cdp_alloc_fail_after(n);
        cdp_status add = cdp_keystore_add_region(keystore, region, NULL);
        cdp_alloc_fail_reset();
        cdp_alloc_fail_after(n);
        uint32_t epoch = 0;
        cdp_status begin = cdp_keystore_begin_epoch(keystore, "eu", &epoch, NULL);
        cdp_alloc_fail_reset();
        const cdp_region_keys *current = NULL;
        cr_assert_eq(cdp_keystore_current(keystore, "eu", &current, NULL), CDP_OK);
        if (begin == CDP_OK) {
            cr_assert_eq(current->epoch, epoch);
            cdp_alloc_fail_after(n);
            cdp_status destroy = cdp_keystore_destroy_epoch(keystore, "eu", epoch - 1, NULL);
            cdp_alloc_fail_reset();
            cr_assert(destroy == CDP_OK || destroy == CDP_NOMEM || destroy == CDP_IO);
        } else {
            cr_assert(begin == CDP_NOMEM || begin == CDP_IO);
        }
        cr_assert(add == CDP_OK || add == CDP_NOMEM || add == CDP_IO);
        cr_assert_eq(cdp_keystore_current(keystore, region, &current, NULL),
                     add == CDP_OK ? CDP_OK : CDP_NOT_FOUND);
    }
    cdp_keystore_close(keystore);
    /* The file still opens and agrees with what is live. */
    cr_assert_eq(cdp_keystore_open(path, rootkey, &keystore, NULL), CDP_OK);
    cdp_keystore_close(keystore);
    cdp_rootkey_free(rootkey);
}

Test(alloc_failure, root_key_load_and_data_key_wrap_fail_cleanly) {
    char path[4096], keystore_path[4096];
    path_in_dir(path, sizeof path, "root.key");
    cr_assert_eq(cdp_rootkey_create_file(path, NULL), CDP_OK);
    for (long n = 0; n < 10; n++) {
        cdp_rootkey *rootkey = NULL;
        cdp_alloc_fail_after(n);
        cdp_status status = cdp_rootkey_load(path, &rootkey, NULL);
        cdp_alloc_fail_reset();
        cr_assert(status == CDP_OK || status == CDP_NOMEM);
        cr_assert_eq(status == CDP_OK, rootkey != NULL);
        cdp_rootkey_free(rootkey);
    }
    cdp_keystore *keystore = make_keystore(two_regions, 2, keystore_path, sizeof keystore_path);
    uint8_t data_key[CDP_DATA_KEY_BYTES], wrapped[CDP_WRAPPED_KEY_BYTES];
    cdp_datakey_generate(data_key);
    cdp_alloc_fail_after(0); /* the hot path allocates nothing */
    cr_assert_eq(
        cdp_datakey_wrap(keystore, "eu", profile_a, sizeof profile_a, data_key, wrapped, NULL),
        CDP_OK);
    cr_assert_eq(cdp_datakey_unwrap(keystore, "eu", profile_a, sizeof profile_a, wrapped,
                                    sizeof wrapped, data_key, NULL, NULL),
                 CDP_OK);
    cdp_alloc_fail_reset();
    cdp_keystore_close(keystore);
}
