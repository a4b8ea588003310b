/* The data-key cache (store/keycache.c) on its own and inside the vault — hits, bounded capacity,
 * CLOCK eviction, forget beating a load in flight, erasure never undone by the cache, epoch
 * closing — and the userspace CSPRNG (crypto/random.c): distinct across calls, threads and fork. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/handle.h"
#include "crypto/random.h"
#include "store/keycache.h"
#include "store/records.h"
#include "store/region.h"
#include "store/vault.h"
#include "support/testutil.h"
#include "util/alloc.h"
#include "util/bytes.h"

/* ---- the cache alone ------------------------------------------------------------------------ */

static void id_of(uint8_t id[CDP_KEYCACHE_ID_BYTES], uint32_t n) {
    memset(id, 0, CDP_KEYCACHE_ID_BYTES);
    memcpy(id, &n, sizeof n);
    id[15] = 0xa5;
}

/* A key that can be checked against its id. */
static void key_for(uint8_t key[CDP_KEYCACHE_KEY_BYTES], const uint8_t id[CDP_KEYCACHE_ID_BYTES]) {
    crypto_generichash(key, CDP_KEYCACHE_KEY_BYTES, id, CDP_KEYCACHE_ID_BYTES, NULL, 0);
}

static cdp_keycache *new_cache(size_t entries) {
    cdp_keycache *cache = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_keycache_new(entries, &cache, &err), CDP_OK, "%s", err.message);
    return cache;
}

static int cache_has(cdp_keycache *cache, uint32_t n) {
    uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES], want[CDP_KEYCACHE_KEY_BYTES];
    cdp_keycache_ticket ticket;
    id_of(id, n);
    if (!cdp_keycache_get(cache, id, key, &ticket))
        return 0;
    key_for(want, id);
    cr_assert_eq(memcmp(key, want, sizeof key), 0, "entry %u holds another key", n);
    return 1;
}

static void cache_put(cdp_keycache *cache, uint32_t n) {
    uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES];
    id_of(id, n);
    key_for(key, id);
    cdp_keycache_put(cache, id, key, NULL);
}

Test(keycache, default_capacity_is_262144_entries_and_sizes_round_up_to_buckets) {
    cdp_keycache *cache = new_cache(0);
    cr_assert_eq(cdp_keycache_capacity(cache), CDP_KEYCACHE_DEFAULT_ENTRIES);
    cr_assert_eq(CDP_KEYCACHE_DEFAULT_ENTRIES, 262144);
    cdp_keycache_free(cache);
    cache = new_cache(5);
    cr_assert_eq(cdp_keycache_capacity(cache), 8);
    cdp_keycache_free(cache);
    cdp_keycache_free(NULL);
}

Test(keycache, a_miss_then_a_put_then_a_hit_returns_the_same_key) {
    cdp_keycache *cache = new_cache(64);
    uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES], got[CDP_KEYCACHE_KEY_BYTES];
    cdp_keycache_ticket ticket = {0};
    id_of(id, 7);
    key_for(key, id);
    cr_assert_eq(cdp_keycache_get(cache, id, got, &ticket), 0);
    cr_assert(ticket.valid, "a miss hands out a usable ticket");
    cdp_keycache_put(cache, id, key, &ticket);
    cr_assert_eq(cdp_keycache_get(cache, id, got, &ticket), 1);
    cr_assert_eq(memcmp(got, key, sizeof key), 0);
    uint64_t hits = 0, misses = 0;
    cdp_keycache_stats(cache, &hits, &misses);
    cr_assert_eq(hits, 1);
    cr_assert_eq(misses, 1);
    cdp_keycache_free(cache);
}

