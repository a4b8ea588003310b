/* Erasure through the public API: argument and role checks, reference parsing and
 * normalization, then cdp/privacy/erase.c. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/handle.h"
#include "identity/normalize.h"
#include "access/access.h"
#include "privacy/receipt.h"
#include "util/alloc.h"
#include "util/bytes.h"

/* A reference split and normalized: type, and the value as the index holds it. */
typedef struct parsed_ref {
    char type[33];
    cdp_buf value; /* NUL-terminated */
} parsed_ref;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cdp_status parse_ref(cdp_t *db, const cdp_actor *actor, const char *ref, int allow_profile,
                            parsed_ref *out, cdp_err *err) {
    memset(out, 0, sizeof *out);
    const char *colon = ref != NULL ? strchr(ref, ':') : NULL;
    if (colon == NULL || colon == ref || colon[1] == '\0')
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                           "ref: expected TYPE:VALUE (email:..., phone:..., user_id:...)%s",
                           allow_profile ? " or profile:<id>" : "");
    size_t type_len = (size_t)(colon - ref);
    if (type_len >= sizeof out->type)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "ref: identifier type too long");
    memcpy(out->type, ref, type_len);
    out->type[type_len] = '\0';
    const char *value = colon + 1;
    if (strcmp(out->type, "profile") == 0) {
        uint8_t id[CDP_PROFILE_ID_BYTES];
        char hex[2 * CDP_PROFILE_ID_BYTES + 1];
        if (!allow_profile)
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                               "ref: a suppression is of an identifier, not of a profile id");
        if (cdp_hex_decode(id, sizeof id, value, strlen(value)) != 0)
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                               "ref: a profile id is 32 hexadecimal characters");
        cdp_hex_encode(hex, id, sizeof id); /* lowercase, as stored */
        return cdp_buf_append(&out->value, hex, sizeof hex) == CDP_OK
                   ? CDP_OK
                   : cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    const cdp_region_policy *home = cdp_policy_region(cdp_handle_policy(db), actor->region);
    cdp_status status = cdp_normalize_identifier(out->type, value, strlen(value),
                                                 home ? home->default_country : NULL,
                                                 &out->value, err);
    if (status != CDP_OK)
        cdp_err_prefix(err, "ref");
    return status;
}

static void parsed_ref_clear(parsed_ref *ref) { cdp_buf_free_secret(&ref->value); }

/* A random (version 4) UUID, as OpenGDPR request ids are. */
static void generate_request_id(char out[37]) {
    uint8_t bytes[16];
    char hex[33];
    randombytes_buf(bytes, sizeof bytes);
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80);
    cdp_hex_encode(hex, bytes, sizeof bytes);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

cdp_status cdp_erase(cdp_t *db, const cdp_actor *actor, const char *ref, const char *request_id,
                     char **receipt_json) {
    cdp_err err = {0};
    parsed_ref parsed;
    char generated[37];
    if (receipt_json != NULL)
        *receipt_json = NULL;
    if (db == NULL || actor == NULL || receipt_json == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "erase: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (actor->role != CDP_ROLE_DPO && actor->role != CDP_ROLE_ADMIN) {
        cdp_err_set(&err, CDP_FORBIDDEN, "role %s may not erase people (dpo or admin)",
                    cdp_role_name(actor->role));
        return cdp_handle_fail(db, &err);
    }
    if (request_id == NULL) {
        generate_request_id(generated);
        request_id = generated;
    }
    cdp_status status = parse_ref(db, actor, ref, 1, &parsed, &err);
    if (status == CDP_OK) {
        cdp_handle_lock_shared(db);
        status = cdp_access_erase(cdp_handle_identity_env(db), actor, parsed.type,
                                   (const char *)parsed.value.data, request_id, wall_ms(),
                                   receipt_json, &err);
        cdp_handle_unlock(db);
    }
    parsed_ref_clear(&parsed);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_erase_purge(cdp_t *db) {
    cdp_err err = {0};
    if (db == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "erase_purge: NULL handle");
        return cdp_handle_fail(db, &err);
    }
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_access_erase_purge(cdp_handle_identity_env(db), NULL, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_suppression_lift(cdp_t *db, const cdp_actor *actor, const char *ref) {
    cdp_err err = {0};
    parsed_ref parsed;
    if (db == NULL || actor == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "suppression_lift: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (actor->role != CDP_ROLE_DPO) {
        cdp_err_set(&err, CDP_FORBIDDEN, "role %s may not lift a suppression (dpo only)",
                    cdp_role_name(actor->role));
        return cdp_handle_fail(db, &err);
    }
    cdp_status status = parse_ref(db, actor, ref, 0, &parsed, &err);
    if (status == CDP_OK) {
        cdp_handle_lock_shared(db);
        status = cdp_access_lift_suppression(cdp_handle_identity_env(db), actor, parsed.type,
                                  (const char *)parsed.value.data, wall_ms(), &err);
        cdp_handle_unlock(db);
    }
    parsed_ref_clear(&parsed);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}

cdp_status cdp_receipt_verify(const char *json, size_t len, const char *pubkey_hex) {
    cdp_err err = {0};
    uint8_t public_key[32];
    if (json == NULL || pubkey_hex == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "receipt_verify: NULL argument");
        return cdp_handle_fail(NULL, &err);
    }
    if (sodium_init() < 0) {
        cdp_err_set(&err, CDP_INTERNAL, "libsodium failed to initialise");
        return cdp_handle_fail(NULL, &err);
    }
    if (cdp_hex_decode(public_key, sizeof public_key, pubkey_hex, strlen(pubkey_hex)) != 0) {
        cdp_err_set(&err, CDP_BAD_REQUEST, "pubkey: expected 64 hexadecimal characters");
        return cdp_handle_fail(NULL, &err);
    }
    cdp_status status = cdp_receipt_check(json, len, public_key, &err);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(NULL, &err);
}
