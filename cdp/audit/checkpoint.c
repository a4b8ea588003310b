/* C2SP tlog-checkpoint texts and C2SP signed notes with Ed25519 (c2sp.org/tlog-checkpoint,
 * c2sp.org/signed-note). */
#include "audit/checkpoint.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/bytes.h"

/* U+2014 EM DASH and a space open every signature line. */
static const char signature_mark[] = "\xe2\x80\x94 ";
#define SIGNATURE_MARK_LEN 4

cdp_status cdp_checkpoint_origin(char out[CDP_CHECKPOINT_ORIGIN_MAX + 1], const char *region,
                                 cdp_err *err) {
    size_t len = region ? strlen(region) : 0;
    if (len == 0 || len + strlen(CDP_CHECKPOINT_ORIGIN_PREFIX) > CDP_CHECKPOINT_ORIGIN_MAX)
        return cdp_err_set(err, CDP_MISUSE, "audit: region name \"%s\" is empty or too long",
                           region ? region : "");
    for (size_t i = 0; i < len; i++)
        if (!((region[i] >= 'a' && region[i] <= 'z') || (region[i] >= '0' && region[i] <= '9') ||
              region[i] == '_' || region[i] == '-'))
            return cdp_err_set(err, CDP_MISUSE, "audit: region name \"%s\" is not [a-z0-9_-]",
                               region);
    snprintf(out, CDP_CHECKPOINT_ORIGIN_MAX + 1, "%s%s", CDP_CHECKPOINT_ORIGIN_PREFIX, region);
    return CDP_OK;
}

uint32_t cdp_note_key_id(const char *key_name, const uint8_t public_key[32]) {
    static const uint8_t separator[2] = {0x0a, CDP_NOTE_SIGNATURE_TYPE_ED25519};
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, (const uint8_t *)key_name, strlen(key_name));
    crypto_hash_sha256_update(&state, separator, sizeof separator);
    crypto_hash_sha256_update(&state, public_key, 32);
    crypto_hash_sha256_final(&state, digest);
    return cdp_load_be32(digest);
}

void cdp_audit_base64_hash(char out[45], const uint8_t hash[32]) {
    sodium_bin2base64(out, 45, hash, 32, sodium_base64_VARIANT_ORIGINAL);
}