Test(keycache, forget_wipes_the_entry_and_voids_tickets_taken_before_it) {
    cdp_keycache *cache = new_cache(64);
    uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES], got[CDP_KEYCACHE_KEY_BYTES];
    cdp_keycache_ticket ticket = {0};
    id_of(id, 9);
    key_for(key, id);
    cache_put(cache, 9);
    cr_assert(cache_has(cache, 9));
    cdp_keycache_forget(cache, id);
    cr_assert_not(cache_has(cache, 9));
    /* A load that missed, then an erasure, then the load's put: the erasure wins. */
    cr_assert_eq(cdp_keycache_get(cache, id, got, &ticket), 0);
    cdp_keycache_forget(cache, id);
    cdp_keycache_put(cache, id, key, &ticket);
    cr_assert_not(cache_has(cache, 9), "a put with a stale ticket brought the key back");
    /* A fresh ticket works again. */
    cr_assert_eq(cdp_keycache_get(cache, id, got, &ticket), 0);
    cdp_keycache_put(cache, id, key, &ticket);
    cr_assert(cache_has(cache, 9));
    /* A zero ticket never puts. */
    cdp_keycache_forget(cache, id);
    cdp_keycache_ticket none = {0};
    cdp_keycache_put(cache, id, key, &none);
    cr_assert_not(cache_has(cache, 9));
    cdp_keycache_free(cache);
}

Test(keycache, never_holds_more_than_its_capacity_and_keeps_the_newest) {
    cdp_keycache *cache = new_cache(64);
    for (uint32_t n = 0; n < 10000; n++)
        cache_put(cache, n);
    size_t held = 0;
    for (uint32_t n = 0; n < 10000; n++)
        held += (size_t)cache_has(cache, n);
    cr_assert_leq(held, 64);
    cr_assert_geq(held, 32, "only %zu of 64 slots used", held);
    cr_assert(cache_has(cache, 9999), "the last put is there");
    cdp_keycache_free(cache);
}

Test(keycache, three_quarters_full_it_still_holds_nearly_every_entry) {
    /* With one bucket per id, 4-way buckets at this fill lose about 11% of their entries to
     * collisions; two candidate buckets keep the loss under 1%. */
    cdp_keycache *cache = new_cache(16384);
    uint32_t count = 16384 * 3 / 4;
    for (uint32_t n = 0; n < count; n++)
        cache_put(cache, n * 2654435761u);
    size_t held = 0;
    for (uint32_t n = 0; n < count; n++)
        held += (size_t)cache_has(cache, n * 2654435761u);
    cr_assert_geq(held, count * 98 / 100, "held %zu of %u", held, count);
    cdp_keycache_free(cache);
}

Test(keycache, clock_spares_an_entry_used_since_the_hand_last_passed) {
    cdp_keycache *cache = new_cache(4); /* one bucket of four */
    for (uint32_t n = 0; n < 4; n++)
        cache_put(cache, n);
    for (uint32_t n = 0; n < 4; n++)
        cr_assert(cache_has(cache, n)); /* all four referenced */
    cr_assert(cache_has(cache, 0));
    cache_put(cache, 100); /* a full turn clears the bits, then evicts way 0 */
    cr_assert(cache_has(cache, 100));
    cr_assert(cache_has(cache, 2)); /* referenced again, unlike 1 and 3 */
    cache_put(cache, 101);          /* the hand is at way 1: entry 1 goes */
    cr_assert_not(cache_has(cache, 1));
    cr_assert(cache_has(cache, 2));
    cr_assert(cache_has(cache, 101));
    cdp_keycache_free(cache);
}

Test(keycache, running_out_of_memory_fails_creation_or_leaves_the_cache_empty_not_broken) {
    cdp_keycache *cache = NULL;
    cdp_err err = {0};
    for (long n = 0; n < 2; n++) {
        cdp_alloc_fail_after(n);
        cr_assert_eq(cdp_keycache_new(64, &cache, &err), CDP_NOMEM, "allocation %ld", n);
        cr_assert_null(cache);
        cdp_alloc_fail_reset();
    }
    /* The tables come at first use; if they cannot, the cache stays empty for good. */
    cr_assert_eq(cdp_keycache_new(64, &cache, &err), CDP_OK);
    cdp_alloc_fail_after(0);
    uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES];
    cdp_keycache_ticket ticket = {.valid = 1};
    id_of(id, 1);
    key_for(key, id);
    cr_assert_eq(cdp_keycache_get(cache, id, key, &ticket), 0);
    cr_assert_eq(ticket.valid, 0, "no ticket from a cache without tables");
    cdp_alloc_fail_reset();
    cache_put(cache, 1);
    cdp_keycache_forget(cache, id);
    cr_assert_not(cache_has(cache, 1));
    uint64_t hits = 0, misses = 0;
    cdp_keycache_stats(cache, &hits, &misses);
    cr_assert_eq(hits, 0);
    cr_assert_eq(misses, 2);
    cdp_keycache_free(cache);
}

