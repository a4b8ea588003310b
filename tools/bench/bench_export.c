/* cdp-bench export: the data-subject export and the audit log's export and verification, each
 * against the least work that could produce the same result, measured in the same run.
 *
 * export: cdp_subject_export (format json) of S people, each identified once with 9 track events,
 *   by profile ref, into a byte-counting sink. The export is enforced (role dpo), audited durably
 *   (one synced write) before its first byte, and writes the profile, identities, traits, events,
 *   merges, consent and the audit entries about the person as JSON. Ceiling: the same people read
 *   straight from the store: data key from the key cache or the keys column family, the profile
 *   record and a prefix scan of the person's events, each AEAD-opened, the plaintext written to
 *   the same kind of sink. No enforcement, no audit, no JSON. ratio = export subjects/s over
 *   ceiling subjects/s (the same people, so the same records); mb_per_s counts the export's JSON
 *   bytes, ceiling_mb_per_s the plaintext record bytes the ceiling opened.
 * audit_export: cdp_audit_export_to (role auditor, region eu, JSON Lines) of the whole log that
 *   loading and exporting wrote, to a file. Ceiling: a raw scan of the audit column family's
 *   records, the RFC 6962 leaf hash (SHA-256 of 0x00 || record) of each, the record bytes written
 *   to a file. ratio = ceiling seconds / export seconds for the same records.
 * audit_verify: the auditor's offline check of that export (cdp_audit_verify_export_path: parse,
 *   leaf hashes, Merkle root, signed checkpoints, seal). Ceiling: read the same file and run the
 *   hashes and signature checks such a verification cannot avoid, with libsodium alone: SHA-256
 *   of every line (the leaves), n - 1 SHA-256 of 65 bytes (the tree's inner nodes) and one Ed25519
 *   verification per checkpoint the verifier checked plus the final one. MB/s over the file size.
 * Each pair runs 3 times alternating, best of each. */
#include "bench_export.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "audit/export.h"
#include "bench_util.h"
#include "store/region.h"
#include "store/vault.h"
#include "util/bytes.h"
#include "util/fs.h"

#define ROUNDS 3
#define EVENTS_PER_PERSON 10

typedef struct export_state {
    cdp_t *db;
    cdp_vault *vault;
    uint8_t (*ids)[CDP_PROFILE_ID_BYTES];
    size_t subjects;
    uint64_t bytes; /* written by the last pass */
    int failed;
} export_state;

static void export_cdp(export_state *state) {
    cdp_actor dpo = bench_actor(CDP_ROLE_DPO);
    uint64_t counted = 0;
    FILE *sink = bench_counting_sink(&counted);
    if (sink == NULL) {
        state->failed = 1;
        return;
    }
    for (size_t i = 0; i < state->subjects && !state->failed; i++) {
        char ref[8 + 2 * CDP_PROFILE_ID_BYTES + 1] = "profile:";
        cdp_hex_encode(ref + 8, state->ids[i], CDP_PROFILE_ID_BYTES);
        if (cdp_subject_export(state->db, &dpo, ref, "json", sink) != CDP_OK) {
            fprintf(stderr, "cdp-bench export: %s: %s\n", ref, cdp_errmsg(state->db));
            state->failed = 1;
        }
    }
    fclose(sink);
    state->bytes = counted;
}