int cdp_audit_base64_decode(uint8_t *out, size_t out_len, const char *text, size_t text_len) {
    size_t decoded = 0;
    const char *end = NULL;
    /* sodium stops at the first character it cannot take; a trailing one means garbage. */
    if (sodium_base642bin(out, out_len, text, text_len, NULL, &decoded, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return (decoded == out_len && end == text + text_len) ? 0 : -1;
}

cdp_status cdp_checkpoint_format(char *out, size_t cap, const char *origin, uint64_t tree_size,
                                 const uint8_t root[32], cdp_err *err) {
    char root64[45];
    cdp_audit_base64_hash(root64, root);
    int written = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", origin, tree_size, root64);
    if (written < 0 || (size_t)written >= cap)
        return cdp_err_set(err, CDP_MISUSE, "checkpoint: %zu bytes is too small", cap);
    return CDP_OK;
}

/* The next line of [*cursor, end) without its newline; -1 when no newline is left. */
static int next_line(const char **cursor, const char *end, const char **line, size_t *len) {
    const char *newline = memchr(*cursor, '\n', (size_t)(end - *cursor));
    if (newline == NULL)
        return -1;
    *line = *cursor;
    *len = (size_t)(newline - *cursor);
    *cursor = newline + 1;
    return 0;
}

cdp_status cdp_checkpoint_parse(const char *text, size_t len, cdp_checkpoint_body *out,
                                cdp_err *err) {
    const char *cursor = text, *end = text + len, *line = NULL;
    size_t line_len = 0;
    memset(out, 0, sizeof *out);
    if (next_line(&cursor, end, &line, &line_len) != 0 || line_len == 0 ||
        line_len > CDP_CHECKPOINT_ORIGIN_MAX)
        return cdp_err_set(err, CDP_CORRUPT, "checkpoint: line 1: no origin");
    memcpy(out->origin, line, line_len);
    out->origin[line_len] = '\0';
    if (next_line(&cursor, end, &line, &line_len) != 0 || line_len == 0 || line_len > 20 ||
        (line[0] == '0' && line_len > 1))
        return cdp_err_set(err, CDP_CORRUPT, "checkpoint: line 2: no tree size");
    uint64_t size = 0;
    for (size_t i = 0; i < line_len; i++) {
        if (line[i] < '0' || line[i] > '9' || size > (UINT64_MAX - 9) / 10)
            return cdp_err_set(err, CDP_CORRUPT, "checkpoint: line 2: tree size is not a number");
        size = size * 10 + (uint64_t)(line[i] - '0');
    }
    out->tree_size = size;
    if (next_line(&cursor, end, &line, &line_len) != 0 ||
        cdp_audit_base64_decode(out->root, 32, line, line_len) != 0)
        return cdp_err_set(err, CDP_CORRUPT,
                           "checkpoint: line 3: root hash is not base64 of 32 bytes");
    while (cursor < end) /* extension lines: non-empty */
        if (next_line(&cursor, end, &line, &line_len) != 0 || line_len == 0)
            return cdp_err_set(err, CDP_CORRUPT, "checkpoint: malformed extension line");
    return CDP_OK;
}

/* Valid UTF-8 (no overlong forms or surrogates) without control characters but newline. */
static int note_chars_ok(const uint8_t *bytes, size_t len) {
    for (size_t i = 0; i < len;) {
        uint8_t c = bytes[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n') || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
        if (extra == 0 || c > 0xf4 || i + extra >= len)
            return 0;
        uint32_t point = c & (0x3f >> extra);
        for (size_t k = 1; k <= extra; k++) {
            if ((bytes[i + k] & 0xc0) != 0x80)
                return 0;
            point = point << 6 | (bytes[i + k] & 0x3f);
        }
        if ((extra == 2 && (point < 0x800 || (point >= 0xd800 && point <= 0xdfff))) ||
            (extra == 3 && (point < 0x10000 || point > 0x10ffff)))
            return 0;
        i += extra + 1;
    }
    return 1;
}

typedef struct note_signature {
    const char *name;
    size_t name_len;
    uint32_t key_id;
    uint8_t signature[crypto_sign_BYTES];
    int ed25519; /* 4 + 64 bytes: could be ours; other lengths are other algorithms */
} note_signature;

/* Parses one signature line (without its newline). */
static int parse_signature(const char *line, size_t len, note_signature *out) {
    if (len < SIGNATURE_MARK_LEN || memcmp(line, signature_mark, SIGNATURE_MARK_LEN) != 0)
        return -1;
    line += SIGNATURE_MARK_LEN;
    len -= SIGNATURE_MARK_LEN;
    const char *space = memchr(line, ' ', len);
    if (space == NULL || space == line)
        return -1;
    out->name = line;
    out->name_len = (size_t)(space - line);
    if (memchr(out->name, '+', out->name_len) != NULL)
        return -1;
    const char *blob = space + 1;
    size_t blob_len = len - out->name_len - 1;
    uint8_t raw[4 + 1024];
    size_t raw_len = 0;
    const char *end = NULL;
    if (blob_len == 0 || blob_len > 4 * ((sizeof raw + 2) / 3) ||
        sodium_base642bin(raw, sizeof raw, blob, blob_len, NULL, &raw_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != blob + blob_len || raw_len < 5)
        return -1;
    out->key_id = cdp_load_be32(raw);
    out->ed25519 = raw_len == 4 + crypto_sign_BYTES;
    if (out->ed25519)
        memcpy(out->signature, raw + 4, crypto_sign_BYTES);
    return 0;
}

cdp_status cdp_note_text_length(const char *note, size_t len, size_t *text_len, cdp_err *err) {
    *text_len = 0;
    if (len == 0 || len > CDP_NOTE_MAX)
        return cdp_err_set(err, CDP_CORRUPT, "signed note: %zu bytes (1..%d allowed)", len,
                           CDP_NOTE_MAX);
    if (!note_chars_ok((const uint8_t *)note, len))
        return cdp_err_set(err, CDP_CORRUPT, "signed note: not UTF-8, or holds control characters");
    if (note[len - 1] != '\n')
        return cdp_err_set(err, CDP_CORRUPT, "signed note: does not end in a newline");
    /* The text ends at the last blank line; signatures follow it. */
    size_t split = 0;
    int found = 0;
    for (size_t i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            split = i + 1;
            found = 1;
            break;
        }
    if (!found || split < 2)
        return cdp_err_set(err, CDP_CORRUPT, "signed note: no text and signatures");
    const char *cursor = note + split + 1, *end = note + len, *line = NULL;
    size_t line_len = 0, signatures = 0;
    while (cursor < end) {
        note_signature signature;
        if (next_line(&cursor, end, &line, &line_len) != 0 ||
            parse_signature(line, line_len, &signature) != 0)
            return cdp_err_set(err, CDP_CORRUPT, "signed note: malformed signature line %zu",
                               signatures + 1);
        if (++signatures > CDP_NOTE_MAX_SIGNATURES)
            return cdp_err_set(err, CDP_CORRUPT, "signed note: more than %d signatures",
                               CDP_NOTE_MAX_SIGNATURES);
    }
    if (signatures == 0)
        return cdp_err_set(err, CDP_CORRUPT, "signed note: no signature");
    *text_len = split;
    return CDP_OK;
}

cdp_status cdp_note_verify(const char *note, size_t len, const char *key_name,
                           const uint8_t public_key[32], cdp_err *err) {
    size_t text_len = 0;
    cdp_status status = cdp_note_text_length(note, len, &text_len, err);
    if (status != CDP_OK)
        return status;
    uint32_t key_id = cdp_note_key_id(key_name, public_key);
    size_t name_len = strlen(key_name);
    const char *cursor = note + text_len + 1, *end = note + len, *line = NULL;
    size_t line_len = 0;
    int verified = 0;
    while (cursor < end && next_line(&cursor, end, &line, &line_len) == 0) {
        note_signature signature;
        if (parse_signature(line, line_len, &signature) != 0)
            return cdp_err_set(err, CDP_CORRUPT, "signed note: malformed signature line");
        if (signature.name_len != name_len || memcmp(signature.name, key_name, name_len) != 0 ||
            signature.key_id != key_id)
            continue; /* another key's: ignored, as the spec says */
        if (!signature.ed25519 ||
            crypto_sign_verify_detached(signature.signature, (const unsigned char *)note, text_len,
                                        public_key) != 0)
            return cdp_err_set(err, CDP_CRYPTO,
                               "signed note: the signature by %s (key ID %08x) does not verify",
                               key_name, key_id);
        verified = 1;
    }
    if (!verified)
        return cdp_err_set(err, CDP_NOT_FOUND, "signed note: not signed by %s (key ID %08x)",
                           key_name, key_id);
    return CDP_OK;
}

/* Appends one signature line for text[0:text_len] at out + used. */
static cdp_status append_signature(char *out, size_t cap, size_t used, const char *text,
                                   size_t text_len, const char *key_name,
                                   const uint8_t secret_key[64], const uint8_t public_key[32],
                                   cdp_err *err) {
    uint8_t raw[4 + crypto_sign_BYTES];
    cdp_store_be32(raw, cdp_note_key_id(key_name, public_key));
    crypto_sign_detached(raw + 4, NULL, (const unsigned char *)text, text_len, secret_key);
    char blob[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(blob, sizeof blob, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    int written = snprintf(out + used, cap - used, "%s%s %s\n", signature_mark, key_name, blob);
    if (written < 0 || (size_t)written >= cap - used)
        return cdp_err_set(err, CDP_MISUSE, "signed note: does not fit in %zu bytes", cap);
    return CDP_OK;
}

static int key_name_ok(const char *name) {
    if (name == NULL || *name == '\0')
        return 0;
    for (const char *c = name; *c; c++)
        if (*c == ' ' || *c == '+' || (unsigned char)*c < 0x21)
            return 0;
    return 1;
}

cdp_status cdp_note_sign(const char *text, const char *key_name, const uint8_t secret_key[64],
                         const uint8_t public_key[32], char *out, size_t cap, cdp_err *err) {
    size_t text_len = strlen(text);
    if (!key_name_ok(key_name) || text_len == 0 || text[text_len - 1] != '\n' ||
        !note_chars_ok((const uint8_t *)text, text_len))
        return cdp_err_set(err, CDP_MISUSE, "signed note: bad text or key name");
    if (text_len + 2 > cap)
        return cdp_err_set(err, CDP_MISUSE, "signed note: does not fit in %zu bytes", cap);
    memmove(out, text, text_len);
    out[text_len] = '\n';
    out[text_len + 1] = '\0';
    return append_signature(out, cap, text_len + 1, out, text_len, key_name, secret_key, public_key,
                            err);
}

cdp_status cdp_note_cosign(char *note, size_t cap, const char *key_name,
                           const uint8_t secret_key[64], const uint8_t public_key[32],
                           cdp_err *err) {
    size_t len = strnlen(note, cap);
    cdp_status status = cdp_note_verify(note, len, key_name, public_key, err);
    if (status != CDP_NOT_FOUND)
        return status; /* signed by this key already, or broken */
    size_t text_len = 0;
    status = cdp_note_text_length(note, len, &text_len, err);
    if (status != CDP_OK)
        return status;
    cdp_err_clear(err);
    return append_signature(note, cap, len, note, text_len, key_name, secret_key, public_key, err);
}