typedef struct hammer_args {
    cdp_keycache *cache;
    uint32_t seed;
    atomic_int *wrong;
    atomic_long *gets;
} hammer_args;

static void *hammer(void *argument) {
    hammer_args *args = argument;
    uint32_t state = args->seed;
    for (int i = 0; i < 200000; i++) {
        state = state * 1103515245u + 12345u;
        uint32_t n = (state >> 8) % 2000;
        uint8_t id[CDP_KEYCACHE_ID_BYTES], key[CDP_KEYCACHE_KEY_BYTES],
            want[CDP_KEYCACHE_KEY_BYTES];
        cdp_keycache_ticket ticket;
        id_of(id, n);
        key_for(want, id);
        switch (state & 7) {
        case 0:
            cdp_keycache_forget(args->cache, id);
            break;
        default:
            atomic_fetch_add(args->gets, 1);
            if (cdp_keycache_get(args->cache, id, key, &ticket)) {
                if (memcmp(key, want, sizeof key) != 0)
                    atomic_fetch_add(args->wrong, 1);
            } else {
                cdp_keycache_put(args->cache, id, want, &ticket);
            }
        }
    }
    return NULL;
}

Test(keycache, threads_getting_putting_and_forgetting_never_see_a_wrong_key, .timeout = 120) {
    cdp_keycache *cache = new_cache(1024);
    atomic_int wrong = 0;
    atomic_long gets = 0;
    pthread_t threads[4];
    hammer_args args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (hammer_args){cache, (uint32_t)(t * 7919 + 1), &wrong, &gets};
        cr_assert_eq(pthread_create(&threads[t], NULL, hammer, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    cr_assert_eq(atomic_load(&wrong), 0);
    uint64_t hits = 0, misses = 0;
    cdp_keycache_stats(cache, &hits, &misses);
    cr_assert_eq(hits + misses, (uint64_t)atomic_load(&gets));
    cr_assert_gt(hits, 0);
    cdp_keycache_free(cache);
}

/* ---- the cache inside the vault ------------------------------------------------------------- */

static char *base;
static char data_dir[1024];

static void vault_setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("keycache");
    cr_assert_not_null(base);
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
}

static void vault_teardown(void) {
    test_rmtree(base);
    free(base);
}

static cdp_t *create_db(size_t key_cache_entries) {
    static char policies[1024];
    const char *source = getenv("CDP_SOURCE_DIR");
    snprintf(policies, sizeof policies, "%s/policies", source ? source : ".");
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policies;
    options.block_cache_bytes = 8u << 20;
    options.key_cache_entries = key_cache_entries;
    cdp_t *db = NULL;
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_OK, "create: %s", cdp_errmsg(db));
    return db;
}

/* A person with a (minimal) profile record; remembered in the cache when `remember`. */
static void add_person(cdp_vault *vault, cdp_person *out, int remember) {
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    cdp_buf encoded = {0};
    char id_hex[33];
    cr_assert_eq(cdp_vault_create_person(vault, batch, out, &err), CDP_OK, "%s", err.message);
    cdp_hex_encode(id_hex, out->profile_id, CDP_PROFILE_ID_BYTES);
    cdp_profile_record profile = {.profile_id = id_hex,
                                  .region = (char *)cdp_region_name(cdp_vault_region(vault)),
                                  .created_at = 1700000000000LL,
                                  .updated_at = 1700000000000LL};
    cr_assert_eq(cdp_profile_record_encode(&profile, &encoded, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_vault_put(vault, batch, out, CDP_CF_PROFILES, out->profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, &err),
                 CDP_OK);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    if (remember)
        cdp_vault_remember_person(vault, out);
    cdp_buf_free(&encoded);
    cdp_batch_free(batch);
}

/* Reads the person's profile record; when it opens, it must be theirs. */
static cdp_status read_person(cdp_vault *vault, const uint8_t *profile_id) {
    cdp_person person;
    cdp_buf plain = {0};
    cdp_err err = {0};
    cdp_status status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_PROFILES, profile_id,
                                                    CDP_PROFILE_ID_BYTES, &person, &plain, &err);
    if (status == CDP_OK) {
        cdp_profile_record profile = {0};
        char id_hex[33];
        cdp_hex_encode(id_hex, profile_id, CDP_PROFILE_ID_BYTES);
        cr_assert_eq(cdp_profile_record_decode(plain.data, plain.len, &profile, &err), CDP_OK);
        cr_assert_str_eq(profile.profile_id, id_hex);
        cdp_profile_record_clear(&profile);
    }
    cdp_person_wipe(&person);
    cdp_buf_free_secret(&plain);
    return status;
}