/* The ceiling: key, profile record and every event of the person, opened; plaintext written. */
static void export_raw(export_state *state) {
    uint64_t counted = 0;
    FILE *sink = bench_counting_sink(&counted);
    cdp_buf plain = {0};
    cdp_err err = {0};
    cdp_region *region = cdp_vault_region(state->vault);
    if (sink == NULL) {
        state->failed = 1;
        return;
    }
    for (size_t i = 0; i < state->subjects && !state->failed; i++) {
        cdp_person person;
        cdp_iter *iter = NULL;
        if (cdp_vault_load_person(state->vault, state->ids[i], &person, &err) != CDP_OK ||
            cdp_vault_get(state->vault, &person, CDP_CF_PROFILES, person.profile_id,
                          CDP_PROFILE_ID_BYTES, &plain, &err) != CDP_OK) {
            fprintf(stderr, "cdp-bench export: ceiling: %s\n", err.message);
            state->failed = 1;
            cdp_person_wipe(&person);
            break;
        }
        fwrite(plain.data, 1, plain.len, sink);
        if (cdp_region_iter(region, CDP_CF_EVENTS, person.profile_id, CDP_PROFILE_ID_BYTES, &iter,
                            &err) != CDP_OK) {
            state->failed = 1;
            cdp_person_wipe(&person);
            break;
        }
        for (; cdp_iter_valid(iter); cdp_iter_next(iter)) {
            size_t key_len = 0, value_len = 0;
            const uint8_t *key = cdp_iter_key(iter, &key_len);
            const uint8_t *value = cdp_iter_value(iter, &value_len);
            if (cdp_vault_open(state->vault, &person, CDP_CF_EVENTS, key, key_len, value, value_len,
                               &plain, &err) != CDP_OK) {
                fprintf(stderr, "cdp-bench export: ceiling: %s\n", err.message);
                state->failed = 1;
                break;
            }
            fwrite(plain.data, 1, plain.len, sink);
        }
        cdp_iter_free(iter);
        cdp_person_wipe(&person);
    }
    cdp_buf_free_secret(&plain);
    fclose(sink);
    state->bytes = counted;
}

/* The first `wanted` profile ids of the region, in key order (random ids: a random sample). */
static size_t collect_ids(cdp_vault *vault, uint8_t (*ids)[CDP_PROFILE_ID_BYTES], size_t wanted) {
    cdp_iter *iter = NULL;
    cdp_err err = {0};
    size_t count = 0;
    if (cdp_region_iter(cdp_vault_region(vault), CDP_CF_PROFILES, NULL, 0, &iter, &err) != CDP_OK)
        return 0;
    for (; cdp_iter_valid(iter) && count < wanted; cdp_iter_next(iter)) {
        size_t len = 0;
        const uint8_t *key = cdp_iter_key(iter, &len);
        if (len == CDP_PROFILE_ID_BYTES)
            memcpy(ids[count++], key, CDP_PROFILE_ID_BYTES);
    }
    cdp_iter_free(iter);
    return count;
}

static double time_export(void (*run)(export_state *), export_state *state) {
    double start = bench_seconds();
    run(state);
    return bench_seconds() - start;
}

/* The audit export's ceiling: scan the records (prefix 0x00), leaf-hash each, write it. */
static int audit_raw_export(cdp_region *region, const char *path, uint64_t *records,
                            uint64_t *bytes) {
    FILE *out = fopen(path, "w");
    cdp_iter *iter = NULL;
    cdp_err err = {0};
    const uint8_t prefix = 0x00;
    if (out == NULL || cdp_region_iter(region, CDP_CF_AUDIT, &prefix, 1, &iter, &err) != CDP_OK) {
        if (out != NULL)
            fclose(out);
        return -1;
    }
    *records = *bytes = 0;
    uint8_t hash[crypto_hash_sha256_BYTES];
    for (; cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t len = 0;
        const uint8_t *value = cdp_iter_value(iter, &len);
        crypto_hash_sha256_state sha;
        crypto_hash_sha256_init(&sha);
        crypto_hash_sha256_update(&sha, &prefix, 1);
        crypto_hash_sha256_update(&sha, value, len);
        crypto_hash_sha256_final(&sha, hash);
        fwrite(value, 1, len, out);
        fputc('\n', out);
        *records += 1;
        *bytes += len;
    }
    cdp_iter_free(iter);
    return fclose(out) == 0 ? 0 : -1;
}

