/* Small byte helpers shared by every layer: hex, big-endian integers, a growable buffer,
 * durable file writes. */
#ifndef CDP_UTIL_BYTES_H
#define CDP_UTIL_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Writes 2*len lowercase hex characters and a NUL into out (size >= 2*len+1). */
void cdp_hex_encode(char *out, const uint8_t *bytes, size_t len);
/* Decodes exactly out_len bytes from hex (2*out_len characters, either case). 0 on success,
 * -1 on a wrong length or a non-hex character. */
int cdp_hex_decode(uint8_t *out, size_t out_len, const char *hex, size_t hex_len);

void cdp_store_be32(uint8_t *out, uint32_t value);
void cdp_store_be64(uint8_t *out, uint64_t value);
uint32_t cdp_load_be32(const uint8_t *in);
uint64_t cdp_load_be64(const uint8_t *in);

/* A growable byte buffer. Zero-initialise it ({0}); cdp_buf_free releases it. */
typedef struct cdp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} cdp_buf;

cdp_status cdp_buf_reserve(cdp_buf *buf, size_t extra);
cdp_status cdp_buf_append(cdp_buf *buf, const void *bytes, size_t len);
/* Appends a 4-byte big-endian length and the bytes: unambiguous concatenation. */
cdp_status cdp_buf_append_lp(cdp_buf *buf, const void *bytes, size_t len);
void cdp_buf_reset(cdp_buf *buf);
/* Wipes the contents (sodium_memzero) before freeing: for buffers that held secrets. */
void cdp_buf_free_secret(cdp_buf *buf);
void cdp_buf_free(cdp_buf *buf);

/* Writes a whole file atomically and durably: temp file with `mode`, fsync, rename over path,
 * fsync of the directory. A crash leaves either the old or the new file, never a torn one. */
cdp_status cdp_file_write_atomic(const char *path, const void *bytes, size_t len, int mode,
                                 cdp_err *err);
/* Reads a whole file (at most max_len bytes, else CDP_CORRUPT); caller owns *out
 * (free with cdp_free). */
cdp_status cdp_file_read(const char *path, size_t max_len, uint8_t **out, size_t *out_len,
                         cdp_err *err);

#endif
