/* cdp-bench: cdp's cost as a ratio to its raw ceiling, measured in the same run.
 * Prints one JSON object per figure on stdout:
 *   {"bench": "profile_put", "ops_per_s": ..., "ceiling_ops_per_s": ..., "ratio": ...}
 * The ceiling is a raw RocksDB partition with the same options and an equal, separate block cache,
 * holding the same value bytes as the encrypted store: one Avro-encoded profile made up front.
 * profile_put: new person (random id and data key, wrap), seal the value, one batch with the
 *   wrapped key and the sealed record, cache the key — against a raw put of the value.
 * profile_put_avro: the same plus the Avro encoding of the profile each time (written to another
 *   region, so both get benches read the same store) — against the same raw put.
 * profile_get: data key from the key cache (or the keys column family + unwrap), record read,
 *   open — against a raw get. Random order over all records, after both stores were flushed to
 *   SST and fully compacted, as a store that has been running serves reads.
 * profile_get_avro: the same plus the Avro decoding of the profile each time.
 * The get lines also carry "key_cache_hit_rate" and the cache's "key_cache_entries". Raw and
 * encrypted runs alternate in chunks (1/20 of the records each), so changes in machine load fall
 * on both alike; gets follow one untimed warm-up pass per store.
 * aead_seal: XChaCha20-Poly1305 of 512 bytes with our nonce source — against libsodium with a
 *   fresh random nonce per call (the naive way).
 * random_48: cdp_random_bytes of 48 bytes (a new person's id and data key) — against
 *   randombytes_buf (a system call each). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handle.h"
#include "bench_erase.h"
#include "bench_export.h"
#include "bench_ingest.h"
#include "bench_scale.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "store/keycache.h"
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

/* A typical retail profile; its Avro encoding is about 512 bytes. */
typedef struct bench_profile {
    cdp_profile_record record;
    cdp_identity_entry identities[3];
    cdp_trait_entry traits[6];
    cdp_channel_entry channels[2];
    char id_hex[33];
    char email[64];
    char phone[32];
} bench_profile;

static void make_profile(bench_profile *profile, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                         size_t index) {
    static char *names[] = {"first_name", "last_name", "city", "plan", "language", "birthday"};
    static char *values[] = {"\"Kari\"", "\"Nordmann\"", "\"Oslo\"",
                             "\"gold\"", "\"nb-NO\"",    "\"1985-04-12\""};
    cdp_profile_record *record = &profile->record;
    cdp_hex_encode(profile->id_hex, profile_id, CDP_PROFILE_ID_BYTES);
    snprintf(profile->email, sizeof profile->email, "person%08zu@example.com", index);
    snprintf(profile->phone, sizeof profile->phone, "+4722%06zu", index % 1000000);
    memset(record, 0, sizeof *record);
    record->profile_id = profile->id_hex;
    record->region = "eu";
    record->created_at = 1700000000000LL + (int64_t)index;
    record->updated_at = record->created_at;
    profile->identities[0] =
        (cdp_identity_entry){"email", profile->email, record->created_at, "web", NULL};
    profile->identities[1] =
        (cdp_identity_entry){"phone", profile->phone, record->created_at, "pos", NULL};
    profile->identities[2] =
        (cdp_identity_entry){"user_id", profile->id_hex, record->created_at, "web", "msg-0001"};
    record->identities = profile->identities;
    record->identity_count = 3;
    for (int i = 0; i < 6; i++)
        profile->traits[i] =
            (cdp_trait_entry){names[i], values[i], "web", "web", record->created_at, "demographic"};
    record->traits = profile->traits;
    record->trait_count = 6;
    profile->channels[0] = (cdp_channel_entry){"web", record->created_at, record->created_at, 12};
    profile->channels[1] = (cdp_channel_entry){"pos", record->created_at, record->created_at, 3};
    record->channels = profile->channels;
    record->channel_count = 2;
}

