/* Fuzzes identifier normalization (cdp/identity/normalize.h): e-mail, phone and plain ids.
 * Input: byte 0 picks the kind (and, for phones, bytes 1-2 a country); the rest is the value.
 * Invariants: a refusal is CDP_INVALID_IDENTIFIER (or CDP_NOMEM) with a reason; an accepted
 * value is valid UTF-8, has no NUL inside, fits CDP_IDENTIFIER_MAX, and normalizing it again
 * gives the same bytes (one canonical form, or blind indexes would split a person). */
#include <string.h>

#include "fuzz_util.h"
#include "identity/normalize.h"

static const char *const countries[] = {NULL, "NO", "US", "DE", "GB", "FR", "BR", "IN",
                                        "CN", "JP", "no", "XX", "",   "U",  "USA"};

static void check_accepted(const char *kind, const cdp_buf *out) {
    FUZZ_CHECK(out->data != NULL, "%s: accepted with no output", kind);
    FUZZ_CHECK(out->len <= CDP_IDENTIFIER_MAX, "%s: %zu bytes", kind, out->len);
    FUZZ_CHECK(strlen((const char *)out->data) == out->len, "%s: NUL inside", kind);
    FUZZ_CHECK(cdp_utf8_valid((const char *)out->data, out->len), "%s: invalid UTF-8", kind);
}

static void check_status(const char *kind, cdp_status status, const cdp_err *err) {
    if (status == CDP_OK)
        return;
    FUZZ_CHECK(status == CDP_INVALID_IDENTIFIER || status == CDP_NOMEM, "%s: status %d (%s)",
               kind, (int)status, err->message);
    FUZZ_CHECK(err->message[0] != '\0', "%s: refusal without a reason", kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    unsigned mode = data[0] % 4;
    const char *country = countries[data[1] % (sizeof countries / sizeof countries[0])];
    const char *value = (const char *)data + 3;
    size_t len = size - 3;
    cdp_buf first = {0}, second = {0};
    cdp_err err = {0};
    cdp_status status;
    const char *kind;
    switch (mode) {
    case 0:
        kind = "email";
        status = cdp_normalize_email(value, len, &first, &err);
        break;
    case 1:
        kind = "phone";
        status = cdp_normalize_phone(value, len, country, &first, &err);
        break;
    case 2:
        kind = "plain";
        status = cdp_normalize_plain_id("user_id", value, len, &first, &err);
        break;
    default: {
        /* The type itself is hostile too: bytes 1..2 as a short type name. */
        char type[3] = {(char)data[1], (char)data[2], '\0'};
        kind = "identifier";
        status = cdp_normalize_identifier(type, value, len, country, &first, &err);
        if (status == CDP_OK)
            FUZZ_CHECK(type[0] >= 'a' && type[0] <= 'z', "type \"%s\" accepted", type);
        break;
    }
    }
    check_status(kind, status, &err);
    if (status == CDP_OK) {
        check_accepted(kind, &first);
        cdp_err again_err = {0};
        cdp_status again;
        if (mode == 0)
            again = cdp_normalize_email((const char *)first.data, first.len, &second, &again_err);
        else if (mode == 1)
            /* E.164 carries its country: it must read the same without one. */
            again = cdp_normalize_phone((const char *)first.data, first.len, NULL, &second,
                                        &again_err);
        else if (mode == 2)
            again = cdp_normalize_plain_id("user_id", (const char *)first.data, first.len,
                                           &second, &again_err);
        else
            again = CDP_NOMEM; /* the dispatch was checked through the modes above */
        if (again != CDP_NOMEM) {
            FUZZ_CHECK(again == CDP_OK, "%s: \"%s\" accepted, its normal form refused: %s", kind,
                       (const char *)first.data, again_err.message);
            FUZZ_CHECK(second.len == first.len && memcmp(second.data, first.data, first.len) == 0,
                       "%s: not idempotent: \"%s\" -> \"%s\"", kind, (const char *)first.data,
                       (const char *)second.data);
        }
    }
    cdp_buf_free(&first);
    cdp_buf_free(&second);
    return 0;
}
