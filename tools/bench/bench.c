/* cdp-bench: cdp's cost as a ratio to its raw ceiling, measured in the same run.
 * Prints one JSON object per figure on stdout:
 *   {"bench": "profile_put", "ops_per_s": ..., "ceiling_ops_per_s": ..., "ratio": ...}
 * profile_put: encode a ~512-byte profile (Avro), new data key, wrap, seal, write key + record
 *   in one batch — against a raw RocksDB put of a 512-byte value with the same options.
 * profile_get: one multi-get of wrapped key + record, unwrap, open, decode — against a raw get.
 * aead_seal: XChaCha20-Poly1305 of 512 bytes with our nonce source — against libsodium with a
 *   fresh random nonce per call (the naive way). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handle.h"
#include "crypto/aead.h"
#include "store/records.h"
#include "store/region.h"
#include "store/vault.h"
#include "util/fs.h"

#define VALUE_BYTES 512

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_line(const char *bench, double ops, double ceiling, const char *extra) {
    printf("{\"bench\": \"%s\", \"ops_per_s\": %.0f, \"ceiling_ops_per_s\": %.0f, "
           "\"ratio\": %.3f%s}\n",
           bench, ops, ceiling, ceiling > 0 ? ops / ceiling : 0.0, extra ? extra : "");
    fflush(stdout);
}

static void die(const char *what, const cdp_err *err) {
    fprintf(stderr, "cdp-bench: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* A profile whose Avro encoding is about 512 bytes, like a typical retail profile. */
static void make_profile(cdp_profile_record *profile, cdp_identity_entry *identities,
                         cdp_trait_entry *traits, cdp_channel_entry *channels, char *id_hex,
                         char *email, char *phone, size_t index) {
    snprintf(email, 64, "person%08zu@example.com", index);
    snprintf(phone, 32, "+4722%06zu", index % 1000000);
    memset(profile, 0, sizeof *profile);
    profile->profile_id = id_hex;
    profile->region = "eu";
    profile->created_at = 1700000000000LL + (int64_t)index;
    profile->updated_at = profile->created_at;
    identities[0] = (cdp_identity_entry){"email", email, profile->created_at, "web", NULL};
    identities[1] = (cdp_identity_entry){"phone", phone, profile->created_at, "pos", NULL};
    identities[2] =
        (cdp_identity_entry){"user_id", id_hex, profile->created_at, "web", "msg-0001"};
    profile->identities = identities;
    profile->identity_count = 3;
    static char *names[] = {"first_name", "last_name", "city", "plan", "language"};
    static char *values[] = {"\"Kari\"", "\"Nordmann\"", "\"Oslo\"", "\"gold\"", "\"nb-NO\""};
    for (int i = 0; i < 5; i++)
        traits[i] = (cdp_trait_entry){names[i], values[i], "web", "web", profile->created_at,
                                      "demographic"};
    profile->traits = traits;
    profile->trait_count = 5;
    channels[0] = (cdp_channel_entry){"web", profile->created_at, profile->created_at, 12};
    channels[1] = (cdp_channel_entry){"pos", profile->created_at, profile->created_at, 3};
    profile->channels = channels;
    profile->channel_count = 2;
}

static void key_of(uint8_t key[CDP_PROFILE_ID_BYTES], size_t index) {
    /* Spread keys like random profile ids (hash of the index). */
    uint8_t seed[8];
    for (int i = 0; i < 8; i++)
        seed[i] = (uint8_t)(index >> (8 * i));
    crypto_generichash(key, CDP_PROFILE_ID_BYTES, seed, sizeof seed, NULL, 0);
}