static void delete_wrapped_key(cdp_vault *vault, const uint8_t *profile_id) {
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_delete(batch, cdp_vault_region(vault), CDP_CF_KEYS, profile_id, CDP_PROFILE_ID_BYTES);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 1, &err), CDP_OK);
    cdp_batch_free(batch);
}

static void stats(cdp_vault *vault, uint64_t *hits, uint64_t *misses) {
    cdp_vault_key_cache_stats(vault, hits, misses);
}

TestSuite(vault_cache, .init = vault_setup, .fini = vault_teardown);

Test(vault_cache, a_remembered_person_is_read_without_the_keys_column_family) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person alice;
    add_person(eu, &alice, 1);
    cr_assert_eq(read_person(eu, alice.profile_id), CDP_OK);
    uint64_t hits = 0, misses = 0;
    stats(eu, &hits, &misses);
    cr_assert_eq(hits, 1);
    cr_assert_eq(misses, 0);
    /* Proof that the hit skipped the keys CF: with the wrapped key gone (and no forget, which is
     * exactly the misuse the header warns about) the record still opens. */
    delete_wrapped_key(eu, alice.profile_id);
    cr_assert_eq(read_person(eu, alice.profile_id), CDP_OK);
    cdp_person_wipe(&alice);
    cdp_close(db);
}

Test(vault_cache, after_forget_and_delete_of_the_wrapped_key_the_record_is_not_found) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person alice, bob;
    add_person(eu, &alice, 1);
    add_person(eu, &bob, 1);
    cr_assert_eq(read_person(eu, alice.profile_id), CDP_OK);
    cr_assert_eq(read_person(eu, bob.profile_id), CDP_OK);
    /* Erasure's order: forget, delete, forget again. The record itself stays in place. */
    cdp_vault_forget_person(eu, alice.profile_id);
    delete_wrapped_key(eu, alice.profile_id);
    cdp_vault_forget_person(eu, alice.profile_id);
    cr_assert_eq(read_person(eu, alice.profile_id), CDP_NOT_FOUND);
    cdp_person loaded;
    cdp_err err = {0};
    cr_assert_eq(cdp_vault_load_person(eu, alice.profile_id, &loaded, &err), CDP_NOT_FOUND);
    /* Delete first, then forget: the same. */
    delete_wrapped_key(eu, bob.profile_id);
    cdp_vault_forget_person(eu, bob.profile_id);
    cr_assert_eq(read_person(eu, bob.profile_id), CDP_NOT_FOUND);
    cr_assert_eq(cdp_vault_load_person(eu, bob.profile_id, &loaded, &err), CDP_NOT_FOUND);
    cdp_person_wipe(&alice);
    cdp_person_wipe(&bob);
    cdp_close(db);
}

Test(vault_cache, a_loaded_key_is_cached_and_a_new_one_only_once_remembered) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person alice, loaded;
    cdp_err err = {0};
    uint64_t hits = 0, misses = 0;
    add_person(eu, &alice, 0);
    cr_assert_eq(cdp_vault_load_person(eu, alice.profile_id, &loaded, &err), CDP_OK);
    cr_assert_eq(memcmp(loaded.data_key, alice.data_key, CDP_DATA_KEY_BYTES), 0);
    stats(eu, &hits, &misses);
    cr_assert_eq(hits, 0, "created without remember: not cached");
    cr_assert_eq(misses, 1);
    cr_assert_eq(cdp_vault_load_person(eu, alice.profile_id, &loaded, &err), CDP_OK);
    cr_assert_eq(memcmp(loaded.data_key, alice.data_key, CDP_DATA_KEY_BYTES), 0);
    cr_assert_eq(memcmp(loaded.profile_id, alice.profile_id, CDP_PROFILE_ID_BYTES), 0);
    stats(eu, &hits, &misses);
    cr_assert_eq(hits, 1, "the unwrapped key was cached");
    cdp_person_wipe(&loaded);
    cdp_person_wipe(&alice);
    cdp_close(db);
}

