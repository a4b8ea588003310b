/* Fuzzes IAB TCF v2.2 string decoding (cdp/consent/tcf.h), the input browsers send to
 * POST /v1/consent. Invariants: a refusal is CDP_BAD_REQUEST / CDP_PAYLOAD_TOO_LARGE / CDP_NOMEM
 * with a reason; a decoded string is self-consistent (version 2, created <= last_updated,
 * upper-case language, vendor bit sets that match their counts and never name an id past
 * MaxVendorId) and decoding is deterministic. */
#include <string.h>

#include "consent/tcf.h"
#include "fuzz_util.h"

static size_t popcount_bytes(const uint8_t *bits, size_t bytes) {
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        count += (size_t)__builtin_popcount(bits[i]);
    return count;
}

static void check_vendors(const char *what, const cdp_tcf_vendors *vendors) {
    FUZZ_CHECK(vendors->max_vendor_id <= 65535, "%s: max %u", what, vendors->max_vendor_id);
    size_t bytes = (vendors->max_vendor_id + 7) / 8;
    if (vendors->bits == NULL) {
        FUZZ_CHECK(vendors->count == 0, "%s: %zu vendors, no bits", what, vendors->count);
        return;
    }
    FUZZ_CHECK(popcount_bytes(vendors->bits, bytes) == vendors->count,
               "%s: count %zu, bits say otherwise", what, vendors->count);
    /* Padding bits past MaxVendorId stay clear, and no id past it is reported. */
    if (vendors->max_vendor_id % 8 != 0)
        FUZZ_CHECK((vendors->bits[bytes - 1] >> (vendors->max_vendor_id % 8)) == 0,
                   "%s: bits past MaxVendorId %u", what, vendors->max_vendor_id);
    FUZZ_CHECK(!cdp_tcf_vendor_has(vendors, vendors->max_vendor_id + 1), "%s: id past max", what);
    FUZZ_CHECK(!cdp_tcf_vendor_has(vendors, 0), "%s: vendor 0", what);
}

static int upper2(const char code[3]) {
    return code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' && code[2] == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cdp_tcf first, second;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    cdp_err err = {0};
    cdp_status status = cdp_tcf_decode((const char *)data, size, &first, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(status == CDP_BAD_REQUEST || status == CDP_PAYLOAD_TOO_LARGE ||
                       status == CDP_NOMEM,
                   "status %d (%s)", (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        FUZZ_CHECK(first.vendor_consents.bits == NULL && first.segment_count == 0,
                   "refused, yet *out not cleared");
        return 0;
    }
    FUZZ_CHECK(size <= CDP_TCF_MAX_BYTES, "%zu bytes accepted", size);
    FUZZ_CHECK(first.version == 2, "version %u", first.version);
    FUZZ_CHECK(first.created_ms <= first.last_updated_ms, "created after last_updated");
    FUZZ_CHECK(first.policy_version >= 2, "policy version %u", first.policy_version);
    FUZZ_CHECK(upper2(first.consent_language), "language \"%.3s\"", first.consent_language);
    FUZZ_CHECK(upper2(first.publisher_cc), "publisher cc \"%.3s\"", first.publisher_cc);
    FUZZ_CHECK(first.segment_count >= 1, "no segments");
    FUZZ_CHECK(first.core_bits <= size * 6, "%zu core bits from %zu characters", first.core_bits,
               size);
    FUZZ_CHECK(!cdp_tcf_purpose_consent(&first, 0) && !cdp_tcf_purpose_consent(&first, 25),
               "purpose out of range reported");
    check_vendors("vendor_consents", &first.vendor_consents);
    check_vendors("vendor_legitimate_interests", &first.vendor_legitimate_interests);

    status = cdp_tcf_decode((const char *)data, size, &second, &err);
    if (status != CDP_NOMEM) {
        FUZZ_CHECK(status == CDP_OK, "second decode refused: %s", err.message);
        FUZZ_CHECK(first.created_ms == second.created_ms &&
                       first.purpose_consents == second.purpose_consents &&
                       first.vendor_consents.count == second.vendor_consents.count &&
                       first.core_bits == second.core_bits,
                   "decoding is not deterministic");
    }
    cdp_tcf_clear(&first);
    cdp_tcf_clear(&second);
    return 0;
}