/* The verification's ceiling: leaf hash per line, n - 1 inner hashes, signature checks. */
static int audit_raw_verify(const char *path, uint64_t signatures, const uint8_t public_key[32],
                            const uint8_t *signed_message, size_t message_len,
                            const uint8_t signature[crypto_sign_BYTES]) {
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t leaves = 0;
    uint8_t hash[crypto_hash_sha256_BYTES], node[1 + 2 * crypto_hash_sha256_BYTES] = {0x01};
    int result = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        crypto_hash_sha256(hash, (const uint8_t *)line, (unsigned long long)len);
        leaves++;
    }
    for (uint64_t i = 1; i < leaves; i++) {
        memcpy(node + 1, hash, sizeof hash);
        crypto_hash_sha256(hash, node, sizeof node);
    }
    for (uint64_t i = 0; i < signatures; i++)
        if (crypto_sign_verify_detached(signature, signed_message, message_len, public_key) != 0)
            result = -1;
    free(line);
    fclose(in);
    return result;
}

static void print_pair(const char *bench, double seconds, double ceiling_seconds, double bytes,
                       double ceiling_bytes, const char *extra) {
    printf("{\"bench\": \"%s\", \"mb_per_s\": %.2f, \"ceiling_mb_per_s\": %.2f, \"ratio\": %.3f, "
           "\"seconds\": %.4f, \"ceiling_seconds\": %.4f%s}\n",
           bench, bytes / 1e6 / seconds, ceiling_bytes / 1e6 / ceiling_seconds,
           ceiling_seconds / seconds, seconds, ceiling_seconds, extra);
    fflush(stdout);
}