Test(vault_cache, a_key_whose_record_does_not_open_is_not_cached) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person alice, bob;
    cdp_err err = {0};
    add_person(eu, &alice, 0);
    add_person(eu, &bob, 0);
    /* Alice's sealed record copied into Bob's slot: Bob's key unwraps but opens nothing. */
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    cdp_region *region = cdp_vault_region(eu);
    cr_assert_eq(
        cdp_region_get(region, CDP_CF_PROFILES, alice.profile_id, 16, &sealed, &sealed_len, &err),
        CDP_OK);
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_put(batch, region, CDP_CF_PROFILES, bob.profile_id, 16, sealed, sealed_len);
    cr_assert_eq(cdp_region_write(region, batch, 0, &err), CDP_OK);
    cr_assert_eq(read_person(eu, bob.profile_id), CDP_CRYPTO);
    cr_assert_eq(read_person(eu, bob.profile_id), CDP_CRYPTO);
    uint64_t hits = 0, misses = 0;
    stats(eu, &hits, &misses);
    cr_assert_eq(hits, 0);
    cr_assert_eq(misses, 2);
    cdp_region_free_value(sealed);
    cdp_batch_free(batch);
    cdp_person_wipe(&alice);
    cdp_person_wipe(&bob);
    cdp_close(db);
}

Test(vault_cache, cached_keys_stay_valid_across_closing_an_epoch, .timeout = 120) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person people[10];
    for (int i = 0; i < 10; i++)
        add_person(eu, &people[i], i % 2); /* half cached */
    uint32_t epoch = 0;
    size_t rewrapped = 0;
    cr_assert_eq(cdp_close_epoch(db, "eu", &epoch, &rewrapped), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(rewrapped, 10);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 10; i++)
            cr_assert_eq(read_person(eu, people[i].profile_id), CDP_OK, "person %d round %d", i,
                         round);
    /* An erased person stays erased after the epoch closes. */
    cdp_vault_forget_person(eu, people[1].profile_id);
    delete_wrapped_key(eu, people[1].profile_id);
    cr_assert_eq(cdp_close_epoch(db, "eu", &epoch, &rewrapped), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(rewrapped, 9);
    cr_assert_eq(read_person(eu, people[1].profile_id), CDP_NOT_FOUND);
    cr_assert_eq(read_person(eu, people[3].profile_id), CDP_OK);
    for (int i = 0; i < 10; i++)
        cdp_person_wipe(&people[i]);
    cdp_close(db);
}

Test(vault_cache, the_key_cache_entries_option_bounds_the_cache) {
    cdp_t *db = create_db(8);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person people[100];
    for (int i = 0; i < 100; i++)
        add_person(eu, &people[i], 1);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(read_person(eu, people[i].profile_id), CDP_OK);
    uint64_t hits = 0, misses = 0;
    stats(eu, &hits, &misses);
    cr_assert_leq(hits, 8);
    cr_assert_eq(hits + misses, 100);
    for (int i = 0; i < 100; i++)
        cdp_person_wipe(&people[i]);
    cdp_close(db);
}

typedef struct reader_args {
    cdp_vault *vault;
    const uint8_t *profile_id;
    atomic_int *erased; /* 1 once the main thread's forget has returned */
    atomic_int *stop;
    atomic_int *resurrected;
} reader_args;

static void *reader(void *argument) {
    reader_args *args = argument;
    while (!atomic_load(args->stop)) {
        int erased_before = atomic_load(args->erased);
        cdp_person person;
        cdp_err err = {0};
        cdp_status status = cdp_vault_load_person(args->vault, args->profile_id, &person, &err);
        if (erased_before && status == CDP_OK)
            atomic_fetch_add(args->resurrected, 1);
        cdp_person_wipe(&person);
    }
    return NULL;
}

