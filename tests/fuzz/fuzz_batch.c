/* Fuzzes the POST /v1/batch body path without a server or store: the bounded body accumulator
 * (cdp/http/body.h, gzip inflated on the fly, fed in chunks as libmicrohttpd hands them over),
 * the UTF-8 check, the JSON decoder, the {"batch": [...]} shape and each message's validation
 * and normalization (segment_check.h).
 * Input byte 0: bits 0-1 the encoding (0 identity, 1 the bytes claimed as gzip, 2 the bytes
 * gzipped here, 3 gzipped here as two members), bits 2-4 the chunk size; the rest is the body.
 * Invariant: gzip is transparent: a body gzipped here inflates to exactly the plain bytes. */
#include <zlib.h>

#include "http/body.h"
#include "http/http.h"
#include "segment_check.h"

static const size_t chunk_sizes[] = {1, 7, 64, 512, 4096, 65536, 1u << 20, 3};

/* gzip of bytes into *out (malloc'd); members: 1 or 2 (split at the middle). 0 on success. */
static int gzip_bytes(const uint8_t *bytes, size_t len, int members, uint8_t **out,
                      size_t *out_len) {
    size_t cap = 64 + 2 * (compressBound((uLong)len) + 32);
    uint8_t *buffer = malloc(cap);
    if (buffer == NULL)
        return -1;
    size_t used = 0;
    size_t split = members == 2 ? len / 2 : len;
    for (int member = 0; member < members; member++) {
        const uint8_t *part = member == 0 ? bytes : bytes + split;
        size_t part_len = member == 0 ? split : len - split;
        z_stream stream;
        memset(&stream, 0, sizeof stream);
        if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(buffer);
            return -1;
        }
        stream.next_in = (Bytef *)part;
        stream.avail_in = (uInt)part_len;
        stream.next_out = buffer + used;
        stream.avail_out = (uInt)(cap - used);
        int result = deflate(&stream, Z_FINISH);
        used = cap - stream.avail_out;
        deflateEnd(&stream);
        if (result != Z_STREAM_END) {
            free(buffer);
            return -1;
        }
    }
    *out = buffer;
    *out_len = used;
    return 0;
}

static http_body_state read_body(http_body *body, const uint8_t *bytes, size_t len, int gzip,
                                 size_t chunk) {
    http_body_init(body, HTTP_BATCH_LIMIT, gzip);
    for (size_t offset = 0; offset < len; offset += chunk)
        http_body_feed(body, (const char *)bytes + offset,
                       len - offset < chunk ? len - offset : chunk);
    http_body_state state = http_body_finish(body);
    if (state == HTTP_BODY_OK) {
        FUZZ_CHECK(body->len <= HTTP_BATCH_LIMIT, "%zu bytes over the limit", body->len);
        FUZZ_CHECK(body->len == 0 || body->data[body->len] == '\0', "body not NUL-terminated");
        FUZZ_CHECK(gzip || (body->len == len && (len == 0 || memcmp(body->data, bytes, len) == 0)),
                   "identity body changed");
    }
    FUZZ_CHECK(body->raw_len <= http_body_raw_limit(HTTP_BATCH_LIMIT, gzip) + chunk,
               "read %zu raw bytes", body->raw_len);
    return state;
}

/* What cdp_ingest does with a batch body, minus the store. */
static void check_batch(const char *text, size_t len) {
    if (!http_utf8_valid(text, len))
        return;
    json_t *root = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_segment_decode_json(text, len, &root, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(status == CDP_INVALID_JSON || status == CDP_PAYLOAD_TOO_LARGE ||
                       status == CDP_NOMEM,
                   "decode status %d (%s)", (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        return;
    }
    json_t *batch = json_is_object(root) ? json_object_get(root, "batch") : NULL;
    if (json_is_array(batch) && json_array_size(batch) <= CDP_SEGMENT_BATCH_COUNT_MAX) {
        size_t index, accepted = 0, refused = 0;
        json_t *message;
        json_array_foreach(batch, index, message) {
            if (segment_check_one(message, NULL) == CDP_OK)
                accepted++;
            else
                refused++;
        }
        FUZZ_CHECK(accepted + refused == json_array_size(batch), "messages lost");
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned encoding = data[0] & 3;
    size_t chunk = chunk_sizes[(data[0] >> 2) & 7];
    const uint8_t *payload = data + 1;
    size_t payload_len = size - 1;
    http_body body, plain;
    http_body_state state;
    if (encoding <= 1) {
        state = read_body(&body, payload, payload_len, (int)encoding, chunk);
        if (state == HTTP_BODY_OK)
            check_batch(body.data != NULL ? body.data : "", body.len);
        http_body_free(&body);
        return 0;
    }
    uint8_t *zipped = NULL;
    size_t zipped_len = 0;
    if (gzip_bytes(payload, payload_len, encoding == 3 ? 2 : 1, &zipped, &zipped_len) != 0)
        return 0;
    state = read_body(&body, zipped, zipped_len, 1, chunk);
    http_body_state plain_state = read_body(&plain, payload, payload_len, 0, chunk);
    if (state != HTTP_BODY_NOMEM && plain_state != HTTP_BODY_NOMEM) {
        FUZZ_CHECK(state == plain_state, "gzip state %d, plain state %d", (int)state,
                   (int)plain_state);
        if (state == HTTP_BODY_OK) {
            FUZZ_CHECK(body.len == plain.len &&
                           (body.len == 0 || memcmp(body.data, plain.data, body.len) == 0),
                       "gzip inflated to other bytes (%zu vs %zu)", body.len, plain.len);
            check_batch(body.data != NULL ? body.data : "", body.len);
        }
    }
    http_body_free(&plain);
    http_body_free(&body);
    free(zipped);
    return 0;
}