int cdp_bench_export(size_t people, size_t subjects, const char *policy_dir) {
    char base[] = "/tmp/cdp-bench-export-XXXXXX", data_dir[600], audit_path[600],
         raw_audit_path[600];
    if (mkdtemp(base) == NULL)
        return 1;
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(audit_path, sizeof audit_path, "%s/audit.jsonl", base);
    snprintf(raw_audit_path, sizeof raw_audit_path, "%s/audit.raw", base);
    if (subjects > people)
        subjects = people;
    int result = 1;
    uint8_t(*ids)[CDP_PROFILE_ID_BYTES] = malloc((subjects + 1) * CDP_PROFILE_ID_BYTES);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir;
    cdp_t *db = NULL;
    if (ids == NULL || cdp_open(data_dir, &options, &db) != CDP_OK) {
        fprintf(stderr, "cdp-bench export: open: %s\n", cdp_errmsg(db));
        goto done;
    }
    double start = bench_seconds();
    if (bench_load_people(db, 0, people, EVENTS_PER_PERSON, 50, 2, NULL) != 0)
        goto done;
    fprintf(stderr, "cdp-bench export: %zu people with %d events each loaded in %.1f s\n", people,
            EVENTS_PER_PERSON, bench_seconds() - start);
    cdp_vault *vault = cdp_handle_vault(db, "eu");
    if (vault == NULL || collect_ids(vault, ids, subjects) != subjects) {
        fputs("cdp-bench export: fewer profiles in region eu than subjects\n", stderr);
        goto done;
    }

    /* ---- subject export ---- */
    export_state state = {.db = db, .vault = vault, .ids = ids, .subjects = subjects};
    export_raw(&state); /* untimed warm-up: both sides then read from the same warm caches */
    double best = 1e300, best_ceiling = 1e300;
    uint64_t export_bytes = 0, plain_bytes = 0;
    for (int round = 0; round < ROUNDS && !state.failed; round++) {
        double ceiling = time_export(export_raw, &state);
        plain_bytes = state.bytes;
        double seconds = time_export(export_cdp, &state);
        export_bytes = state.bytes;
        if (ceiling < best_ceiling)
            best_ceiling = ceiling;
        if (seconds < best)
            best = seconds;
    }
    if (state.failed)
        goto done;
    char extra[512];
    snprintf(extra, sizeof extra,
             ", \"ops_per_s\": %.0f, \"ceiling_ops_per_s\": %.0f, \"subjects\": %zu, "
             "\"events_per_subject\": %d, \"bytes_per_subject\": %.0f, "
             "\"plain_bytes_per_subject\": %.0f, \"format\": \"json\"",
             (double)subjects / best, (double)subjects / best_ceiling, subjects,
             EVENTS_PER_PERSON, (double)export_bytes / (double)subjects,
             (double)plain_bytes / (double)subjects);
    /* Same people on both sides: the time ratio is the throughput ratio. */
    print_pair("export", best, best_ceiling, (double)export_bytes, (double)plain_bytes, extra);

    /* ---- audit export and verification ---- */
    cdp_actor auditor = bench_actor(CDP_ROLE_AUDITOR);
    cdp_audit_query query = {.region = "eu", .format = "jsonl"};
    char pubkey_hex[65];
    uint8_t public_key[32];
    if (cdp_audit_pubkey(db, "eu", pubkey_hex) != CDP_OK ||
        cdp_hex_decode(public_key, sizeof public_key, pubkey_hex, 64) != 0) {
        fprintf(stderr, "cdp-bench export: audit pubkey: %s\n", cdp_errmsg(db));
        goto done;
    }
    cdp_region *region = cdp_vault_region(vault);
    double best_export = 1e300, best_raw_export = 1e300, best_verify = 1e300,
           best_raw_verify = 1e300;
    uint64_t raw_records = 0, raw_bytes = 0, file_bytes = 0;
    cdp_audit_verify_report report;
    /* The ceiling's signature checks run over a real signature of a checkpoint-sized note. */
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES], sign_sk[crypto_sign_SECRETKEYBYTES];
    uint8_t note[200], signature[crypto_sign_BYTES];
    crypto_sign_keypair(sign_pk, sign_sk);
    memset(note, 'n', sizeof note);
    crypto_sign_detached(signature, NULL, note, sizeof note, sign_sk);
    sodium_memzero(sign_sk, sizeof sign_sk);
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = bench_seconds();
        if (audit_raw_export(region, raw_audit_path, &raw_records, &raw_bytes) != 0) {
            fputs("cdp-bench export: raw audit scan failed\n", stderr);
            goto done;
        }
        double t1 = bench_seconds();
        FILE *out = fopen(audit_path, "w");
        if (out == NULL || cdp_audit_export_to(db, &auditor, &query, out) != CDP_OK) {
            fprintf(stderr, "cdp-bench export: audit export: %s\n", cdp_errmsg(db));
            if (out != NULL)
                fclose(out);
            goto done;
        }
        file_bytes = (uint64_t)ftell(out);
        fclose(out);
        double t2 = bench_seconds();
        cdp_err err = {0};
        memset(&report, 0, sizeof report);
        if (cdp_audit_verify_export_path(audit_path, public_key, &report, &err) != CDP_OK) {
            fprintf(stderr, "cdp-bench export: audit verify: %s\n", err.message);
            goto done;
        }
        double t3 = bench_seconds();
        if (audit_raw_verify(audit_path, report.checkpoints + 1, sign_pk, note, sizeof note,
                             signature) != 0) {
            fputs("cdp-bench export: raw verify failed\n", stderr);
            goto done;
        }
        double t4 = bench_seconds();
        if (t1 - t0 < best_raw_export)
            best_raw_export = t1 - t0;
        if (t2 - t1 < best_export)
            best_export = t2 - t1;
        if (t3 - t2 < best_verify)
            best_verify = t3 - t2;
        if (t4 - t3 < best_raw_verify)
            best_raw_verify = t4 - t3;
    }
    snprintf(extra, sizeof extra,
             ", \"records\": %llu, \"bytes\": %llu, \"stored_bytes\": %llu, "
             "\"records_per_s\": %.0f",
             (unsigned long long)raw_records, (unsigned long long)file_bytes,
             (unsigned long long)raw_bytes, (double)raw_records / best_export);
    print_pair("audit_export", best_export, best_raw_export, (double)file_bytes,
               (double)raw_bytes, extra);
    snprintf(extra, sizeof extra,
             ", \"records\": %llu, \"checkpoints\": %llu, \"bytes\": %llu, "
             "\"records_per_s\": %.0f",
             (unsigned long long)report.records, (unsigned long long)report.checkpoints,
             (unsigned long long)file_bytes, (double)report.records / best_verify);
    print_pair("audit_verify", best_verify, best_raw_verify, (double)file_bytes,
               (double)file_bytes, extra);
    result = 0;
done:
    cdp_close(db);
    free(ids);
    if (getenv("CDP_BENCH_KEEP") == NULL)
        cdp_remove_tree(base);
    return result;
}
