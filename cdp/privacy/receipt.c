/* Erasure receipts: building, canonical form, Ed25519 signing and strict offline checking. */
#include "privacy/receipt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "audit/record.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static const char *const removed_fields[] = {"profiles", "events", "identities",
                                             "consent",  "merges", "keys"};
#define REMOVED_FIELDS (sizeof removed_fields / sizeof removed_fields[0])
static const char *const receipt_fields[] = {"version",    "request_id", "time",
                                             "region",     "profile_id", "removed",
                                             "suppressed", "audit_seq",  "public_key",
                                             "signature"};
#define RECEIPT_FIELDS (sizeof receipt_fields / sizeof receipt_fields[0])

json_t *cdp_receipt_body(const char *request_id, int64_t time_ms, const char *region,
                         const char *profile_hex, const cdp_erase_counts *counts,
                         const char *const *suppressed_hex, size_t count) {
    const uint64_t values[REMOVED_FIELDS] = {counts->profiles, counts->events, counts->identities,
                                             counts->consent,  counts->merges, counts->keys};
    json_t *removed = json_object(), *suppressed = json_array();
    json_t *body = json_object();
    int failed = removed == NULL || suppressed == NULL || body == NULL;
    for (size_t i = 0; !failed && i < REMOVED_FIELDS; i++)
        failed = json_object_set_new(removed, removed_fields[i],
                                     json_integer((json_int_t)values[i])) != 0;
    for (size_t i = 0; !failed && i < count; i++)
        failed = json_array_append_new(suppressed, json_string(suppressed_hex[i])) != 0;
    if (!failed)
        failed = json_object_set_new(body, "version", json_integer(CDP_RECEIPT_VERSION)) ||
                 json_object_set_new(body, "request_id", json_string(request_id)) ||
                 json_object_set_new(body, "time", json_integer((json_int_t)time_ms)) ||
                 json_object_set_new(body, "region", json_string(region)) ||
                 json_object_set_new(body, "profile_id", json_string(profile_hex)) ||
                 json_object_set(body, "removed", removed) ||
                 json_object_set(body, "suppressed", suppressed);
    json_decref(removed);
    json_decref(suppressed);
    if (failed) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* The bytes signed: the domain line and the canonical form (the object without "signature").
 * Caller frees with free(). */
static char *signed_message(json_t *receipt, size_t *len) {
    json_t *copy = json_copy(receipt);
    if (copy == NULL)
        return NULL;
    json_object_del(copy, "signature");
    char *canonical = json_dumps(copy, CANONICAL_FLAGS);
    json_decref(copy);
    if (canonical == NULL)
        return NULL;
    size_t domain_len = strlen(CDP_RECEIPT_DOMAIN), canonical_len = strlen(canonical);
    char *message = malloc(domain_len + canonical_len + 1);
    if (message != NULL) {
        memcpy(message, CDP_RECEIPT_DOMAIN, domain_len);
        memcpy(message + domain_len, canonical, canonical_len + 1);
        *len = domain_len + canonical_len;
    }
    free(canonical);
    return message;
}

cdp_status cdp_receipt_sign(json_t *body, uint64_t audit_seq, const uint8_t secret_key[64],
                            const uint8_t public_key[32], char **text, cdp_err *err) {
    char public_hex[65], signature_hex[2 * crypto_sign_BYTES + 1];
    uint8_t signature[crypto_sign_BYTES];
    size_t message_len = 0;
    *text = NULL;
    cdp_hex_encode(public_hex, public_key, 32);
    json_object_del(body, "signature");
    if (json_object_set_new(body, "audit_seq", json_integer((json_int_t)audit_seq)) != 0 ||
        json_object_set_new(body, "public_key", json_string(public_hex)) != 0)
        return cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
    char *message = signed_message(body, &message_len);
    if (message == NULL)
        return cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
    crypto_sign_detached(signature, NULL, (const uint8_t *)message, message_len, secret_key);
    free(message);
    cdp_hex_encode(signature_hex, signature, sizeof signature);
    if (json_object_set_new(body, "signature", json_string(signature_hex)) != 0)
        return cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
    char *dumped = json_dumps(body, CANONICAL_FLAGS);
    if (dumped == NULL)
        return cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
    *text = cdp_strdup(dumped);
    free(dumped);
    return *text != NULL ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
}

/* Lowercase hex of exactly len characters: what we write. Uppercase would decode to the same
 * bytes, so a receipt whose text changed would still verify: refused. */
static int lower_hex(const char *text, size_t len) {
    if (text == NULL || strlen(text) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    return 1;
}

static int is_count(json_t *value) {
    return json_is_integer(value) && json_integer_value(value) >= 0;
}

static cdp_status check_shape(json_t *root, cdp_err *err) {
    if (!json_is_object(root))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: not a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        int known = 0;
        for (size_t i = 0; i < RECEIPT_FIELDS && !known; i++)
            known = strcmp(key, receipt_fields[i]) == 0;
        if (!known)
            return cdp_err_set(err, CDP_CORRUPT, "receipt: unknown field \"%.64s\"", key);
    }
    for (size_t i = 0; i < RECEIPT_FIELDS; i++)
        if (json_object_get(root, receipt_fields[i]) == NULL)
            return cdp_err_set(err, CDP_CORRUPT, "receipt: %s: missing", receipt_fields[i]);
    json_t *version = json_object_get(root, "version");
    if (!json_is_integer(version) || json_integer_value(version) != CDP_RECEIPT_VERSION)
        return cdp_err_set(err, CDP_CORRUPT, "receipt: version: expected %d",
                           CDP_RECEIPT_VERSION);
    if (!cdp_audit_token_ok(json_string_value(json_object_get(root, "request_id"))))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: request_id: not a token");
    if (!cdp_audit_token_ok(json_string_value(json_object_get(root, "region"))))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: region: not a token");
    if (!is_count(json_object_get(root, "time")))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: time: not a non-negative integer");
    if (!is_count(json_object_get(root, "audit_seq")))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: audit_seq: not a non-negative integer");
    if (!lower_hex(json_string_value(json_object_get(root, "profile_id")), 32))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: profile_id: not 32 lowercase hex");
    if (!lower_hex(json_string_value(json_object_get(root, "public_key")), 64))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: public_key: not 64 lowercase hex");
    if (!lower_hex(json_string_value(json_object_get(root, "signature")),
                   2 * crypto_sign_BYTES))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: signature: not 128 lowercase hex");
    json_t *removed = json_object_get(root, "removed");
    if (!json_is_object(removed) || json_object_size(removed) != REMOVED_FIELDS)
        return cdp_err_set(err, CDP_CORRUPT, "receipt: removed: expected an object of %zu counts",
                           REMOVED_FIELDS);
    for (size_t i = 0; i < REMOVED_FIELDS; i++)
        if (!is_count(json_object_get(removed, removed_fields[i])))
            return cdp_err_set(err, CDP_CORRUPT, "receipt: removed.%s: missing or not a count",
                               removed_fields[i]);
    json_t *suppressed = json_object_get(root, "suppressed");
    if (!json_is_array(suppressed))
        return cdp_err_set(err, CDP_CORRUPT, "receipt: suppressed: not an array");
    size_t index;
    json_array_foreach(suppressed, index, value) {
        if (!lower_hex(json_string_value(value), 64))
            return cdp_err_set(err, CDP_CORRUPT, "receipt: suppressed[%zu]: not 64 lowercase hex",
                               index);
    }
    return CDP_OK;
}

cdp_status cdp_receipt_check(const char *text, size_t len, const uint8_t public_key[32],
                             cdp_err *err) {
    json_error_t parse_error;
    uint8_t claimed_key[32], signature[crypto_sign_BYTES];
    size_t message_len = 0;
    if (text == NULL)
        return cdp_err_set(err, CDP_MISUSE, "receipt: NULL text");
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &parse_error);
    if (root == NULL)
        return cdp_err_set(err, CDP_INVALID_JSON, "receipt: line %d: %s", parse_error.line,
                           parse_error.text);
    cdp_status status = check_shape(root, err);
    if (status != CDP_OK)
        goto done;
    const char *public_hex = json_string_value(json_object_get(root, "public_key"));
    const char *signature_hex = json_string_value(json_object_get(root, "signature"));
    if (cdp_hex_decode(claimed_key, sizeof claimed_key, public_hex, 64) != 0 ||
        cdp_hex_decode(signature, sizeof signature, signature_hex, 2 * crypto_sign_BYTES) != 0) {
        status = cdp_err_set(err, CDP_CORRUPT, "receipt: bad hex");
        goto done;
    }
    if (sodium_memcmp(claimed_key, public_key, sizeof claimed_key) != 0) {
        status = cdp_err_set(err, CDP_CRYPTO,
                             "receipt: public_key: signed by another key than the one given");
        goto done;
    }
    char *message = signed_message(root, &message_len);
    if (message == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "receipt: out of memory");
        goto done;
    }
    if (crypto_sign_verify_detached(signature, (const uint8_t *)message, message_len,
                                    public_key) != 0)
        status = cdp_err_set(err, CDP_CRYPTO,
                             "receipt: signature: does not verify (the receipt was altered or "
                             "not signed by this key)");
    free(message);
done:
    json_decref(root);
    return status;
}