static void key_of(uint8_t key[CDP_PROFILE_ID_BYTES], size_t index) {
    /* Spread keys like random profile ids (hash of the index). */
    uint8_t seed[8];
    for (int i = 0; i < 8; i++)
        seed[i] = (uint8_t)(index >> (8 * i));
    crypto_generichash(key, CDP_PROFILE_ID_BYTES, seed, sizeof seed, NULL, 0);
}

/* The same pseudo-random order over all records for every get bench. */
static size_t next_index(uint32_t *state, size_t records) {
    *state = *state * 1103515245u + 12345u;
    return *state % records;
}

/* Flushes memtables to SST and compacts every column family to the bottom level, then reports
 * what is left in memory, so both stores serve the gets from the same kind of state. */
static void settle(cdp_region *region, const char *what) {
    cdp_err err = {0};
    double start = now_seconds();
    if (cdp_region_purge(region, &err) != CDP_OK)
        die("flush and compact", &err);
    uint64_t sst = 0, memtable = 0;
    cdp_region_property(region, CDP_CF_PROFILES, "rocksdb.total-sst-files-size", &sst, NULL);
    cdp_region_property(region, CDP_CF_PROFILES, "rocksdb.cur-size-all-mem-tables", &memtable,
                        NULL);
    fprintf(stderr,
            "cdp-bench: %s flushed and compacted in %.1f s: profiles %.1f MiB in SST, %.1f "
            "MiB in memtables\n",
            what, now_seconds() - start, (double)sst / 1048576.0, (double)memtable / 1048576.0);
}

/* Records per alternation between raw and encrypted runs. */
#define BENCH_CHUNKS 20

typedef struct bench_state {
    cdp_region *raw;
    cdp_vault *vault;      /* measured region (eu) */
    cdp_vault *avro_vault; /* takes the profile_put_avro records (us) */
    uint8_t (*raw_keys)[CDP_PROFILE_ID_BYTES];
    uint8_t (*ids)[CDP_PROFILE_ID_BYTES];
    size_t records;
    const cdp_buf *value;
    cdp_batch *batch;
    bench_profile *profile;
    cdp_buf *encoded;
    cdp_buf *plain;
    size_t encoded_bytes;
    uint32_t order; /* pseudo-random read order, carried from chunk to chunk */
} bench_state;

typedef void bench_run(bench_state *state, size_t from, size_t to);

static double timed(bench_run *run, bench_state *state, size_t from, size_t to) {
    double start = now_seconds();
    run(state, from, to);
    return now_seconds() - start;
}

typedef struct bench_hits {
    uint64_t hits;
    uint64_t misses;
} bench_hits;

/* timed, adding the key-cache lookups of the run to *counts. */
static double timed_counting(bench_run *run, bench_state *state, size_t from, size_t to,
                             bench_hits *counts) {
    uint64_t hits_before = 0, misses_before = 0, hits = 0, misses = 0;
    cdp_vault_key_cache_stats(state->vault, &hits_before, &misses_before);
    double seconds = timed(run, state, from, to);
    cdp_vault_key_cache_stats(state->vault, &hits, &misses);
    counts->hits += hits - hits_before;
    counts->misses += misses - misses_before;
    return seconds;
}

static double hit_rate(const bench_hits *counts) {
    uint64_t lookups = counts->hits + counts->misses;
    return lookups > 0 ? (double)counts->hits / (double)lookups : 0.0;
}

static void raw_puts(bench_state *state, size_t from, size_t to) {
    cdp_err err = {0};
    for (size_t i = from; i < to; i++) {
        cdp_batch_clear(state->batch);
        cdp_batch_put(state->batch, state->raw, CDP_CF_PROFILES, state->raw_keys[i],
                      CDP_PROFILE_ID_BYTES, state->value->data, state->value->len);
        if (cdp_region_write(state->raw, state->batch, 0, &err) != CDP_OK)
            die("raw put", &err);
    }
}

