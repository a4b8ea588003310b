/* RFC 6962 Merkle tree hashing, compact ranges, proof generation and verification. */
#include "audit/merkle.h"

#include <sodium.h>
#include <string.h>

static const uint8_t leaf_prefix = 0x00;
static const uint8_t node_prefix = 0x01;

void cdp_merkle_leaf_hash(uint8_t out[CDP_MERKLE_HASH_BYTES], const uint8_t *leaf, size_t len) {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, &leaf_prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&state, leaf, len);
    crypto_hash_sha256_final(&state, out);
}

void cdp_merkle_node_hash(uint8_t out[CDP_MERKLE_HASH_BYTES],
                          const uint8_t left[CDP_MERKLE_HASH_BYTES],
                          const uint8_t right[CDP_MERKLE_HASH_BYTES]) {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, &node_prefix, 1);
    crypto_hash_sha256_update(&state, left, CDP_MERKLE_HASH_BYTES);
    crypto_hash_sha256_update(&state, right, CDP_MERKLE_HASH_BYTES);
    crypto_hash_sha256_final(&state, out); /* the state holds copies: out may alias */
}

void cdp_merkle_empty_root(uint8_t out[CDP_MERKLE_HASH_BYTES]) { crypto_hash_sha256(out, NULL, 0); }

/* ---- compact ranges --------------------------------------------------------------------- */

void cdp_merkle_frontier_init(cdp_merkle_frontier *frontier) {
    frontier->size = 0;
    frontier->count = 0;
}

cdp_status cdp_merkle_frontier_append(cdp_merkle_frontier *frontier,
                                      const uint8_t leaf_hash[CDP_MERKLE_HASH_BYTES],
                                      cdp_merkle_node completed[CDP_MERKLE_MAX_HASHES],
                                      size_t *completed_count) {
    *completed_count = 0;
    if (frontier->size == UINT64_MAX)
        return CDP_MISUSE;
    uint64_t index = frontier->size; /* the new leaf's */
    uint8_t hash[CDP_MERKLE_HASH_BYTES];
    memcpy(hash, leaf_hash, sizeof hash);
    /* Each set low bit of the old size is a perfect subtree the new leaf's side now matches. */
    unsigned level = 0;
    while ((index >> level) & 1) {
        cdp_merkle_node_hash(hash, frontier->hashes[frontier->count - 1], hash);
        frontier->count--;
        level++;
        cdp_merkle_node *node = &completed[(*completed_count)++];
        node->level = level;
        node->index = ((index + 1) >> level) - 1;
        memcpy(node->hash, hash, sizeof hash);
    }
    memcpy(frontier->hashes[frontier->count++], hash, sizeof hash);
    frontier->size++;
    return CDP_OK;
}

void cdp_merkle_frontier_root(const cdp_merkle_frontier *frontier,
                              uint8_t out[CDP_MERKLE_HASH_BYTES]) {
    if (frontier->count == 0) {
        cdp_merkle_empty_root(out);
        return;
    }
    uint8_t hash[CDP_MERKLE_HASH_BYTES];
    memcpy(hash, frontier->hashes[frontier->count - 1], sizeof hash);
    for (size_t i = frontier->count - 1; i-- > 0;)
        cdp_merkle_node_hash(hash, frontier->hashes[i], hash);
    memcpy(out, hash, sizeof hash);
}

int cdp_merkle_frontier_well_formed(const cdp_merkle_frontier *frontier) {
    return frontier->count == (size_t)__builtin_popcountll(frontier->size);
}

/* ---- proofs ------------------------------------------------------------------------------ */

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n) { return UINT64_C(1) << (63 - __builtin_clzll(n - 1)); }

/* Reads the perfect subtrees that [begin, end) splits into, left to right. */
static cdp_status range_nodes(cdp_merkle_node_source source, void *context, uint64_t begin,
                              uint64_t end, uint8_t hashes[CDP_MERKLE_MAX_HASHES][32],
                              size_t *count, cdp_err *err) {
    *count = 0;
    if (end < begin)
        return cdp_err_set(err, CDP_MISUSE, "merkle: range [%llu, %llu) is reversed",
                           (unsigned long long)begin, (unsigned long long)end);
    uint64_t length = end - begin, position = begin;
    for (int bit = 63; bit >= 0; bit--) {
        uint64_t block = UINT64_C(1) << bit;
        if (!(length & block))
            continue;
        if (position & (block - 1))
            return cdp_err_set(err, CDP_MISUSE,
                               "merkle: range [%llu, %llu) is not a subtree of any tree",
                               (unsigned long long)begin, (unsigned long long)end);
        cdp_status status = source(context, (unsigned)bit, position >> bit, hashes[*count], err);
        if (status != CDP_OK)
            return status;
        (*count)++;
        position += block;
    }
    return CDP_OK;
}

cdp_status cdp_merkle_range_hash(cdp_merkle_node_source source, void *context, uint64_t begin,
                                 uint64_t end, uint8_t out[CDP_MERKLE_HASH_BYTES], cdp_err *err) {
    uint8_t hashes[CDP_MERKLE_MAX_HASHES][32];
    size_t count = 0;
    cdp_status status = range_nodes(source, context, begin, end, hashes, &count, err);
    if (status != CDP_OK)
        return status;
    if (count == 0) {
        cdp_merkle_empty_root(out);
        return CDP_OK;
    }
    /* MTH of an unbalanced range: its largest perfect subtree, then MTH of the rest. */
    for (size_t i = count - 1; i-- > 0;)
        cdp_merkle_node_hash(hashes[count - 1], hashes[i], hashes[count - 1]);
    memcpy(out, hashes[count - 1], CDP_MERKLE_HASH_BYTES);
    return CDP_OK;
}

