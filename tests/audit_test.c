/* Audit log: RFC 6962 vectors, C2SP notes, record encoding, appends in the caller's batch,
 * checkpoints, proofs, person listing, exports in both formats and their offline verification
 * (tampering, wrong key, truncation), concurrency, retention, key rotation and allocation
 * failures. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "audit/export.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/record.h"
#include "crypto/keystore.h"
#include "crypto/rootkey.h"
#include "store/codec.h"
#include "store/region.h"
#include "support/testutil.h"
#include "util/alloc.h"
#include "util/bytes.h"

/* ---- fixture ------------------------------------------------------------------------------ */

static char *base;
static char region_path[1024], keystore_path[1024];
static cdp_rootkey *rootkey;
static cdp_keystore *keystore;
static cdp_region *region;

static void open_region(void) {
    cdp_err err = {0};
    cdp_region_options options = {.create = 1};
    cr_assert_eq(cdp_region_open(region_path, "eu", &options, &region, &err), CDP_OK, "%s",
                 err.message);
}

static void setup(void) {
    cr_assert_eq(sodium_init() >= 0, 1);
    base = test_tempdir("audit");
    cr_assert_not_null(base);
    snprintf(region_path, sizeof region_path, "%s/eu", base);
    snprintf(keystore_path, sizeof keystore_path, "%s/keystore", base);
    uint8_t key[CDP_ROOT_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    cdp_err err = {0};
    cr_assert_eq(cdp_rootkey_from_bytes(key, &rootkey, &err), CDP_OK, "%s", err.message);
    const char *regions[] = {"eu"};
    cr_assert_eq(cdp_keystore_create(keystore_path, rootkey, regions, 1, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(cdp_keystore_open(keystore_path, rootkey, &keystore, &err), CDP_OK, "%s",
                 err.message);
    open_region();
}

static void teardown(void) {
    cdp_alloc_fail_reset();
    cdp_region_close(region);
    region = NULL;
    cdp_keystore_close(keystore);
    keystore = NULL;
    cdp_rootkey_free(rootkey);
    rootkey = NULL;
    test_rmtree(base);
    free(base);
}

static cdp_audit_log *open_log(uint64_t every) {
    cdp_audit_options options;
    cdp_audit_options_default(&options);
    options.checkpoint_every = every;
    options.checkpoint_interval_ms = -1;
    cdp_audit_log *log = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_log_open(region, "eu", keystore, &options, &log, &err), CDP_OK, "%s",
                 err.message);
    return log;
}

static void public_key(cdp_audit_log *log, uint8_t out[32]) {
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_log_public_key(log, out, &err), CDP_OK, "%s", err.message);
}

static void profile_of(uint8_t out[CDP_PROFILE_ID_BYTES], unsigned person) {
    memset(out, 0, CDP_PROFILE_ID_BYTES);
    out[0] = 0xa0;
    cdp_store_be32(out + 12, person);
}

static const char *const operations[] = {"profile.read", "event.ingest", "consent.write",
                                         "dsr.erase"};
static const char *const cats[] = {"contact", "behavioral", "transactions"};

/* A plausible entry; person (or none when person < 0) and time vary with i. */
static cdp_audit_entry entry_for(uint64_t i, uint8_t profile[CDP_PROFILE_ID_BYTES], int person,
                                 int64_t time_ms) {
    if (person >= 0)
        profile_of(profile, (unsigned)person);
    cdp_audit_entry entry = {
        .time_ms = time_ms,
        .actor_key_id = i % 3 ? "k_personalization1" : "k_dpo7",
        .actor_role = i % 3 ? "personalization" : "dpo",
        .operation = operations[i % 4],
        .purpose = i % 2 ? "marketing" : NULL,
        .lawful_basis = i % 2 ? "consent" : "contract",
        .profile_id = person >= 0 ? profile : NULL,
        .categories = cats,
        .category_count = i % 4,
        .decision = (cdp_audit_decision)(i % 3),
        .reason = i % 3 == 2 ? "consent_denied" : NULL,
        .request_id = "req-0c6f2a",
    };
    return entry;
}

/* Appends count single entries (person i % persons, times from time0 step 1 ms; 0: now). */
static void append_many(cdp_audit_log *log, uint64_t count, int persons, int64_t time0) {
    cdp_err err = {0};
    for (uint64_t i = 0; i < count; i++) {
        uint8_t profile[CDP_PROFILE_ID_BYTES];
        cdp_audit_entry entry =
            entry_for(i, profile, persons > 0 ? (int)(i % (uint64_t)persons) : -1,
                      time0 ? time0 + (int64_t)i : 0);
        cr_assert_eq(cdp_audit_write(log, NULL, &entry, 1, 0, NULL, &err), CDP_OK, "%s",
                     err.message);
    }
}

static void export_to(cdp_audit_log *log, const cdp_audit_filter *filter, cdp_audit_format format,
                      const char *path, cdp_audit_export_stats *stats) {
    FILE *out = fopen(path, "wb");
    cr_assert_not_null(out);
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_export_file(log, filter, format, out, stats, &err), CDP_OK, "%s",
                 err.message);
    fclose(out);
}

static cdp_status verify_path(const char *path, const uint8_t key[32],
                              cdp_audit_verify_report *report, cdp_err *err) {
    return cdp_audit_verify_export_path(path, key, report, err);
}

static void assert_verifies(const char *path, const uint8_t key[32],
                            cdp_audit_verify_report *report) {
    cdp_err err = {0};
    cdp_status status = verify_path(path, key, report, &err);
    cr_assert_eq(status, CDP_OK, "verify %s: %s", path, err.message);
}

/* ---- RFC 6962 reference vectors ------------------------------------------------------------ */

/* Leaves, roots, inclusion and consistency proofs from transparency-dev/merkle
 * proof/verify_test.go (the same vectors as certificate-transparency's merkle tree tests):
 * https://github.com/transparency-dev/merkle/blob/main/proof/verify_test.go */
static const char *const vector_leaves[] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const vector_roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

typedef struct proof_vector {
    uint64_t a, b; /* inclusion: leaf (1-based, as in the source) and size; consistency: sizes */
    size_t count;
    const char *hashes[3];
} proof_vector;