/* The encrypted store path of a new person: id, data key, wrap, seal, one batch, cache. */
static void profile_puts(bench_state *state, size_t from, size_t to) {
    cdp_err err = {0};
    cdp_region *region = cdp_vault_region(state->vault);
    for (size_t i = from; i < to; i++) {
        cdp_person person;
        cdp_batch_clear(state->batch);
        if (cdp_vault_create_person(state->vault, state->batch, &person, &err) != CDP_OK ||
            cdp_vault_put(state->vault, state->batch, &person, CDP_CF_PROFILES, person.profile_id,
                          CDP_PROFILE_ID_BYTES, state->value->data, state->value->len,
                          &err) != CDP_OK ||
            cdp_region_write(region, state->batch, 0, &err) != CDP_OK)
            die("put", &err);
        cdp_vault_remember_person(state->vault, &person);
        memcpy(state->ids[i], person.profile_id, CDP_PROFILE_ID_BYTES);
        cdp_person_wipe(&person);
    }
}

/* The same with the profile's Avro encoding in each put. */
static void profile_puts_avro(bench_state *state, size_t from, size_t to) {
    cdp_err err = {0};
    cdp_region *region = cdp_vault_region(state->avro_vault);
    for (size_t i = from; i < to; i++) {
        cdp_person person;
        cdp_batch_clear(state->batch);
        if (cdp_vault_create_person(state->avro_vault, state->batch, &person, &err) != CDP_OK)
            die("create person", &err);
        make_profile(state->profile, person.profile_id, i);
        cdp_buf_reset(state->encoded);
        if (cdp_profile_record_encode(&state->profile->record, state->encoded, &err) != CDP_OK)
            die("encode", &err);
        state->encoded_bytes += state->encoded->len;
        if (cdp_vault_put(state->avro_vault, state->batch, &person, CDP_CF_PROFILES,
                          person.profile_id, CDP_PROFILE_ID_BYTES, state->encoded->data,
                          state->encoded->len, &err) != CDP_OK ||
            cdp_region_write(region, state->batch, 0, &err) != CDP_OK)
            die("put", &err);
        cdp_vault_remember_person(state->avro_vault, &person);
        cdp_person_wipe(&person);
    }
}

static void raw_gets(bench_state *state, size_t from, size_t to) {
    cdp_err err = {0};
    for (size_t i = from; i < to; i++) {
        const uint8_t *key = state->raw_keys[next_index(&state->order, state->records)];
        uint8_t *found = NULL;
        size_t found_len = 0;
        if (cdp_region_get(state->raw, CDP_CF_PROFILES, key, CDP_PROFILE_ID_BYTES, &found,
                           &found_len, &err) != CDP_OK)
            die("raw get", &err);
        cdp_region_free_value(found);
    }
}

/* Data key (cache, else keys column family + unwrap), record read, open; decode if asked. */
static void gets(bench_state *state, size_t from, size_t to, int decode) {
    cdp_err err = {0};
    for (size_t i = from; i < to; i++) {
        const uint8_t *id = state->ids[next_index(&state->order, state->records)];
        cdp_person person;
        if (cdp_vault_get_person_record(state->vault, id, CDP_CF_PROFILES, id, CDP_PROFILE_ID_BYTES,
                                        &person, state->plain, &err) != CDP_OK)
            die("get", &err);
        if (decode) {
            cdp_profile_record read = {0};
            if (cdp_profile_record_decode(state->plain->data, state->plain->len, &read, &err) !=
                CDP_OK)
                die("decode", &err);
            cdp_profile_record_clear(&read);
        }
        cdp_person_wipe(&person);
    }
}

static void profile_gets(bench_state *state, size_t from, size_t to) { gets(state, from, to, 0); }

static void profile_gets_avro(bench_state *state, size_t from, size_t to) {
    gets(state, from, to, 1);
}

/* A lookup of nobody: makes the vault's key cache allocate its tables. */
static void touch_key_cache(cdp_vault *vault) {
    uint8_t nobody[CDP_PROFILE_ID_BYTES] = {0};
    cdp_person person;
    cdp_err err = {0};
    if (cdp_vault_load_person(vault, nobody, &person, &err) != CDP_NOT_FOUND)
        die("lookup of an absent person", &err);
}