cdp_status cdp_merkle_frontier_at(cdp_merkle_node_source source, void *context, uint64_t size,
                                  cdp_merkle_frontier *out, cdp_err *err) {
    cdp_merkle_frontier_init(out);
    cdp_status status = range_nodes(source, context, 0, size, out->hashes, &out->count, err);
    if (status == CDP_OK)
        out->size = size;
    else
        cdp_merkle_frontier_init(out);
    return status;
}

static void reverse_hashes(uint8_t proof[CDP_MERKLE_MAX_HASHES][32], size_t count) {
    uint8_t swap[32];
    for (size_t i = 0; i < count / 2; i++) {
        memcpy(swap, proof[i], 32);
        memcpy(proof[i], proof[count - 1 - i], 32);
        memcpy(proof[count - 1 - i], swap, 32);
    }
}

cdp_status cdp_merkle_inclusion_proof(cdp_merkle_node_source source, void *context, uint64_t index,
                                      uint64_t size,
                                      uint8_t proof[CDP_MERKLE_MAX_HASHES][CDP_MERKLE_HASH_BYTES],
                                      size_t *count, cdp_err *err) {
    *count = 0;
    if (index >= size)
        return cdp_err_set(err, CDP_MISUSE, "merkle: leaf %llu is not in a tree of %llu",
                           (unsigned long long)index, (unsigned long long)size);
    /* PATH(m, D[lo:hi]) from the top: each level adds the other side's MTH; the proof lists
     * them from the leaf up, so the list is reversed at the end. */
    uint64_t lo = 0, hi = size;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        cdp_status status;
        if (index < lo + k) {
            status = cdp_merkle_range_hash(source, context, lo + k, hi, proof[*count], err);
            hi = lo + k;
        } else {
            status = cdp_merkle_range_hash(source, context, lo, lo + k, proof[*count], err);
            lo = lo + k;
        }
        if (status != CDP_OK) {
            *count = 0;
            return status;
        }
        (*count)++;
    }
    reverse_hashes(proof, *count);
    return CDP_OK;
}

cdp_status cdp_merkle_consistency_proof(cdp_merkle_node_source source, void *context,
                                        uint64_t size1, uint64_t size2,
                                        uint8_t proof[CDP_MERKLE_MAX_HASHES][CDP_MERKLE_HASH_BYTES],
                                        size_t *count, cdp_err *err) {
    *count = 0;
    if (size1 > size2)
        return cdp_err_set(err, CDP_MISUSE, "merkle: no consistency proof from %llu back to %llu",
                           (unsigned long long)size1, (unsigned long long)size2);
    if (size1 == 0 || size1 == size2)
        return CDP_OK;
    /* SUBPROOF(m, D[lo:hi], b) of RFC 6962 §2.1.2, unrolled from the top. */
    uint64_t lo = 0, hi = size2;
    int whole = 1; /* b: the old tree is a whole subtree seen so far */
    cdp_status status = CDP_OK;
    for (;;) {
        if (size1 == hi) {
            if (!whole)
                status = cdp_merkle_range_hash(source, context, lo, hi, proof[(*count)++], err);
            break;
        }
        uint64_t k = split_point(hi - lo);
        if (size1 <= lo + k) {
            status = cdp_merkle_range_hash(source, context, lo + k, hi, proof[(*count)++], err);
            hi = lo + k;
        } else {
            status = cdp_merkle_range_hash(source, context, lo, lo + k, proof[(*count)++], err);
            lo = lo + k;
            whole = 0;
        }
        if (status != CDP_OK)
            break;
    }
    if (status != CDP_OK) {
        *count = 0;
        return status;
    }
    reverse_hashes(proof, *count);
    return CDP_OK;
}

/* ---- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ----------------------------------------- */

int cdp_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                const uint8_t leaf_hash[CDP_MERKLE_HASH_BYTES],
                                const uint8_t (*proof)[CDP_MERKLE_HASH_BYTES], size_t count,
                                const uint8_t root[CDP_MERKLE_HASH_BYTES]) {
    if (index >= size || count > CDP_MERKLE_MAX_HASHES)
        return 0;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, 32);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            cdp_merkle_node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cdp_merkle_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, 32) == 0;
}

int cdp_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                  const uint8_t root1[CDP_MERKLE_HASH_BYTES],
                                  const uint8_t root2[CDP_MERKLE_HASH_BYTES],
                                  const uint8_t (*proof)[CDP_MERKLE_HASH_BYTES], size_t count) {
    if (size1 > size2 || count > CDP_MERKLE_MAX_HASHES)
        return 0;
    if (size1 == size2)
        return count == 0 && memcmp(root1, root2, 32) == 0;
    if (size1 == 0)
        return count == 0;
    if (count == 0)
        return 0;
    /* When the old tree is a perfect subtree, its root is the path's implicit first element. */
    int seeded = (size1 & (size1 - 1)) == 0;
    size_t total = count + (size_t)seeded;
#define PATH_AT(i) (seeded ? ((i) == 0 ? root1 : proof[(i)-1]) : proof[(i)])
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, PATH_AT(0), 32);
    memcpy(sr, PATH_AT(0), 32);
    for (size_t i = 1; i < total; i++) {
        const uint8_t *c = PATH_AT(i);
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            cdp_merkle_node_hash(fr, c, fr);
            cdp_merkle_node_hash(sr, c, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cdp_merkle_node_hash(sr, sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
#undef PATH_AT
    return sn == 0 && memcmp(fr, root1, 32) == 0 && memcmp(sr, root2, 32) == 0;
}
