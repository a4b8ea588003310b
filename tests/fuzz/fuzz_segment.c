/* Fuzzes one Segment Spec message through the ingest path's store-free steps: the body decoder
 * (cdp_segment_decode_json: size and depth bounds, duplicate keys), message validation
 * (cdp_segment_parse) and identifier normalization, with the invariants of segment_check.h.
 * The input is the request body; its length picks the route's type hint (none for most). */
#include "segment_check.h"

static const char *const hints[] = {NULL,    NULL,     "identify", "track", "page",
                                    "screen", "group", "alias",    NULL,    NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *root = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_segment_decode_json((const char *)data, size, &root, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(status == CDP_INVALID_JSON || status == CDP_PAYLOAD_TOO_LARGE ||
                       status == CDP_NOMEM,
                   "decode status %d (%s)", (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        FUZZ_CHECK(root == NULL, "refused body left a tree");
        return 0;
    }
    FUZZ_CHECK(size <= CDP_SEGMENT_BATCH_MAX, "%zu-byte body accepted", size);
    segment_check_one(root, hints[size % (sizeof hints / sizeof hints[0])]);
    json_decref(root);
    return 0;
}