static void usage(FILE *to) {
    fputs("usage: cdp-bench [--quick] [--records N] [--key-cache-entries N] [--events N]\n"
          "                 [--people N] [--erasures N] [--export-people N] [--subjects N]\n"
          "       cdp-bench export [--quick] [--people N] [--subjects N]\n"
          "       cdp-bench scale --people N [--reads N] [--ingest N] [--erasures N]\n"
          "                       [--threads N] [--dir DIR]\n"
          "       cdp-bench ingest [--quick] [--events N]\n"
          "       cdp-bench erase [--quick] [--people N] [--erasures N]\n"
          "       cdp-bench reads [--events N] [--reads N] [--rounds N] [--threads N] "
          "[--only audited]\n"
          "  (default)               profile_put / profile_get against raw RocksDB and libsodium\n"
          "  --quick                 20,000 records (default 1,000,000)\n"
          "  --key-cache-entries N   data-key cache per region (default 262,144)\n"
          "  ingest                  Segment ingest (1 and 2 threads) and profile_read, each with\n"
          "                          and without the audit, against raw RocksDB writes and reads\n"
          "  --events N              ingest: messages per run (default 100,000; --quick 10,000)\n"
          "  The default run (and --quick) prints every figure: profile_put, profile_get(_avro),\n"
          "  aead_seal, random_48, then ingest and profile_read (--events), erase (--people\n"
          "  people, default 1,000,000, --quick 20,000; --erasures, default 10,000, --quick\n"
          "  1,000), export, audit_export and audit_verify (--export-people, default 20,000,\n"
          "  --quick 1,000; --subjects exported, default 2,000, --quick 200).\n"
          "  export                  the subject export and the audit export and verification\n"
          "  scale                   a store of N people x 10 events, and its costs at that size\n",
          to);
}

/* Parses a positive size for option name; 0 (and a message) when it is not one. */
static size_t parse_size(const char *name, const char *text) {
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || value == 0 || text[0] == '-') {
        fprintf(stderr, "cdp-bench: --%s: a positive number, not \"%s\"\n", name, text);
        return 0;
    }
    return (size_t)value;
}

