/* Checkpoints of the audit log: C2SP tlog-checkpoint bodies ("<origin>\n<tree size>\n<base64
 * root hash>\n", origin "cdp.audit/<region>") carried in C2SP signed notes signed with the
 * region's Ed25519 audit key ("— <key name> base64(key ID || signature)", key ID the first four
 * bytes of SHA-256(key name || 0x0A || 0x01 || public key)). The key name is the origin, so any
 * C2SP note verifier (Go's golang.org/x/mod/sumdb/note, transparency-dev tooling) accepts them
 * given the public key. Pure functions; thread-safe. */
#ifndef CDP_AUDIT_CHECKPOINT_H
#define CDP_AUDIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_CHECKPOINT_ORIGIN_PREFIX "cdp.audit/"
#define CDP_CHECKPOINT_ORIGIN_MAX 64
/* A note we write or accept: a few hundred bytes per signature; key rotations add cosignatures. */
#define CDP_NOTE_MAX 4096
#define CDP_NOTE_MAX_SIGNATURES 16
#define CDP_NOTE_SIGNATURE_TYPE_ED25519 0x01

/* The origin (and key name) of a region's log: "cdp.audit/<region>". */
cdp_status cdp_checkpoint_origin(char out[CDP_CHECKPOINT_ORIGIN_MAX + 1], const char *region,
                                 cdp_err *err);

/* SHA-256(key_name || 0x0A || 0x01 || public_key)[:4], big-endian. */
uint32_t cdp_note_key_id(const char *key_name, const uint8_t public_key[32]);

typedef struct cdp_checkpoint_body {
    char origin[CDP_CHECKPOINT_ORIGIN_MAX + 1];
    uint64_t tree_size;
    uint8_t root[32];
} cdp_checkpoint_body;

/* Writes the checkpoint text (NUL-terminated) into out. */
cdp_status cdp_checkpoint_format(char *out, size_t cap, const char *origin, uint64_t tree_size,
                                 const uint8_t root[32], cdp_err *err);
/* Parses the text of a note as a checkpoint: origin line, decimal size without leading zeros,
 * base64 of exactly 32 bytes; extension lines after them are allowed and ignored, as the spec
 * says. CDP_CORRUPT naming the line otherwise. */
cdp_status cdp_checkpoint_parse(const char *text, size_t len, cdp_checkpoint_body *out,
                                cdp_err *err);

/* Signs text (which must end in a newline) and writes the signed note, NUL-terminated, to out:
 * text, a blank line, one signature line. */
cdp_status cdp_note_sign(const char *text, const char *key_name, const uint8_t secret_key[64],
                         const uint8_t public_key[32], char *out, size_t cap, cdp_err *err);
/* Adds a signature line by this key to the signed note in note (NUL-terminated, cap bytes),
 * unless the key signed it already (then CDP_OK, unchanged). */
cdp_status cdp_note_cosign(char *note, size_t cap, const char *key_name,
                           const uint8_t secret_key[64], const uint8_t public_key[32],
                           cdp_err *err);
/* Checks the shape of a signed note (UTF-8, no control characters but newlines, text, blank
 * line, 1..16 well-formed signature lines) and gives the length of its text (with the text's
 * final newline). CDP_CORRUPT otherwise. */
cdp_status cdp_note_text_length(const char *note, size_t len, size_t *text_len, cdp_err *err);
/* CDP_OK when the note carries a valid signature by (key_name, public_key); CDP_NOT_FOUND when
 * no signature line names this key (name and key ID); CDP_CRYPTO when one does and fails;
 * CDP_CORRUPT when the note is malformed. */
cdp_status cdp_note_verify(const char *note, size_t len, const char *key_name,
                           const uint8_t public_key[32], cdp_err *err);

/* Standard base64 (RFC 4648 §4) of 32 bytes: 44 characters and a NUL. */
void cdp_audit_base64_hash(char out[45], const uint8_t hash[32]);
/* Decodes strict standard base64 of exactly out_len bytes; 0 on success, -1 otherwise. */
int cdp_audit_base64_decode(uint8_t *out, size_t out_len, const char *text, size_t text_len);

#endif