int main(int argc, char **argv) {
    size_t records = 1000000;
    static const struct option options[] = {{"quick", no_argument, NULL, 'q'},
                                            {"records", required_argument, NULL, 'n'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'q')
            records = 20000;
        else if (option == 'n')
            records = strtoul(optarg, NULL, 10);
        else {
            fputs("usage: cdp-bench [--quick] [--records N]\n", option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (records == 0)
        records = 1;
    if (sodium_init() < 0)
        return 1;
    char base[] = "/tmp/cdp-bench-XXXXXX";
    if (mkdtemp(base) == NULL)
        return 1;
    char data_dir[512], raw_dir[512];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(raw_dir, sizeof raw_dir, "%s/raw", base);
    fprintf(stderr, "cdp-bench: %zu records of ~%d bytes in %s\n", records, VALUE_BYTES, base);

    cdp_err err = {0};
    cdp_options open_options;
    cdp_options_default(&open_options);
    open_options.create = 1;
    const char *policies = getenv("CDP_POLICY_DIR");
    open_options.policy_dir = policies;
    cdp_t *db = NULL;
    if (cdp_open(data_dir, &open_options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench: open: %s\n", cdp_errmsg(db));
        return 1;
    }
    cdp_vault *vault = cdp_handle_vault(db, "eu");
    cdp_region *region = cdp_vault_region(vault);

    /* The raw ceiling: a partition with the same options and an equal, separate block cache. */
    rocksdb_cache_t *raw_cache = rocksdb_cache_create_lru(256u << 20);
    cdp_region_options raw_options = {.block_cache = raw_cache, .create = 1};
    cdp_region *raw = NULL;
    if (cdp_region_open(raw_dir, "eu", &raw_options, &raw, &err) != CDP_OK)
        die("raw open", &err);

    uint8_t value[VALUE_BYTES];
    randombytes_buf(value, sizeof value);
    uint8_t (*ids)[CDP_PROFILE_ID_BYTES] = malloc(records * CDP_PROFILE_ID_BYTES);
    cdp_batch *batch = cdp_batch_new();
    cdp_buf encoded = {0}, plain = {0};
    cdp_profile_record profile;
    cdp_identity_entry identities[3];
    cdp_trait_entry traits[5];
    cdp_channel_entry channels[2];
    char id_hex[33], email[64], phone[32];

    /* ---- puts ---- */
    double start = now_seconds();
    for (size_t i = 0; i < records; i++) {
        uint8_t key[CDP_PROFILE_ID_BYTES];
        key_of(key, i);
        cdp_batch_clear(batch);
        cdp_batch_put(batch, raw, CDP_CF_PROFILES, key, sizeof key, value, sizeof value);
        if (cdp_region_write(raw, batch, 0, &err) != CDP_OK)
            die("raw put", &err);
    }
    double raw_put = (double)records / (now_seconds() - start);

    size_t encoded_bytes = 0;
    start = now_seconds();
    for (size_t i = 0; i < records; i++) {
        cdp_person person;
        cdp_batch_clear(batch);
        if (cdp_vault_create_person(vault, batch, &person, &err) != CDP_OK)
            die("create person", &err);
        memcpy(ids[i], person.profile_id, CDP_PROFILE_ID_BYTES);
        cdp_hex_encode(id_hex, person.profile_id, CDP_PROFILE_ID_BYTES);
        make_profile(&profile, identities, traits, channels, id_hex, email, phone, i);
        cdp_buf_reset(&encoded);
        if (cdp_profile_record_encode(&profile, &encoded, &err) != CDP_OK)
            die("encode", &err);
        encoded_bytes = encoded.len;
        if (cdp_vault_put(vault, batch, &person, CDP_CF_PROFILES, person.profile_id,
                          CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, &err) != CDP_OK ||
            cdp_region_write(region, batch, 0, &err) != CDP_OK)
            die("put", &err);
        cdp_person_wipe(&person);
    }
    double put = (double)records / (now_seconds() - start);
    char extra[128];
    snprintf(extra, sizeof extra, ", \"records\": %zu, \"value_bytes\": %zu", records,
             encoded_bytes);
    print_line("profile_put", put, raw_put, extra);

    /* ---- gets, in a random order over all records ---- */
    size_t gets = records;
    uint32_t seed = 12345;
    start = now_seconds();
    for (size_t i = 0; i < gets; i++) {
        seed = seed * 1103515245u + 12345u;
        uint8_t key[CDP_PROFILE_ID_BYTES];
        key_of(key, seed % records);
        uint8_t *found = NULL;
        size_t found_len = 0;
        if (cdp_region_get(raw, CDP_CF_PROFILES, key, sizeof key, &found, &found_len, &err) !=
            CDP_OK)
            die("raw get", &err);
        cdp_region_free_value(found);
    }
    double raw_get = (double)gets / (now_seconds() - start);

    seed = 12345;
    start = now_seconds();
    for (size_t i = 0; i < gets; i++) {
        seed = seed * 1103515245u + 12345u;
        const uint8_t *id = ids[seed % records];
        cdp_person person;
        cdp_profile_record read = {0};
        if (cdp_vault_get_person_record(vault, id, CDP_CF_PROFILES, id, CDP_PROFILE_ID_BYTES,
                                        &person, &plain, &err) != CDP_OK ||
            cdp_profile_record_decode(plain.data, plain.len, &read, &err) != CDP_OK)
            die("get", &err);
        cdp_person_wipe(&person);
        cdp_profile_record_clear(&read);
    }
    double get = (double)gets / (now_seconds() - start);
    snprintf(extra, sizeof extra, ", \"records\": %zu", records);
    print_line("profile_get", get, raw_get, extra);

    /* ---- AEAD alone ---- */
    uint8_t key32[32], sealed[VALUE_BYTES + CDP_AEAD_OVERHEAD], ad[64];
    size_t sealed_len = 0, seals = records < 200000 ? 200000 : records;
    randombytes_buf(key32, sizeof key32);
    memset(ad, 7, sizeof ad);
    start = now_seconds();
    for (size_t i = 0; i < seals; i++) {
        uint8_t *nonce = sealed;
        randombytes_buf(nonce, CDP_AEAD_NONCE_BYTES);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + CDP_AEAD_NONCE_BYTES, &clen, value,
                                                   sizeof value, ad, sizeof ad, NULL, nonce,
                                                   key32);
    }
    double naive_seal = (double)seals / (now_seconds() - start);
    start = now_seconds();
    for (size_t i = 0; i < seals; i++)
        cdp_aead_seal(sealed, sizeof sealed, &sealed_len, value, sizeof value, ad, sizeof ad,
                      key32);
    double seal = (double)seals / (now_seconds() - start);
    print_line("aead_seal", seal, naive_seal, ", \"bytes\": 512");

    free(ids);
    cdp_buf_free(&encoded);
    cdp_buf_free_secret(&plain);
    cdp_batch_free(batch);
    cdp_region_close(raw);
    rocksdb_cache_destroy(raw_cache);
    cdp_close(db);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return 0;
}