Test(vault_cache, loads_racing_an_erasure_never_bring_the_key_back, .timeout = 120) {
    cdp_t *db = create_db(0);
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    atomic_int resurrected = 0;
    for (int round = 0; round < 20; round++) {
        cdp_person person;
        add_person(eu, &person, 1);
        atomic_int erased = 0, stop = 0;
        reader_args args = {eu, person.profile_id, &erased, &stop, &resurrected};
        pthread_t threads[2];
        for (int t = 0; t < 2; t++)
            cr_assert_eq(pthread_create(&threads[t], NULL, reader, &args), 0);
        usleep(2000);
        cdp_vault_forget_person(eu, person.profile_id);
        delete_wrapped_key(eu, person.profile_id);
        cdp_vault_forget_person(eu, person.profile_id);
        atomic_store(&erased, 1);
        usleep(2000);
        atomic_store(&stop, 1);
        for (int t = 0; t < 2; t++)
            pthread_join(threads[t], NULL);
        cr_assert_eq(read_person(eu, person.profile_id), CDP_NOT_FOUND);
        cdp_person_wipe(&person);
    }
    cr_assert_eq(atomic_load(&resurrected), 0);
    cdp_close(db);
}

/* ---- the CSPRNG ----------------------------------------------------------------------------- */

static int compare_32(const void *a, const void *b) { return memcmp(a, b, 32); }

static void assert_all_distinct(uint8_t (*outputs)[32], size_t count) {
    qsort(outputs, count, 32, compare_32);
    for (size_t i = 1; i < count; i++)
        cr_assert_neq(memcmp(outputs[i - 1], outputs[i], 32), 0, "two equal outputs");
}

Test(random, outputs_differ_from_call_to_call_and_look_uniform) {
    static uint8_t outputs[4096][32];
    for (size_t i = 0; i < 4096; i++)
        cdp_random_bytes(outputs[i], 32);
    size_t ones = 0;
    for (size_t i = 0; i < 4096; i++)
        for (size_t j = 0; j < 32; j++)
            ones += (size_t)__builtin_popcount(outputs[i][j]);
    /* 1,048,576 bits: the count of ones is within 6 sigma (3,072) of half. */
    cr_assert(ones > 524288 - 3072 && ones < 524288 + 3072, "%zu ones", ones);
    assert_all_distinct(outputs, 4096);
}

Test(random, long_and_empty_requests_work) {
    static uint8_t big[10000];
    cdp_random_bytes(big, sizeof big);
    /* Spans many refills: no block repeats the one before. */
    for (size_t offset = 480; offset + 480 <= sizeof big; offset += 480)
        cr_assert_neq(memcmp(big + offset - 480, big + offset, 480), 0);
    uint8_t untouched = 0x5a;
    cdp_random_bytes(&untouched, 0);
    cr_assert_eq(untouched, 0x5a);
}

typedef struct thread_outputs {
    uint8_t (*outputs)[32];
    size_t count;
} thread_outputs;

static void *draw(void *argument) {
    thread_outputs *out = argument;
    for (size_t i = 0; i < out->count; i++)
        cdp_random_bytes(out->outputs[i], 32);
    return NULL;
}

Test(random, threads_draw_different_streams) {
    static uint8_t outputs[4 * 256][32];
    pthread_t threads[4];
    thread_outputs parts[4];
    for (int t = 0; t < 4; t++) {
        parts[t] = (thread_outputs){outputs + t * 256, 256};
        cr_assert_eq(pthread_create(&threads[t], NULL, draw, &parts[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    assert_all_distinct(outputs, 4 * 256);
}

Test(random, a_forked_child_does_not_repeat_the_parent) {
    uint8_t warm[16], parent[32], child[32];
    cdp_random_bytes(warm, sizeof warm); /* the parent's state is seeded and partly used */
    int pipe_fds[2];
    cr_assert_eq(pipe(pipe_fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        uint8_t bytes[32];
        cdp_random_bytes(bytes, sizeof bytes);
        ssize_t written = write(pipe_fds[1], bytes, sizeof bytes);
        _exit(written == (ssize_t)sizeof bytes ? 0 : 1);
    }
    close(pipe_fds[1]);
    cdp_random_bytes(parent, sizeof parent);
    size_t got = 0;
    while (got < sizeof child) {
        ssize_t n = read(pipe_fds[0], child + got, sizeof child - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    close(pipe_fds[0]);
    int wstatus = 0;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    cr_assert_neq(memcmp(parent, child, sizeof parent), 0, "the child repeated the parent");
}