static int ingest_main(int argc, char **argv) {
    size_t events = 100000;
    static const struct option options[] = {{"quick", no_argument, NULL, 'q'},
                                            {"events", required_argument, NULL, 'e'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'q')
            events = 10000;
        else if (option == 'e') {
            if ((events = parse_size("events", optarg)) == 0)
                return 2;
        } else {
            usage(option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (sodium_init() < 0)
        return 1;
    return cdp_bench_ingest(events, getenv("CDP_POLICY_DIR")) == 0 ? 0 : 1;
}

/* cdp-bench reads [--events N] [--reads N] [--rounds N] [--threads N] [--only audited] */
static int reads_main(int argc, char **argv) {
    size_t events = 20000, reads = 20000, rounds = 3, threads = 1;
    const char *only = NULL;
    static const struct option options[] = {{"events", required_argument, NULL, 'e'},
                                            {"reads", required_argument, NULL, 'r'},
                                            {"rounds", required_argument, NULL, 'n'},
                                            {"threads", required_argument, NULL, 't'},
                                            {"only", required_argument, NULL, 'o'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option, which = 0;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, &which)) != -1) {
        if (option == 'e' || option == 'r' || option == 'n' || option == 't') {
            size_t value = parse_size(options[which].name, optarg);
            if (value == 0)
                return 2;
            if (option == 't' && value > 8) {
                fprintf(stderr, "cdp-bench: --threads: 1 to 8, not %zu\n", value);
                return 2;
            }
            *(option == 'e'   ? &events
              : option == 'r' ? &reads
              : option == 'n' ? &rounds
                              : &threads) = value;
        } else if (option == 'o' && strcmp(optarg, "audited") == 0) {
            only = optarg;
        } else {
            fputs("usage: cdp-bench reads [--events N] [--reads N] [--rounds N] [--threads N]\n"
                  "                       [--only audited]\n"
                  "  profile_read alone over stores filled as by cdp-bench ingest (default 20,000\n"
                  "  events and reads, 3 rounds, best of each); --only audited: just the enforced,\n"
                  "  audited reads (to profile them)\n",
                  option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (sodium_init() < 0)
        return 1;
    return cdp_bench_reads(events, reads, (int)rounds, (int)threads, only,
                           getenv("CDP_POLICY_DIR")) == 0
               ? 0
               : 1;
}

/* cdp-bench erase [--quick] [--people N] [--erasures N] */
static int erase_main(int argc, char **argv) {
    size_t people = 1000000, erasures = 10000;
    static const struct option options[] = {{"quick", no_argument, NULL, 'q'},
                                            {"people", required_argument, NULL, 'p'},
                                            {"erasures", required_argument, NULL, 'e'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option, which = 0;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, &which)) != -1) {
        if (option == 'q') {
            people = 50000;
            erasures = 2000;
        } else if (option == 'p' || option == 'e') {
            size_t value = parse_size(options[which].name, optarg);
            if (value == 0)
                return 2;
            *(option == 'p' ? &people : &erasures) = value;
        } else {
            fputs("usage: cdp-bench erase [--quick] [--people N] [--erasures N]\n"
                  "  erasures in a store of N people (default 1,000,000 people, 10,000 "
                  "erasures;\n  --quick: 50,000 and 2,000), purge batched; ingest throughput "
                  "before and during\n",
                  option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (people < 200 || erasures > people / 2) {
        fprintf(stderr, "cdp-bench erase: need at least 200 people and erasures <= people / 2\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    return cdp_bench_erase(people, erasures, getenv("CDP_POLICY_DIR")) == 0 ? 0 : 1;
}

/* cdp-bench export [--quick] [--people N] [--subjects N] */
static int export_main(int argc, char **argv) {
    size_t people = 20000, subjects = 2000;
    static const struct option options[] = {{"quick", no_argument, NULL, 'q'},
                                            {"people", required_argument, NULL, 'p'},
                                            {"subjects", required_argument, NULL, 's'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'q') {
            people = 2000;
            subjects = 500;
        } else if (option == 'p' || option == 's') {
            size_t value = parse_size(option == 'p' ? "people" : "subjects", optarg);
            if (value == 0)
                return 2;
            *(option == 'p' ? &people : &subjects) = value;
        } else {
            usage(option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (subjects > people) {
        fputs("cdp-bench export: --subjects: at most --people\n", stderr);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    return cdp_bench_export(people, subjects, getenv("CDP_POLICY_DIR")) == 0 ? 0 : 1;
}

/* cdp-bench scale --people N [--reads N] [--ingest N] [--erasures N] [--threads N] [--dir D] */
static int scale_main(int argc, char **argv) {
    cdp_bench_scale_options scale = {.reads = 50000,
                                     .ingest_events = 50000,
                                     .erasures = 1000,
                                     .threads = 2,
                                     .policy_dir = getenv("CDP_POLICY_DIR")};
    static const struct option options[] = {{"people", required_argument, NULL, 'p'},
                                            {"reads", required_argument, NULL, 'r'},
                                            {"ingest", required_argument, NULL, 'i'},
                                            {"erasures", required_argument, NULL, 'e'},
                                            {"threads", required_argument, NULL, 't'},
                                            {"dir", required_argument, NULL, 'd'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option, which = 0;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, &which)) != -1) {
        if (option == 'd') {
            scale.dir = optarg;
        } else if (option == 'p' || option == 'r' || option == 'i' || option == 'e' ||
                   option == 't') {
            size_t value = parse_size(options[which].name, optarg);
            if (value == 0 || (option == 't' && value > 8)) {
                if (option == 't')
                    fputs("cdp-bench scale: --threads: 1..8\n", stderr);
                return 2;
            }
            if (option == 'p')
                scale.people = value;
            else if (option == 'r')
                scale.reads = value;
            else if (option == 'i')
                scale.ingest_events = value;
            else if (option == 'e')
                scale.erasures = value;
            else
                scale.threads = (int)value;
        } else {
            usage(option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (scale.people == 0) {
        fputs("cdp-bench scale: --people N is required\n", stderr);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    int status = cdp_bench_scale(&scale);
    return status == 2 ? 2 : status == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "ingest") == 0)
        return ingest_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "erase") == 0)
        return erase_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "reads") == 0)
        return reads_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "export") == 0)
        return export_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "scale") == 0)
        return scale_main(argc - 1, argv + 1);
    size_t records = 1000000, key_cache_entries = 0;
    /* The other figures' sizes: 0 until set, then the defaults of --quick or of a full run. */
    size_t events = 0, erase_people = 0, erasures = 0, export_people = 0, subjects = 0;
    int quick = 0;
    static const struct option options[] = {{"quick", no_argument, NULL, 'q'},
                                            {"records", required_argument, NULL, 'n'},
                                            {"key-cache-entries", required_argument, NULL, 'k'},
                                            {"events", required_argument, NULL, 'e'},
                                            {"people", required_argument, NULL, 'p'},
                                            {"erasures", required_argument, NULL, 'x'},
                                            {"export-people", required_argument, NULL, 'P'},
                                            {"subjects", required_argument, NULL, 's'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int option, which = 0;
    while ((option = getopt_long(argc, argv, "", options, &which)) != -1) {
        if (option == 'q') {
            records = 20000;
            quick = 1;
        } else if (option == 'n' || option == 'k') {
            size_t value = parse_size(options[which].name, optarg);
            if (value == 0)
                return 2;
            *(option == 'n' ? &records : &key_cache_entries) = value;
        } else if (option == 'e' || option == 'p' || option == 'x' || option == 'P' ||
                 option == 's') {
            size_t value = parse_size(options[which].name, optarg);
            if (value == 0)
                return 2;
            *(option == 'e'   ? &events
              : option == 'p' ? &erase_people
              : option == 'x' ? &erasures
              : option == 'P' ? &export_people
                              : &subjects) = value;
        } else {
            usage(option == 'h' ? stdout : stderr);
            return option == 'h' ? 0 : 2;
        }
    }
    if (events == 0)
        events = quick ? 10000 : 100000;
    /* --quick keeps the whole run well under a minute on 2 idle cores. */
    if (erase_people == 0)
        erase_people = quick ? 20000 : 1000000;
    if (erasures == 0)
        erasures = quick ? 1000 : 10000;
    if (export_people == 0)
        export_people = quick ? 1000 : 20000;
    if (subjects == 0)
        subjects = quick ? 200 : 2000;
    if (erase_people < 200 || erasures > erase_people / 2 || subjects > export_people) {
        fputs("cdp-bench: need --people >= 200, --erasures <= --people / 2 and --subjects <= "
              "--export-people\n",
              stderr);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char base[] = "/tmp/cdp-bench-XXXXXX";
    if (mkdtemp(base) == NULL)
        return 1;
    char data_dir[512], raw_dir[512];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(raw_dir, sizeof raw_dir, "%s/raw", base);

    cdp_err err = {0};
    cdp_options open_options;
    cdp_options_default(&open_options);
    open_options.create = 1;
    open_options.policy_dir = getenv("CDP_POLICY_DIR");
    open_options.key_cache_entries = key_cache_entries;
    cdp_t *db = NULL;
    if (cdp_open(data_dir, &open_options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench: open: %s\n", cdp_errmsg(db));
        return 1;
    }
    /* Measured region, and a second one that takes the profile_put_avro records. */
    cdp_vault *vault = cdp_handle_vault(db, "eu");
    cdp_vault *avro_vault = cdp_handle_vault(db, "us");
    if (vault == NULL || avro_vault == NULL) {
        fputs("cdp-bench: the policy bundle needs regions eu and us\n", stderr);
        return 1;
    }
    cdp_region *region = cdp_vault_region(vault);
    cdp_region *avro_region = cdp_vault_region(avro_vault);

    /* The raw ceiling: a partition with the same options and an equal, separate block cache. */
    rocksdb_cache_t *raw_cache = rocksdb_cache_create_lru(open_options.block_cache_bytes);
    cdp_region_options raw_options = {.block_cache = raw_cache, .create = 1};
    cdp_region *raw = NULL;
    if (cdp_region_open(raw_dir, "eu", &raw_options, &raw, &err) != CDP_OK)
        die("raw open", &err);

    bench_profile profile;
    cdp_buf value = {0}, encoded = {0}, plain = {0};
    uint8_t first_id[CDP_PROFILE_ID_BYTES];
    randombytes_buf(first_id, sizeof first_id);
    make_profile(&profile, first_id, 0);
    if (cdp_profile_record_encode(&profile.record, &value, &err) != CDP_OK)
        die("encode", &err);
    fprintf(stderr, "cdp-bench: %zu records of %zu bytes (an encoded profile) in %s\n", records,
            value.len, base);

    uint8_t(*raw_keys)[CDP_PROFILE_ID_BYTES] = malloc(records * CDP_PROFILE_ID_BYTES);
    uint8_t(*ids)[CDP_PROFILE_ID_BYTES] = malloc(records * CDP_PROFILE_ID_BYTES);
    cdp_batch *batch = cdp_batch_new();
    if (raw_keys == NULL || ids == NULL || batch == NULL)
        die("out of memory", NULL);
    for (size_t i = 0; i < records; i++)
        key_of(raw_keys[i], i);

    /* The key caches allocate their 12.5 MiB on first use (about 15 ms, once per region): not a
     * cost of the puts, so out of the timing. */
    touch_key_cache(vault);
    touch_key_cache(avro_vault);
    /* Raw and encrypted runs alternate in chunks of the same records, so a change in machine
     * load (shared hosts, background compaction) falls on both sides alike. */
    size_t chunk = records / BENCH_CHUNKS > 0 ? records / BENCH_CHUNKS : 1;
    bench_state state = {.raw = raw,
                         .vault = vault,
                         .avro_vault = avro_vault,
                         .raw_keys = raw_keys,
                         .ids = ids,
                         .records = records,
                         .value = &value,
                         .batch = batch,
                         .profile = &profile,
                         .encoded = &encoded,
                         .plain = &plain};
    double raw_put = 0, put = 0, put_avro = 0;
    for (size_t from = 0; from < records; from += chunk) {
        size_t to = from + chunk < records ? from + chunk : records;
        raw_put += timed(raw_puts, &state, from, to);
        put += timed(profile_puts, &state, from, to);
        put_avro += timed(profile_puts_avro, &state, from, to);
    }
    char extra[256];
    snprintf(extra, sizeof extra, ", \"records\": %zu, \"value_bytes\": %zu", records, value.len);
    print_line("profile_put", (double)records / put, (double)records / raw_put, extra);
    snprintf(extra, sizeof extra, ", \"records\": %zu, \"value_bytes\": %zu", records,
             state.encoded_bytes / records);
    print_line("profile_put_avro", (double)records / put_avro, (double)records / raw_put, extra);

    /* ---- gets: from SST, after one untimed pass over everything (caches warm as in a store
     * that has been serving), in the same random order over all records on every side ---- */
    settle(raw, "raw store");
    settle(region, "encrypted store");
    settle(avro_region, "avro store");
    state.order = 54321;
    raw_gets(&state, 0, records);
    state.order = 54321;
    profile_gets(&state, 0, records);
    double raw_get = 0, get = 0, get_avro = 0;
    bench_hits plain_hits = {0}, avro_hits = {0};
    /* Raw and profile_get read in the same order (different stores); profile_get_avro reads the
     * same store as profile_get, so in another order, or it would find what profile_get just
     * brought into the caches. */
    uint32_t order = 12345, avro_order = 777;
    for (size_t from = 0; from < records; from += chunk) {
        size_t to = from + chunk < records ? from + chunk : records;
        state.order = order;
        raw_get += timed(raw_gets, &state, from, to);
        state.order = order;
        get += timed_counting(profile_gets, &state, from, to, &plain_hits);
        order = state.order;
        state.order = avro_order;
        get_avro += timed_counting(profile_gets_avro, &state, from, to, &avro_hits);
        avro_order = state.order;
    }
    size_t cache_entries = key_cache_entries ? key_cache_entries : CDP_KEYCACHE_DEFAULT_ENTRIES;
    cache_entries = (cache_entries + CDP_KEYCACHE_WAYS - 1) / CDP_KEYCACHE_WAYS * CDP_KEYCACHE_WAYS;
    snprintf(extra, sizeof extra,
             ", \"records\": %zu, \"key_cache_hit_rate\": %.3f, \"key_cache_entries\": %zu",
             records, hit_rate(&plain_hits), cache_entries);
    print_line("profile_get", (double)records / get, (double)records / raw_get, extra);
    snprintf(extra, sizeof extra,
             ", \"records\": %zu, \"key_cache_hit_rate\": %.3f, \"key_cache_entries\": %zu",
             records, hit_rate(&avro_hits), cache_entries);
    print_line("profile_get_avro", (double)records / get_avro, (double)records / raw_get, extra);

    /* ---- AEAD alone ---- */
    uint8_t key32[32], message[VALUE_BYTES], sealed[VALUE_BYTES + CDP_AEAD_OVERHEAD], ad[64];
    uint8_t random48[48];
    /* At least 200,000 seals, except in tiny runs (the smoke test), which measure nothing. */
    size_t sealed_len = 0, seals = records >= 200000 ? records : records < 20000 ? 20000 : 200000;
    randombytes_buf(key32, sizeof key32);
    randombytes_buf(message, sizeof message);
    memset(ad, 7, sizeof ad);
    double start = now_seconds();
    for (size_t i = 0; i < seals; i++) {
        uint8_t *nonce = sealed;
        randombytes_buf(nonce, CDP_AEAD_NONCE_BYTES);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + CDP_AEAD_NONCE_BYTES, &clen, message,
                                                   sizeof message, ad, sizeof ad, NULL, nonce,
                                                   key32);
    }
    double naive_seal = (double)seals / (now_seconds() - start);
    start = now_seconds();
    for (size_t i = 0; i < seals; i++)
        cdp_aead_seal(sealed, sizeof sealed, &sealed_len, message, sizeof message, ad, sizeof ad,
                      key32);
    double seal = (double)seals / (now_seconds() - start);
    print_line("aead_seal", seal, naive_seal, ", \"bytes\": 512");

    /* ---- random bytes for a new person ---- */
    start = now_seconds();
    for (size_t i = 0; i < seals; i++)
        randombytes_buf(random48, sizeof random48);
    double system_random = (double)seals / (now_seconds() - start);
    start = now_seconds();
    for (size_t i = 0; i < seals; i++)
        cdp_random_bytes(random48, sizeof random48);
    double user_random = (double)seals / (now_seconds() - start);
    sodium_memzero(random48, sizeof random48);
    print_line("random_48", user_random, system_random, ", \"bytes\": 48");

    free(ids);
    free(raw_keys);
    cdp_buf_free(&value);
    cdp_buf_free(&encoded);
    cdp_buf_free_secret(&plain);
    cdp_batch_free(batch);
    cdp_region_close(raw);
    rocksdb_cache_destroy(raw_cache);
    cdp_close(db);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);

    /* The rest of the suite, each in its own store. */
    const char *policy_dir = getenv("CDP_POLICY_DIR");
    int failed = 0;
    if (cdp_bench_ingest(events, policy_dir) != 0) {
        fputs("cdp-bench: ingest failed\n", stderr);
        failed = 1;
    }
    if (cdp_bench_erase(erase_people, erasures, policy_dir) != 0) {
        fputs("cdp-bench: erase failed\n", stderr);
        failed = 1;
    }
    if (cdp_bench_export(export_people, subjects, policy_dir) != 0) {
        fputs("cdp-bench: export failed\n", stderr);
        failed = 1;
    }
    return failed;
}