static const proof_vector inclusion_vectors[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {2,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const proof_vector consistency_vectors[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static void hex32(uint8_t out[32], const char *hex) {
    cr_assert_eq(cdp_hex_decode(out, 32, hex, strlen(hex)), 0, "bad hex %s", hex);
}

/* An in-memory tree of leaf hashes; subtrees computed from the leaves. */
typedef struct memory_tree {
    uint8_t hashes[64][32];
    size_t size;
} memory_tree;

static cdp_status memory_node(void *context, unsigned level, uint64_t index, uint8_t out[32],
                              cdp_err *err) {
    memory_tree *tree = context;
    uint64_t begin = index << level;
    if (begin + (UINT64_C(1) << level) > tree->size)
        return cdp_err_set(err, CDP_MISUSE, "node beyond the tree");
    if (level == 0) {
        memcpy(out, tree->hashes[begin], 32);
        return CDP_OK;
    }
    uint8_t left[32], right[32];
    memory_node(context, level - 1, index * 2, left, err);
    memory_node(context, level - 1, index * 2 + 1, right, err);
    cdp_merkle_node_hash(out, left, right);
    return CDP_OK;
}

static void vector_tree(memory_tree *tree) {
    tree->size = 8;
    for (size_t i = 0; i < 8; i++) {
        uint8_t leaf[16];
        size_t len = strlen(vector_leaves[i]) / 2;
        cr_assert_eq(cdp_hex_decode(leaf, len, vector_leaves[i], 2 * len), 0);
        cdp_merkle_leaf_hash(tree->hashes[i], leaf, len);
    }
}

Test(audit_merkle, roots_match_rfc6962_reference_vectors) {
    memory_tree tree;
    vector_tree(&tree);
    cdp_merkle_frontier frontier;
    cdp_merkle_frontier_init(&frontier);
    for (size_t i = 0; i < 8; i++) {
        cdp_merkle_node completed[CDP_MERKLE_MAX_HASHES];
        size_t completed_count = 0;
        cr_assert_eq(
            cdp_merkle_frontier_append(&frontier, tree.hashes[i], completed, &completed_count),
            CDP_OK);
        uint8_t want[32], root[32], range_root[32];
        hex32(want, vector_roots[i]);
        cdp_merkle_frontier_root(&frontier, root);
        cr_assert_eq(memcmp(root, want, 32), 0, "root of %zu leaves", i + 1);
        cr_assert_eq(cdp_merkle_range_hash(memory_node, &tree, 0, i + 1, range_root, NULL), CDP_OK);
        cr_assert_eq(memcmp(range_root, want, 32), 0, "range hash of %zu leaves", i + 1);
        for (size_t n = 0; n < completed_count; n++) { /* completed subtrees are the real ones */
            uint8_t node[32];
            memory_node(&tree, completed[n].level, completed[n].index, node, NULL);
            cr_assert_eq(memcmp(node, completed[n].hash, 32), 0);
        }
    }
    uint8_t empty[32], want[32];
    cdp_merkle_empty_root(empty);
    hex32(want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(memcmp(empty, want, 32), 0);
}

Test(audit_merkle, inclusion_proofs_match_reference_vectors) {
    memory_tree tree;
    vector_tree(&tree);
    for (size_t v = 0; v < sizeof inclusion_vectors / sizeof inclusion_vectors[0]; v++) {
        const proof_vector *vector = &inclusion_vectors[v];
        uint8_t proof[CDP_MERKLE_MAX_HASHES][32], root[32];
        size_t count = 0;
        tree.size = vector->b;
        cr_assert_eq(cdp_merkle_inclusion_proof(memory_node, &tree, vector->a - 1, vector->b, proof,
                                                &count, NULL),
                     CDP_OK);
        cr_assert_eq(count, vector->count, "vector %zu: %zu hashes", v, count);
        for (size_t i = 0; i < count; i++) {
            uint8_t want[32];
            hex32(want, vector->hashes[i]);
            cr_assert_eq(memcmp(proof[i], want, 32), 0, "vector %zu hash %zu", v, i);
        }
        hex32(root, vector_roots[vector->b - 1]);
        const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
        cr_assert(cdp_merkle_verify_inclusion(vector->a - 1, vector->b, tree.hashes[vector->a - 1],
                                              p, count, root));
        /* Refusals: wrong index, size, leaf, root; a flipped bit; a missing or extra hash. */
        cr_assert_not(cdp_merkle_verify_inclusion(vector->a, vector->b, tree.hashes[vector->a - 1],
                                                  p, count, root));
        cr_assert_not(cdp_merkle_verify_inclusion(vector->a - 1, vector->b * 2,
                                                  tree.hashes[vector->a - 1], p, count, root));
        cr_assert_not(cdp_merkle_verify_inclusion(vector->a - 1, vector->b, root, p, count,
                                                  tree.hashes[vector->a - 1]) &&
                      vector->b > 1);
        cr_assert_not(cdp_merkle_verify_inclusion(vector->a - 1, vector->b,
                                                  tree.hashes[vector->a - 1], p, count + 1, root));
        if (count > 0) {
            proof[count - 1][0] ^= 8;
            cr_assert_not(cdp_merkle_verify_inclusion(vector->a - 1, vector->b,
                                                      tree.hashes[vector->a - 1], p, count, root));
            cr_assert_not(cdp_merkle_verify_inclusion(
                vector->a - 1, vector->b, tree.hashes[vector->a - 1], p, count - 1, root));
        }
    }
}

Test(audit_merkle, consistency_proofs_match_reference_vectors) {
    memory_tree tree;
    vector_tree(&tree);
    for (size_t v = 0; v < sizeof consistency_vectors / sizeof consistency_vectors[0]; v++) {
        const proof_vector *vector = &consistency_vectors[v];
        uint8_t proof[CDP_MERKLE_MAX_HASHES][32], root1[32], root2[32];
        size_t count = 0;
        cr_assert_eq(cdp_merkle_consistency_proof(memory_node, &tree, vector->a, vector->b, proof,
                                                  &count, NULL),
                     CDP_OK);
        cr_assert_eq(count, vector->count, "vector %zu: %zu hashes", v, count);
        for (size_t i = 0; i < count; i++) {
            uint8_t want[32];
            hex32(want, vector->hashes[i]);
            cr_assert_eq(memcmp(proof[i], want, 32), 0, "vector %zu hash %zu", v, i);
        }
        hex32(root1, vector_roots[vector->a - 1]);
        hex32(root2, vector_roots[vector->b - 1]);
        const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
        cr_assert(cdp_merkle_verify_consistency(vector->a, vector->b, root1, root2, p, count));
        if (count > 0) {
            cr_assert_not(
                cdp_merkle_verify_consistency(vector->a, vector->b, root2, root1, p, count));
            cr_assert_not(
                cdp_merkle_verify_consistency(vector->a + 1, vector->b, root1, root2, p, count));
            cr_assert_not(
                cdp_merkle_verify_consistency(vector->a, vector->b, root1, root2, p, count - 1));
            proof[0][0] ^= 16;
            cr_assert_not(
                cdp_merkle_verify_consistency(vector->a, vector->b, root1, root2, p, count));
        }
    }
}

Test(audit_merkle, proofs_verify_for_every_small_tree) {
    memory_tree tree = {.size = 40};
    for (size_t i = 0; i < 40; i++) {
        uint8_t leaf = (uint8_t)i;
        cdp_merkle_leaf_hash(tree.hashes[i], &leaf, 1);
    }
    uint8_t roots[41][32];
    for (uint64_t n = 0; n <= 40; n++)
        cr_assert_eq(cdp_merkle_range_hash(memory_node, &tree, 0, n, roots[n], NULL), CDP_OK);
    uint8_t proof[CDP_MERKLE_MAX_HASHES][32];
    size_t count = 0;
    for (uint64_t n = 1; n <= 40; n++) {
        for (uint64_t i = 0; i < n; i++) {
            cr_assert_eq(cdp_merkle_inclusion_proof(memory_node, &tree, i, n, proof, &count, NULL),
                         CDP_OK);
            cr_assert(cdp_merkle_verify_inclusion(i, n, tree.hashes[i], (const uint8_t(*)[32])proof,
                                                  count, roots[n]),
                      "inclusion %" PRIu64 " in %" PRIu64, i, n);
            cr_assert_not(cdp_merkle_verify_inclusion(
                i, n, tree.hashes[(i + 1) % 40], (const uint8_t(*)[32])proof, count, roots[n]));
        }
        for (uint64_t m = 0; m <= n; m++) {
            cr_assert_eq(
                cdp_merkle_consistency_proof(memory_node, &tree, m, n, proof, &count, NULL),
                CDP_OK);
            cr_assert(cdp_merkle_verify_consistency(m, n, roots[m], roots[n],
                                                    (const uint8_t(*)[32])proof, count),
                      "consistency %" PRIu64 " -> %" PRIu64, m, n);
            if (m > 0 && m < n)
                cr_assert_not(cdp_merkle_verify_consistency(m, n, roots[m - 1], roots[n],
                                                            (const uint8_t(*)[32])proof, count));
        }
    }
}

/* ---- signed notes ---------------------------------------------------------------------------- */

/* golang.org/x/mod/sumdb/note note_test.go: the key PeterNeumann+c74f20a3 (seed from the
 * "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALV..." signer key) and its signature. */
Test(audit_note, signature_matches_the_go_sumdb_note_vector) {
    uint8_t raw[33], public_key[32], secret_key[64];
    const char *skey = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    cr_assert_eq(cdp_audit_base64_decode(raw, 33, skey, strlen(skey)), 0);
    cr_assert_eq(raw[0], 0x01);
    crypto_sign_seed_keypair(public_key, secret_key, raw + 1);
    cr_assert_eq(cdp_note_key_id("PeterNeumann", public_key), 0xc74f20a3u);
    const char *text = "If you think cryptography is the answer to your problem,\n"
                       "then you don't know what your problem is.\n";
    char note[CDP_NOTE_MAX];
    cdp_err err = {0};
    cr_assert_eq(
        cdp_note_sign(text, "PeterNeumann", secret_key, public_key, note, sizeof note, &err),
        CDP_OK, "%s", err.message);
    const char *want =
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
        "\n"
        "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
        "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    cr_assert_str_eq(note, want);
    cr_assert_eq(cdp_note_verify(note, strlen(note), "PeterNeumann", public_key, &err), CDP_OK);
    /* Another key: not found; a changed text: the signature fails. */
    uint8_t other_public[32], other_secret[64];
    crypto_sign_keypair(other_public, other_secret);
    cr_assert_eq(cdp_note_verify(note, strlen(note), "PeterNeumann", other_public, &err),
                 CDP_NOT_FOUND);
    note[3] ^= 1;
    cr_assert_eq(cdp_note_verify(note, strlen(note), "PeterNeumann", public_key, &err), CDP_CRYPTO);
    cr_assert_eq(cdp_note_verify("no signatures\n", 14, "PeterNeumann", public_key, &err),
                 CDP_CORRUPT);
}

Test(audit_note, checkpoint_text_is_c2sp_tlog_checkpoint) {
    uint8_t root[32];
    memset(root, 0x11, sizeof root);
    char text[256];
    cr_assert_eq(cdp_checkpoint_format(text, sizeof text, "cdp.audit/eu", 1234, root, NULL),
                 CDP_OK);
    cr_assert_str_eq(text, "cdp.audit/eu\n1234\nERERERERERERERERERERERERERERERERERERERERERE=\n");
    cdp_checkpoint_body body;
    cr_assert_eq(cdp_checkpoint_parse(text, strlen(text), &body, NULL), CDP_OK);
    cr_assert_str_eq(body.origin, "cdp.audit/eu");
    cr_assert_eq(body.tree_size, 1234);
    cr_assert_eq(memcmp(body.root, root, 32), 0);
    const char *bad[] = {"cdp.audit/eu\n0123\nERERERERERERERERERERERERERERERERERERERERERE=\n",
                         "cdp.audit/eu\n12\nERERERE=\n", "cdp.audit/eu\n12\n", "\n1\nAA==\n"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(cdp_checkpoint_parse(bad[i], strlen(bad[i]), &body, NULL), CDP_CORRUPT,
                     "accepted %s", bad[i]);
}

/* ---- records ----------------------------------------------------------------------------------
 */

Test(audit_record, canonical_bytes_are_avro_the_codec_reads, .init = setup, .fini = teardown) {
    uint8_t profile[CDP_PROFILE_ID_BYTES];
    cdp_audit_entry entry = entry_for(3, profile, 7, 0);
    cdp_buf bytes = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_record_encode(42, 1700000000123, "eu", &entry, &bytes, &err), CDP_OK);
    avro_schema_t schema = cdp_codec_schema(CDP_SCHEMA_AUDIT_RECORD);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value, field, branch;
    cr_assert_eq(avro_generic_value_new(iface, &value), 0);
    cr_assert_eq(cdp_codec_decode(CDP_SCHEMA_AUDIT_RECORD, bytes.data, bytes.len, &value, &err),
                 CDP_OK, "%s", err.message);
    int64_t number = 0;
    const char *text = NULL;
    size_t size = 0;
    avro_value_get_by_name(&value, "seq", &field, NULL);
    avro_value_get_long(&field, &number);
    cr_assert_eq(number, 42);
    avro_value_get_by_name(&value, "operation", &field, NULL);
    avro_value_get_string(&field, &text, &size);
    cr_assert_str_eq(text, "dsr.erase");
    avro_value_get_by_name(&value, "profile_id", &field, NULL);
    avro_value_get_current_branch(&field, &branch);
    avro_value_get_string(&branch, &text, &size);
    cr_assert_str_eq(text, "a0000000000000000000000000000007");
    avro_value_get_by_name(&value, "categories", &field, NULL);
    avro_value_get_size(&field, &size);
    cr_assert_eq(size, 3);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);

    cdp_audit_decoder decoder = {0};
    const cdp_audit_record *record = NULL;
    cr_assert_eq(cdp_audit_decode(&decoder, bytes.data, bytes.len, &record, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(record->seq, 42);
    cr_assert_eq(record->time_ms, 1700000000123);
    cr_assert_str_eq(record->region, "eu");
    cr_assert_str_eq(record->purpose, "marketing");
    cr_assert_eq(record->has_profile_id, 1);
    cr_assert_eq(memcmp(record->profile_id, profile, 16), 0);
    cr_assert_eq(record->category_count, 3);
    cr_assert_str_eq(record->categories[2], "transactions");
    cr_assert_eq(record->decision, CDP_AUDIT_ALLOW);
    cr_assert_null(record->reason);
    /* Truncated or extended bytes are refused, never read past. */
    for (size_t cut = 0; cut < bytes.len; cut++)
        cr_assert_neq(cdp_audit_decode(&decoder, bytes.data, cut, &record, NULL), CDP_OK);
    cdp_buf_append(&bytes, "x", 1);
    cr_assert_eq(cdp_audit_decode(&decoder, bytes.data, bytes.len, &record, NULL), CDP_CORRUPT);
    cdp_audit_decoder_clear(&decoder);
    cdp_buf_free(&bytes);
}

Test(audit_record, entries_refuse_anything_but_tokens, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(1000);
    uint8_t profile[CDP_PROFILE_ID_BYTES];
    const char *bad_values[] = {
        "alice@example.com", "+4722334455", "Alice Smith", "", "a\nb", "x\"y"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        for (int field = 0; field < 5; field++) {
            cdp_audit_entry entry = entry_for(1, profile, 1, 0);
            const char *one[1] = {bad_values[i]};
            switch (field) {
            case 0:
                entry.actor_key_id = bad_values[i];
                break;
            case 1:
                entry.purpose = bad_values[i];
                break;
            case 2:
                entry.reason = bad_values[i];
                break;
            case 3:
                entry.request_id = bad_values[i];
                break;
            default:
                entry.categories = one;
                entry.category_count = 1;
                break;
            }
            cdp_err err = {0};
            cr_assert_eq(cdp_audit_write(log, NULL, &entry, 1, 0, NULL, &err), CDP_BAD_REQUEST,
                         "field %d accepted \"%s\"", field, bad_values[i]);
            cr_assert_neq(strstr(err.message, "entries[0]"), NULL, "%s", err.message);
        }
    }
    cdp_audit_entry missing = entry_for(1, profile, 1, 0);
    missing.operation = NULL;
    cr_assert_eq(cdp_audit_write(log, NULL, &missing, 1, 0, NULL, NULL), CDP_BAD_REQUEST);
    missing = entry_for(1, profile, 1, 0);
    missing.decision = (cdp_audit_decision)7;
    cr_assert_eq(cdp_audit_write(log, NULL, &missing, 1, 0, NULL, NULL), CDP_BAD_REQUEST);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, 0, "a refused entry used a seq");
    cdp_audit_log_close(log);
}

/* ---- appends, checkpoints, proofs -------------------------------------------------------------
 */

Test(audit_log, write_is_one_atomic_batch_with_the_data_change, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(1000);
    cdp_batch *batch = cdp_batch_new();
    const uint8_t key[] = "consent-key";
    cdp_batch_put(batch, region, CDP_CF_CONSENT, key, sizeof key, (const uint8_t *)"v", 1);
    uint8_t profile[CDP_PROFILE_ID_BYTES];
    cdp_audit_entry entries[3] = {entry_for(0, profile, 1, 0), entry_for(1, profile, 1, 0),
                                  entry_for(2, profile, 1, 0)};
    uint64_t first = 99;
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_write(log, batch, entries, 3, 1, &first, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(first, 0);
    uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(cdp_region_get(region, CDP_CF_CONSENT, key, sizeof key, &value, &len, &err),
                 CDP_OK);
    cdp_region_free_value(value);
    cdp_batch_free(batch);
    cr_assert_eq(cdp_audit_write(log, NULL, entries, 2, 0, &first, &err), CDP_OK);
    cr_assert_eq(first, 3);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, 5);

    /* Reopened, the log continues where it was, with the same root. */
    cdp_audit_log_close(log);
    log = open_log(1000);
    cdp_audit_info again;
    cdp_audit_log_info(log, &again);
    cr_assert_eq(again.tree_size, 5);
    cr_assert_eq(memcmp(again.root, info.root, 32), 0);
    cr_assert_eq(cdp_audit_write(log, NULL, entries, 1, 0, &first, &err), CDP_OK);
    cr_assert_eq(first, 5);
    cdp_audit_log_close(log);
}

Test(audit_log, a_second_log_on_one_region_is_refused, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(1000), *second = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_log_open(region, "eu", keystore, NULL, &second, &err), CDP_CONFLICT);
    cr_assert_null(second);
    cdp_audit_log_close(log);
}

Test(audit_log, checkpoints_every_n_records_and_on_demand, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(10);
    append_many(log, 25, 3, 0);
    uint8_t key[32];
    public_key(log, key);
    cdp_audit_checkpoint checkpoint;
    cdp_err err = {0};
    for (uint64_t size = 10; size <= 20; size += 10) {
        cr_assert_eq(cdp_audit_checkpoint_get(log, size, &checkpoint, &err), CDP_OK, "%s",
                     err.message);
        cr_assert_eq(
            cdp_note_verify(checkpoint.note, strlen(checkpoint.note), "cdp.audit/eu", key, &err),
            CDP_OK, "%s", err.message);
        uint8_t root[32];
        cr_assert_eq(cdp_audit_root(log, size, root, &err), CDP_OK, "%s", err.message);
        cr_assert_eq(memcmp(root, checkpoint.root, 32), 0);
        char head[32];
        snprintf(head, sizeof head, "cdp.audit/eu\n%" PRIu64 "\n", size);
        cr_assert_eq(strncmp(checkpoint.note, head, strlen(head)), 0, "%s", checkpoint.note);
    }
    cr_assert_eq(cdp_audit_checkpoint_get(log, 25, &checkpoint, &err), CDP_NOT_FOUND);
    cr_assert_eq(cdp_audit_checkpoint_now(log, &checkpoint, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(checkpoint.tree_size, 25);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(memcmp(info.root, checkpoint.root, 32), 0);
    /* Nothing new: the same checkpoint again. */
    cdp_audit_checkpoint same;
    cr_assert_eq(cdp_audit_checkpoint_now(log, &same, &err), CDP_OK);
    cr_assert_str_eq(same.note, checkpoint.note);
    /* A wrong key does not verify it. */
    uint8_t other_public[32], other_secret[64];
    crypto_sign_keypair(other_public, other_secret);
    cr_assert_eq(cdp_note_verify(checkpoint.note, strlen(checkpoint.note), "cdp.audit/eu",
                                 other_public, &err),
                 CDP_NOT_FOUND);
    cdp_audit_log_close(log);
}

Test(audit_log, inclusion_and_consistency_proofs_check_against_checkpoints, .init = setup,
     .fini = teardown) {
    cdp_audit_log *log = open_log(7);
    append_many(log, 30, 4, 0);
    cdp_err err = {0};
    cdp_audit_checkpoint c14, c28;
    cr_assert_eq(cdp_audit_checkpoint_get(log, 14, &c14, &err), CDP_OK);
    cr_assert_eq(cdp_audit_checkpoint_get(log, 28, &c28, &err), CDP_OK);
    uint8_t proof[CDP_AUDIT_MAX_PROOF][32];
    size_t count = 0;
    for (uint64_t seq = 0; seq < 28; seq++) {
        cr_assert_eq(cdp_audit_inclusion_proof(log, seq, 28, proof, &count, &err), CDP_OK, "%s",
                     err.message);
        uint8_t *leaf = NULL;
        size_t len = 0;
        uint8_t key[9] = {0}, hash[32];
        cdp_store_be64(key + 1, seq);
        cr_assert_eq(cdp_region_get(region, CDP_CF_AUDIT, key, 9, &leaf, &len, &err), CDP_OK);
        cdp_merkle_leaf_hash(hash, leaf, len);
        cdp_region_free_value(leaf);
        cr_assert(cdp_merkle_verify_inclusion(seq, 28, hash, (const uint8_t(*)[32])proof, count,
                                              c28.root),
                  "seq %" PRIu64, seq);
    }
    cr_assert_eq(cdp_audit_consistency_proof(log, 14, 28, proof, &count, &err), CDP_OK);
    cr_assert(cdp_merkle_verify_consistency(14, 28, c14.root, c28.root, (const uint8_t(*)[32])proof,
                                            count));
    cr_assert_eq(cdp_audit_inclusion_proof(log, 28, 28, proof, &count, &err), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_audit_inclusion_proof(log, 1, 31, proof, &count, &err), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_audit_consistency_proof(log, 28, 14, proof, &count, &err), CDP_BAD_REQUEST);
    cdp_audit_log_close(log);
}

typedef struct listing {
    uint64_t seqs[64];
    size_t count;
    uint8_t profile[16];
} listing;

static cdp_status collect(void *context, const cdp_audit_record *record) {
    listing *list = context;
    cr_assert(record->has_profile_id);
    cr_assert_eq(memcmp(record->profile_id, list->profile, 16), 0);
    if (list->count < 64)
        list->seqs[list->count] = record->seq;
    list->count++;
    return CDP_OK;
}

Test(audit_log, records_about_one_person_are_listed_in_order, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(1000);
    append_many(log, 40, 5, 0); /* person = i % 5 */
    listing list = {.count = 0};
    profile_of(list.profile, 3);
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_list_person(log, list.profile, collect, &list, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(list.count, 8);
    for (size_t i = 0; i < list.count; i++)
        cr_assert_eq(list.seqs[i], 3 + 5 * i);
    listing nobody = {.count = 0};
    profile_of(nobody.profile, 99);
    cr_assert_eq(cdp_audit_list_person(log, nobody.profile, collect, &nobody, &err), CDP_OK);
    cr_assert_eq(nobody.count, 0);
    cdp_audit_log_close(log);
}

/* ---- exports and verification ---------------------------------------------------------------- */

static char *path_in_base(const char *name) {
    static char paths[8][1024];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 1024, "%s/%s", base, name);
    return path;
}

/* The export's lines; caller frees lines[0] (one buffer) and lines. */
static char **read_lines(const char *path, size_t *count) {
    size_t len = 0;
    char *text = (char *)test_read_file(path, &len);
    cr_assert_not_null(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    size_t cap = 16, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    for (char *cursor = text; *cursor;) {
        char *newline = strchr(cursor, '\n');
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = cursor;
        if (newline == NULL)
            break;
        *newline = '\0';
        cursor = newline + 1;
    }
    if (n == 0) {
        lines[0] = text;
    }
    *count = n;
    return lines;
}

static void write_lines(const char *path, char **lines, size_t count) {
    FILE *out = fopen(path, "wb");
    for (size_t i = 0; i < count; i++)
        fprintf(out, "%s\n", lines[i]);
    fclose(out);
}

static size_t line_of_seq(char **lines, size_t count, uint64_t seq) {
    char needle[64];
    snprintf(needle, sizeof needle, "{\"type\":\"record\",\"seq\":%" PRIu64 ",", seq);
    for (size_t i = 0; i < count; i++)
        if (strncmp(lines[i], needle, strlen(needle)) == 0)
            return i;
    cr_assert_fail("no line for seq %" PRIu64, seq);
    return 0;
}

/* Verifying a changed copy fails and names (1-based) line and seq. */
static void assert_fails_at(char **lines, size_t count, const uint8_t key[32], uint64_t line,
                            int64_t seq, const char *what) {
    const char *path = path_in_base("tampered.jsonl");
    write_lines(path, lines, count);
    cdp_audit_verify_report report;
    cdp_err err = {0};
    cdp_status status = verify_path(path, key, &report, &err);
    cr_assert_neq(status, CDP_OK, "%s: verified", what);
    cr_assert_eq(report.line, line, "%s: failed at line %" PRIu64 " (%s), expected %" PRIu64, what,
                 report.line, err.message, line);
    if (seq >= -1)
        cr_assert_eq(report.seq, seq, "%s: seq %" PRId64 " (%s)", what, report.seq, err.message);
}

Test(audit_export, full_exports_verify_in_both_formats, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(100);
    append_many(log, 350, 10, 0);
    uint8_t key[32];
    public_key(log, key);
    cdp_audit_export_stats stats;
    const char *jsonl = path_in_base("all.jsonl"), *avro = path_in_base("all.avro");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    cr_assert_eq(stats.records, 350);
    cr_assert_eq(stats.tree_size, 350);
    cr_assert_eq(stats.checkpoints, 4); /* 100, 200, 300 and the export's own 350 */
    cdp_audit_verify_report report;
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.records, 350);
    cr_assert_eq(report.checkpoints, 4);
    cr_assert_str_eq(report.mode, "range");
    export_to(log, NULL, CDP_AUDIT_FORMAT_AVRO, avro, &stats);
    assert_verifies(avro, key, &report);
    cr_assert_eq(report.format, CDP_AUDIT_FORMAT_AVRO);
    cr_assert_eq(report.records, 350);
    /* Appends after an export: the next export still verifies and covers them. */
    append_many(log, 5, 10, 0);
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    cr_assert_eq(stats.tree_size, 355);
    assert_verifies(jsonl, key, &report);
    cdp_audit_log_close(log);
}

Test(audit_export, empty_log_exports_and_verifies, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(100);
    uint8_t key[32];
    public_key(log, key);
    const char *jsonl = path_in_base("empty.jsonl");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    cdp_audit_verify_report report;
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.records, 0);
    cdp_audit_log_close(log);
}

Test(audit_export, tampering_fails_and_names_the_spot, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(20);
    append_many(log, 50, 4, 0);
    uint8_t key[32];
    public_key(log, key);
    const char *jsonl = path_in_base("t.jsonl");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    size_t count = 0;
    char **lines = read_lines(jsonl, &count);
    cr_assert_eq(count, 1 + 50 + 3 + 1); /* header, records, checkpoints 20, 40, 50, end */
    size_t at = line_of_seq(lines, count, 17);

    /* A readable field changed: the record's own line. */
    char *saved = strdup(lines[at]);
    char *field = strstr(lines[at], "\"actor_role\":\"");
    cr_assert_not_null(field);
    field[14] ^= 0x20; /* case of the first letter */
    assert_fails_at(lines, count, key, at + 1, 17, "readable field");
    strcpy(lines[at], saved);

    /* A byte of the leaf changed. */
    char *leaf = strstr(lines[at], "\"leaf\":\"") + 8;
    leaf[30] = leaf[30] == 'A' ? 'B' : 'A';
    assert_fails_at(lines, count, key, at + 1, 17, "leaf byte");
    strcpy(lines[at], saved);
    free(saved);

    /* One record deleted: the next line says which is missing. */
    char **fewer = malloc(count * sizeof *fewer);
    memcpy(fewer, lines, at * sizeof *fewer);
    memcpy(fewer + at, lines + at + 1, (count - at - 1) * sizeof *fewer);
    assert_fails_at(fewer, count - 1, key, at + 1, 18, "deleted record");

    /* Two records swapped. */
    char *swap = lines[at];
    lines[at] = lines[at + 1];
    lines[at + 1] = swap;
    assert_fails_at(lines, count, key, at + 1, 18, "swapped records");
    lines[at + 1] = lines[at];
    lines[at] = swap;

    /* The tail cut: no end line (at a line boundary, and in the middle of a line). */
    assert_fails_at(lines, count - 5, key, count - 5, -1, "cut tail");
    const char *cut = path_in_base("cut.jsonl");
    write_lines(cut, lines, count);
    size_t len = 0;
    uint8_t *bytes = test_read_file(cut, &len);
    test_write_file(cut, bytes, len - 100, 0644);
    free(bytes);
    cdp_audit_verify_report report;
    cr_assert_neq(verify_path(cut, key, &report, NULL), CDP_OK);
    cr_assert_eq(report.line, count);

    /* A record changed consistently in both leaf and fields (re-encoded by a forger): the
     * checkpoint after it no longer matches. */
    cdp_audit_decoder decoder = {0};
    const cdp_audit_record *record = NULL;
    cdp_buf forged = {0};
    uint8_t raw[4096];
    size_t raw_len = 0;
    char *leaf_start = strstr(lines[at], "\"leaf\":\"") + 8;
    char *leaf_end = strchr(leaf_start, '"');
    cr_assert_eq(sodium_base642bin(raw, sizeof raw, leaf_start, (size_t)(leaf_end - leaf_start),
                                   NULL, &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL),
                 0);
    cr_assert_eq(cdp_audit_decode(&decoder, raw, raw_len, &record, NULL), CDP_OK);
    uint8_t profile[16];
    cdp_audit_entry entry = entry_for(17, profile, 1, record->time_ms);
    entry.decision = CDP_AUDIT_ALLOW;
    entry.reason = NULL;
    entry.operation = "profile.read";
    cr_assert_eq(cdp_audit_record_encode(17, record->time_ms, "eu", &entry, &forged, NULL), CDP_OK);
    const cdp_audit_record *forged_record = NULL;
    cdp_audit_decoder forged_decoder = {0};
    cr_assert_eq(cdp_audit_decode(&forged_decoder, forged.data, forged.len, &forged_record, NULL),
                 CDP_OK);
    json_t *fields = cdp_audit_record_json(forged_record);
    char leaf64[4096];
    sodium_bin2base64(leaf64, sizeof leaf64, forged.data, forged.len,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *forged_line = json_pack("{s:s, s:I, s:s, s:o, s:[]}", "type", "record", "seq",
                                    (json_int_t)17, "leaf", leaf64, "record", fields, "proof");
    char *forged_text = json_dumps(forged_line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *original = lines[at];
    lines[at] = forged_text;
    size_t checkpoint_line = at + 1;
    while (strncmp(lines[checkpoint_line], "{\"type\":\"checkpoint\"", 20) != 0)
        checkpoint_line++;
    assert_fails_at(lines, count, key, checkpoint_line + 1, -1, "forged record");
    lines[at] = original;
    free(forged_text);
    json_decref(forged_line);
    cdp_buf_free(&forged);
    cdp_audit_decoder_clear(&decoder);
    cdp_audit_decoder_clear(&forged_decoder);

    /* Every single flipped byte of the file fails. */
    write_lines(cut, lines, count);
    bytes = test_read_file(cut, &len);
    for (size_t i = 0; i < len; i += 7) {
        uint8_t old = bytes[i];
        bytes[i] ^= 0x04;
        const char *flipped = path_in_base("flip.jsonl");
        test_write_file(flipped, bytes, len, 0644);
        cr_assert_neq(verify_path(flipped, key, NULL, NULL), CDP_OK, "flip at byte %zu", i);
        bytes[i] = old;
    }
    free(bytes);
    free(fewer);
    free(lines[0]);
    free(lines);
    cdp_audit_log_close(log);
}

Test(audit_export, avro_tampering_and_truncation_fail, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(20);
    append_many(log, 60, 4, 0);
    uint8_t key[32];
    public_key(log, key);
    const char *avro = path_in_base("t.avro");
    export_to(log, NULL, CDP_AUDIT_FORMAT_AVRO, avro, NULL);
    size_t len = 0;
    uint8_t *bytes = test_read_file(avro, &len);
    const char *changed = path_in_base("changed.avro");
    for (size_t i = 0; i < len; i += len / 97 + 1) {
        uint8_t old = bytes[i];
        bytes[i] ^= 0x01;
        test_write_file(changed, bytes, len, 0644);
        cr_assert_neq(verify_path(changed, key, NULL, NULL), CDP_OK, "flip at byte %zu", i);
        bytes[i] = old;
    }
    test_write_file(changed, bytes, len - 40, 0644);
    cr_assert_neq(verify_path(changed, key, NULL, NULL), CDP_OK, "cut tail");
    free(bytes);
    cdp_audit_log_close(log);
}

Test(audit_export, a_wrong_key_fails_verification, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(20);
    append_many(log, 30, 4, 0);
    const char *jsonl = path_in_base("k.jsonl");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    uint8_t other_public[32], other_secret[64];
    crypto_sign_keypair(other_public, other_secret);
    cdp_audit_verify_report report;
    cdp_err err = {0};
    cr_assert_eq(verify_path(jsonl, other_public, &report, &err), CDP_CRYPTO);
    cr_assert_eq(report.line, 1);
    cr_assert_neq(strstr(err.message, "not signed by the given public key"), NULL, "%s",
                  err.message);

    /* A checkpoint re-signed by another key (listed nowhere) fails at its line. */
    size_t count = 0;
    char **lines = read_lines(jsonl, &count);
    uint8_t key[32];
    public_key(log, key);
    for (size_t i = 0; i < count; i++) {
        if (strncmp(lines[i], "{\"type\":\"checkpoint\"", 20) != 0)
            continue;
        json_t *line = json_loads(lines[i], 0, NULL);
        const char *note = json_string_value(json_object_get(line, "note"));
        char text[512], resigned[CDP_NOTE_MAX];
        size_t text_len = 0;
        cr_assert_eq(cdp_note_text_length(note, strlen(note), &text_len, NULL), CDP_OK);
        memcpy(text, note, text_len);
        text[text_len] = '\0';
        cr_assert_eq(cdp_note_sign(text, "cdp.audit/eu", other_secret, other_public, resigned,
                                   sizeof resigned, NULL),
                     CDP_OK);
        json_object_set_new(line, "note", json_string(resigned));
        char *saved = lines[i];
        lines[i] = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_fails_at(lines, count, key, i + 1, -1, "checkpoint signed by another key");
        free(lines[i]);
        lines[i] = saved;
        json_decref(line);
        break;
    }
    free(lines[0]);
    free(lines);
    cdp_audit_log_close(log);
}

Test(audit_export, filtered_exports_carry_proofs_and_verify, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log(25);
    append_many(log, 200, 7, 1700000000000);
    uint8_t key[32], profile[16];
    public_key(log, key);
    const char *path = path_in_base("f.jsonl");
    cdp_audit_filter filter;
    cdp_audit_export_stats stats;
    cdp_audit_verify_report report;

    cdp_audit_filter_init(&filter);
    profile_of(profile, 4);
    filter.profile_id = profile;
    export_to(log, &filter, CDP_AUDIT_FORMAT_JSONL, path, &stats);
    cr_assert(stats.filtered);
    cr_assert_eq(stats.records, 28); /* 4, 11, ..., 193 */
    assert_verifies(path, key, &report);
    cr_assert_str_eq(report.mode, "filtered");
    cr_assert_eq(report.records, 28);
    export_to(log, &filter, CDP_AUDIT_FORMAT_AVRO, path_in_base("f.avro"), &stats);
    assert_verifies(path_in_base("f.avro"), key, &report);

    /* One record deleted from a filtered export: the seal catches it. */
    size_t count = 0;
    char **lines = read_lines(path, &count);
    size_t at = line_of_seq(lines, count, 53);
    char **fewer = malloc(count * sizeof *fewer);
    memcpy(fewer, lines, at * sizeof *fewer);
    memcpy(fewer + at, lines + at + 1, (count - at - 1) * sizeof *fewer);
    assert_fails_at(fewer, count - 1, key, count - 1, -2, "record deleted from a filtered export");
    free(fewer);
    free(lines[0]);
    free(lines);

    cdp_audit_filter_init(&filter);
    filter.operation = "dsr.erase";
    filter.decision = CDP_AUDIT_DENY;
    export_to(log, &filter, CDP_AUDIT_FORMAT_JSONL, path, &stats);
    cr_assert_gt(stats.records, 0);
    assert_verifies(path, key, &report);

    cdp_audit_filter_init(&filter);
    filter.actor_key_id = "k_dpo7";
    filter.from_ms = 1700000000050;
    filter.to_ms = 1700000000120;
    export_to(log, &filter, CDP_AUDIT_FORMAT_JSONL, path, &stats);
    cr_assert_eq(stats.first_seq, 50);
    cr_assert_eq(stats.end_seq, 121);
    cr_assert_eq(stats.records, 24); /* multiples of 3 in 50..120 */
    assert_verifies(path, key, &report);

    /* A time range alone is a contiguous range: recomputed from its start frontier. */
    cdp_audit_filter_init(&filter);
    filter.from_ms = 1700000000033;
    filter.to_ms = 1700000000177;
    export_to(log, &filter, CDP_AUDIT_FORMAT_AVRO, path_in_base("r.avro"), &stats);
    cr_assert_not(stats.filtered);
    cr_assert_eq(stats.records, 145);
    assert_verifies(path_in_base("r.avro"), key, &report);
    cr_assert_str_eq(report.mode, "range");

    cdp_audit_filter_init(&filter);
    filter.actor_key_id = "alice@example.com";
    cdp_err err = {0};
    FILE *out = fopen(path, "wb");
    cr_assert_eq(cdp_audit_export_file(log, &filter, CDP_AUDIT_FORMAT_JSONL, out, NULL, &err),
                 CDP_BAD_REQUEST);
    fclose(out);
    cdp_audit_log_close(log);
}

/* The personal data of this test never reaches the log API: its fields cannot carry it. */
Test(audit_export, exports_hold_no_personal_data, .init = setup, .fini = teardown) {
    static const char *const people[][3] = {
        {"alice.martin@example.com", "+4722334455", "Alice Martin"},
        {"bob.dupont@example.org", "+33612345678", "Bob Dupont"},
    };
    cdp_audit_log *log = open_log(10);
    for (unsigned person = 0; person < 2; person++) {
        /* What the enforcement point has: a pseudonymous id for the person. */
        uint8_t profile[16];
        for (int i = 0; i < 20; i++) {
            cdp_audit_entry entry = entry_for((uint64_t)i, profile, (int)person, 0);
            cr_assert_eq(cdp_audit_write(log, NULL, &entry, 1, 0, NULL, NULL), CDP_OK);
        }
        /* And had it tried to pass one of the identifiers, it would have been refused. */
        cdp_audit_entry entry = entry_for(0, profile, (int)person, 0);
        entry.request_id = people[person][0];
        cr_assert_eq(cdp_audit_write(log, NULL, &entry, 1, 0, NULL, NULL), CDP_BAD_REQUEST);
    }
    const char *jsonl = path_in_base("p.jsonl"), *avro = path_in_base("p.avro");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    export_to(log, NULL, CDP_AUDIT_FORMAT_AVRO, avro, NULL);
    size_t len = 0;
    char *text = (char *)test_read_file(jsonl, &len);
    text = realloc(text, len + 1);
    text[len] = '\0';
    cr_assert_null(strchr(text, '@'), "an e-mail-looking string in the export");
    free(text);
    for (unsigned person = 0; person < 2; person++)
        for (int k = 0; k < 3; k++) {
            const char *needle = people[person][k];
            cr_assert_eq(test_scan_tree(base, (const uint8_t *)needle, strlen(needle), NULL, 0), 0,
                         "%s found under %s", needle, base);
        }
    cdp_audit_log_close(log);
}

/* ---- concurrency, retention, rotation, failures ------------------------------------------- */

typedef struct writer_args {
    cdp_audit_log *log;
    int thread;
    int failures;
} writer_args;

static void *writer_thread(void *context) {
    writer_args *args = context;
    for (int i = 0; i < 2000; i++) {
        uint8_t profile[16];
        cdp_audit_entry entry = entry_for((uint64_t)i, profile, args->thread * 100 + i % 10, 0);
        if (cdp_audit_write(args->log, NULL, &entry, 1, 0, NULL, NULL) != CDP_OK)
            args->failures++;
    }
    return NULL;
}

Test(audit_log, four_threads_appending_keep_one_valid_tree, .init = setup, .fini = teardown,
     .timeout = 300) {
    cdp_audit_log *log = open_log(1000);
    pthread_t threads[4];
    writer_args args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (writer_args){log, t, 0};
        pthread_create(&threads[t], NULL, writer_thread, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        cr_assert_eq(args[t].failures, 0);
    }
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, 8000);
    uint8_t key[32];
    public_key(log, key);
    const char *jsonl = path_in_base("threads.jsonl");
    cdp_audit_export_stats stats;
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    cr_assert_eq(stats.checkpoints, 8);
    cdp_audit_verify_report report;
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.records, 8000);
    listing list = {.count = 0};
    profile_of(list.profile, 205);
    cr_assert_eq(cdp_audit_list_person(log, list.profile, collect, &list, NULL), CDP_OK);
    cr_assert_eq(list.count, 200);
    cdp_audit_log_close(log);
}

Test(audit_log, retention_removes_signed_segments_and_verify_still_passes, .init = setup,
     .fini = teardown) {
    cdp_audit_log *log = open_log(1000);
    append_many(log, 3500, 10, 1700000000000);
    uint8_t key[32];
    public_key(log, key);
    uint64_t start = 0;
    cdp_err err = {0};
    /* Records before 2500 are old enough: whole segments go, up to the checkpoint at 2000. */
    cr_assert_eq(cdp_audit_retain(log, 1700000002500, &start, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(start, 2000);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.start, 2000);
    cr_assert_eq(info.tree_size, 3500);

    uint8_t proof[CDP_AUDIT_MAX_PROOF][32];
    size_t count = 0;
    cr_assert_eq(cdp_audit_inclusion_proof(log, 1999, 0, proof, &count, &err), CDP_NOT_FOUND);
    cr_assert_eq(cdp_audit_inclusion_proof(log, 2000, 0, proof, &count, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(cdp_audit_inclusion_proof(log, 3499, 0, proof, &count, &err), CDP_OK);
    cdp_audit_checkpoint anchor, now;
    cr_assert_eq(cdp_audit_checkpoint_get(log, 2000, &anchor, &err), CDP_OK);
    cr_assert_eq(cdp_audit_checkpoint_get(log, 1000, &anchor, &err), CDP_NOT_FOUND);
    cr_assert_eq(cdp_audit_checkpoint_get(log, 2000, &anchor, &err), CDP_OK);
    cr_assert_eq(cdp_audit_checkpoint_now(log, &now, &err), CDP_OK);
    cr_assert_eq(cdp_audit_consistency_proof(log, 2000, 3500, proof, &count, &err), CDP_OK, "%s",
                 err.message);
    cr_assert(cdp_merkle_verify_consistency(2000, 3500, anchor.root, now.root,
                                            (const uint8_t(*)[32])proof, count));

    listing list = {.count = 0};
    profile_of(list.profile, 3);
    cr_assert_eq(cdp_audit_list_person(log, list.profile, collect, &list, &err), CDP_OK);
    cr_assert_eq(list.count, 150);
    cr_assert_eq(list.seqs[0], 2003);

    const char *jsonl = path_in_base("kept.jsonl"), *avro = path_in_base("kept.avro");
    cdp_audit_export_stats stats;
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    cr_assert_eq(stats.first_seq, 2000);
    cr_assert_eq(stats.records, 1500);
    cdp_audit_verify_report report;
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.first_seq, 2000);
    export_to(log, NULL, CDP_AUDIT_FORMAT_AVRO, avro, &stats);
    assert_verifies(avro, key, &report);
    cdp_audit_filter filter;
    cdp_audit_filter_init(&filter);
    filter.profile_id = list.profile;
    export_to(log, &filter, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    cr_assert_eq(stats.records, 150);
    assert_verifies(jsonl, key, &report);

    /* Retention again is a no-op; after a reopen everything still holds. */
    cr_assert_eq(cdp_audit_retain(log, 1700000002500, &start, &err), CDP_OK);
    cr_assert_eq(start, 2000);
    cdp_audit_log_close(log);
    log = open_log(1000);
    append_many(log, 10, 10, 0);
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, &stats);
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.records, 1510);
    cdp_audit_log_close(log);
}

Test(audit_log, key_rotation_cosigns_and_exports_verify_with_the_new_key, .init = setup,
     .fini = teardown) {
    cdp_audit_log *log = open_log(10);
    append_many(log, 25, 3, 0);
    uint8_t old_key[32], new_key[32];
    public_key(log, old_key);
    cdp_audit_checkpoint checkpoint;
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_checkpoint_now(log, &checkpoint, &err), CDP_OK);
    uint32_t epoch = 0;
    cr_assert_eq(cdp_keystore_begin_epoch(keystore, "eu", &epoch, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_keystore_destroy_epoch(keystore, "eu", 1, &err), CDP_OK, "%s", err.message);
    public_key(log, new_key);
    cr_assert_neq(memcmp(old_key, new_key, 32), 0);
    /* The checkpoint of 25 gets the new key's signature beside the old one. */
    cr_assert_eq(cdp_audit_checkpoint_now(log, &checkpoint, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(checkpoint.tree_size, 25);
    cr_assert_eq(
        cdp_note_verify(checkpoint.note, strlen(checkpoint.note), "cdp.audit/eu", old_key, &err),
        CDP_OK);
    cr_assert_eq(
        cdp_note_verify(checkpoint.note, strlen(checkpoint.note), "cdp.audit/eu", new_key, &err),
        CDP_OK);
    append_many(log, 10, 3, 0);
    const char *jsonl = path_in_base("rot.jsonl");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    cdp_audit_verify_report report;
    assert_verifies(jsonl, new_key, &report);
    cr_assert_eq(report.checkpoints, 4); /* 10, 20 (old key), 25 (both), 35 (new) */
    cr_assert_eq(verify_path(jsonl, old_key, &report, &err), CDP_CRYPTO);
    cdp_audit_log_close(log);
}

Test(audit_log, allocation_failures_leave_a_consistent_log, .init = setup, .fini = teardown,
     .timeout = 300) {
    cdp_audit_log *log = open_log(3);
    uint64_t appended = 0;
    int failures = 0;
    FILE *sink = fopen("/dev/null", "w");
    for (long fail_after = 0; fail_after < 60; fail_after++) {
        size_t count = (size_t)(fail_after % 9) * 7 + 1; /* growing batches reallocate */
        cdp_audit_entry entries[64];
        uint8_t profiles[64][16];
        for (size_t i = 0; i < count; i++)
            entries[i] = entry_for(appended + i, profiles[i], (int)(i % 5), 0);
        cdp_batch *batch = fail_after % 2 ? cdp_batch_new() : NULL;
        const uint8_t key[] = "data";
        if (batch != NULL)
            cdp_batch_put(batch, region, CDP_CF_CONSENT, key, sizeof key, key, sizeof key);
        uint64_t first = 0;
        cdp_alloc_fail_after(fail_after / 6);
        cdp_status status = cdp_audit_write(log, batch, entries, count, 0, &first, NULL);
        cdp_status checkpoint_status = cdp_audit_checkpoint_now(log, NULL, NULL);
        cdp_status export_status =
            cdp_audit_export_file(log, NULL, CDP_AUDIT_FORMAT_JSONL, sink, NULL, NULL);
        cdp_alloc_fail_reset();
        (void)checkpoint_status;
        (void)export_status;
        cdp_batch_free(batch);
        if (status == CDP_OK) {
            cr_assert_eq(first, appended, "a seq was skipped or reused");
            appended += count;
        } else {
            cr_assert_eq(status, CDP_NOMEM);
            failures++;
        }
        cdp_audit_info info;
        cdp_audit_log_info(log, &info);
        cr_assert_eq(info.tree_size, appended);
    }
    fclose(sink);
    cr_assert_gt(failures, 0, "no allocation failed: the loop proves nothing");
    cdp_audit_log_close(log);
    log = open_log(3);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, appended);
    uint8_t key[32];
    public_key(log, key);
    const char *jsonl = path_in_base("oom.jsonl");
    export_to(log, NULL, CDP_AUDIT_FORMAT_JSONL, jsonl, NULL);
    cdp_audit_verify_report report;
    assert_verifies(jsonl, key, &report);
    cr_assert_eq(report.records, appended);
    cdp_audit_log_close(log);
}
