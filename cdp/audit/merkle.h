/* RFC 6962 Merkle trees for the audit log: leaf hash SHA-256(0x00 || leaf), node hash
 * SHA-256(0x01 || left || right); the compact range ("frontier") of a tree, which lets the log
 * append in O(log n) without reading old leaves; proof generation over a source of subtree
 * hashes; and proof verification as RFC 9162 §2.1.3.2 and §2.1.4.2 state it.
 * Pure functions over caller memory; thread-safe. */
#ifndef CDP_AUDIT_MERKLE_H
#define CDP_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_MERKLE_HASH_BYTES 32
/* A tree of at most 2^64 - 1 leaves: frontiers and proofs never hold more hashes than this. */
#define CDP_MERKLE_MAX_HASHES 64

/* SHA-256(0x00 || leaf). */
void cdp_merkle_leaf_hash(uint8_t out[CDP_MERKLE_HASH_BYTES], const uint8_t *leaf, size_t len);
/* SHA-256(0x01 || left || right). out may alias left or right. */
void cdp_merkle_node_hash(uint8_t out[CDP_MERKLE_HASH_BYTES],
                          const uint8_t left[CDP_MERKLE_HASH_BYTES],
                          const uint8_t right[CDP_MERKLE_HASH_BYTES]);
/* The root of the empty tree: SHA-256 of nothing. */
void cdp_merkle_empty_root(uint8_t out[CDP_MERKLE_HASH_BYTES]);

/* The compact range [0, size): the roots of the perfect subtrees that the binary digits of size
 * cut the tree into, largest (leftmost) first; popcount(size) of them. */
typedef struct cdp_merkle_frontier {
    uint64_t size;
    size_t count;
    uint8_t hashes[CDP_MERKLE_MAX_HASHES][CDP_MERKLE_HASH_BYTES];
} cdp_merkle_frontier;

/* A perfect subtree: level 0 is a leaf; (level, index) covers leaves
 * [index * 2^level, (index + 1) * 2^level). */
typedef struct cdp_merkle_node {
    unsigned level;
    uint64_t index;
    uint8_t hash[CDP_MERKLE_HASH_BYTES];
} cdp_merkle_node;

void cdp_merkle_frontier_init(cdp_merkle_frontier *frontier); /* the empty tree */
/* Appends a leaf (its hash). Writes the perfect subtrees of level >= 1 that this leaf completes
 * into completed (at most 63) and returns how many. CDP_MISUSE (frontier unchanged) when full. */
cdp_status cdp_merkle_frontier_append(cdp_merkle_frontier *frontier,
                                      const uint8_t leaf_hash[CDP_MERKLE_HASH_BYTES],
                                      cdp_merkle_node completed[CDP_MERKLE_MAX_HASHES],
                                      size_t *completed_count);
/* The tree head MTH(D[0:size]). */
void cdp_merkle_frontier_root(const cdp_merkle_frontier *frontier,
                              uint8_t out[CDP_MERKLE_HASH_BYTES]);
/* 1 when count is popcount(size), else 0 (a frontier read from untrusted bytes). */
int cdp_merkle_frontier_well_formed(const cdp_merkle_frontier *frontier);

/* Where proofs get subtree hashes: the hash of the perfect subtree (level, index), or an error
 * (CDP_NOT_FOUND when the log no longer holds it). */
typedef cdp_status (*cdp_merkle_node_source)(void *context, unsigned level, uint64_t index,
                                             uint8_t out[CDP_MERKLE_HASH_BYTES], cdp_err *err);

/* MTH(D[begin:end]) for a range that starts at a multiple of the largest power of two not above
 * its length (every subtree of an RFC 6962 tree does), from ceil(log2) source reads. */
cdp_status cdp_merkle_range_hash(cdp_merkle_node_source source, void *context, uint64_t begin,
                                 uint64_t end, uint8_t out[CDP_MERKLE_HASH_BYTES], cdp_err *err);
/* The compact range [0, size) from the source. */
cdp_status cdp_merkle_frontier_at(cdp_merkle_node_source source, void *context, uint64_t size,
                                  cdp_merkle_frontier *out, cdp_err *err);
/* RFC 6962 §2.1.1 PATH(index, D[0:size]), leaf side first. CDP_MISUSE unless index < size. */
cdp_status cdp_merkle_inclusion_proof(cdp_merkle_node_source source, void *context, uint64_t index,
                                      uint64_t size,
                                      uint8_t proof[CDP_MERKLE_MAX_HASHES][CDP_MERKLE_HASH_BYTES],
                                      size_t *count, cdp_err *err);
/* RFC 6962 §2.1.2 PROOF(size1, D[0:size2]). CDP_MISUSE unless size1 <= size2. Empty when
 * size1 is 0 or equals size2. */
cdp_status cdp_merkle_consistency_proof(cdp_merkle_node_source source, void *context,
                                        uint64_t size1, uint64_t size2,
                                        uint8_t proof[CDP_MERKLE_MAX_HASHES][CDP_MERKLE_HASH_BYTES],
                                        size_t *count, cdp_err *err);

/* 1 when proof shows leaf_hash at index in the tree of size with this root, else 0. */
int cdp_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                const uint8_t leaf_hash[CDP_MERKLE_HASH_BYTES],
                                const uint8_t (*proof)[CDP_MERKLE_HASH_BYTES], size_t count,
                                const uint8_t root[CDP_MERKLE_HASH_BYTES]);
/* 1 when proof shows the tree (size2, root2) extends the tree (size1, root1), else 0. */
int cdp_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                  const uint8_t root1[CDP_MERKLE_HASH_BYTES],
                                  const uint8_t root2[CDP_MERKLE_HASH_BYTES],
                                  const uint8_t (*proof)[CDP_MERKLE_HASH_BYTES], size_t count);

#endif
