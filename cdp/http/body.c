/* Request bodies: bounded accumulation and streaming gzip inflate (zlib), plus the UTF-8 check
 * every JSON body passes before it reaches the library. */
#include "http/body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BODY_FIRST_CAP (16u * 1024)

size_t http_body_raw_limit(size_t limit, int gzip) {
    return gzip ? limit + limit / 64 + 1024 : limit;
}

void http_body_init(http_body *body, size_t limit, int gzip) {
    memset(body, 0, sizeof *body);
    body->limit = limit;
    body->gzip = gzip;
    body->raw_limit = http_body_raw_limit(limit, gzip);
}

static void body_fail(http_body *body, http_body_state state) {
    body->state = state;
    free(body->data);
    body->data = NULL;
    body->len = body->cap = 0;
    if (body->stream_ready) {
        inflateEnd(&body->stream);
        body->stream_ready = 0;
    }
}

/* Makes room for at least one more byte, never beyond limit + 1 usable bytes: one past the
 * limit is enough to know the limit was passed. */
static int body_grow(http_body *body) {
    size_t ceiling = body->limit + 1;
    size_t cap = body->cap ? body->cap * 2 : BODY_FIRST_CAP;
    if (cap > ceiling)
        cap = ceiling;
    if (cap <= body->len)
        return -1;
    char *grown = realloc(body->data, cap + 1);
    if (grown == NULL)
        return -1;
    body->data = grown;
    body->cap = cap;
    return 0;
}

static void feed_plain(http_body *body, const char *bytes, size_t len) {
    if (len > body->limit - body->len) {
        body_fail(body, HTTP_BODY_TOO_LARGE);
        return;
    }
    while (body->cap - body->len < len)
        if (body_grow(body) != 0) {
            body_fail(body, HTTP_BODY_NOMEM);
            return;
        }
    memcpy(body->data + body->len, bytes, len);
    body->len += len;
}

static void feed_gzip(http_body *body, const char *bytes, size_t len) {
    z_stream *stream = &body->stream;
    if (!body->stream_ready) {
        memset(stream, 0, sizeof *stream);
        /* 16 + MAX_WBITS: a gzip wrapper (RFC 1952), not zlib or raw deflate. */
        if (inflateInit2(stream, 16 + MAX_WBITS) != Z_OK) {
            body_fail(body, HTTP_BODY_NOMEM);
            return;
        }
        body->stream_ready = 1;
    }
    stream->next_in = (Bytef *)(uintptr_t)bytes;
    stream->avail_in = (uInt)len;
    while (stream->avail_in > 0 && body->state == HTTP_BODY_OK) {
        if (body->stream_ended) {
            /* Another gzip member follows (gzip allows concatenation). */
            if (inflateReset(stream) != Z_OK) {
                body_fail(body, HTTP_BODY_BAD_GZIP);
                return;
            }
            body->stream_ended = 0;
        }
        if (body->len == body->cap && body_grow(body) != 0) {
            body_fail(body, HTTP_BODY_NOMEM);
            return;
        }
        stream->next_out = (Bytef *)body->data + body->len;
        stream->avail_out = (uInt)(body->cap - body->len);
        int result = inflate(stream, Z_NO_FLUSH);
        body->len = body->cap - stream->avail_out;
        if (body->len > body->limit) {
            body_fail(body, HTTP_BODY_TOO_LARGE);
            return;
        }
        if (result == Z_STREAM_END)
            body->stream_ended = 1;
        else if (result == Z_MEM_ERROR)
            body_fail(body, HTTP_BODY_NOMEM);
        else if (result != Z_OK && !(result == Z_BUF_ERROR && stream->avail_out == 0))
            body_fail(body, HTTP_BODY_BAD_GZIP);
    }
}

void http_body_feed(http_body *body, const char *bytes, size_t len) {
    body->raw_len += len;
    if (body->state != HTTP_BODY_OK || len == 0)
        return;
    if (body->raw_len > body->raw_limit) {
        body_fail(body, HTTP_BODY_TOO_LARGE);
        return;
    }
    if (body->gzip)
        feed_gzip(body, bytes, len);
    else
        feed_plain(body, bytes, len);
}

http_body_state http_body_finish(http_body *body) {
    if (body->state != HTTP_BODY_OK)
        return body->state;
    if (body->gzip && body->raw_len > 0 && !body->stream_ended) {
        body_fail(body, HTTP_BODY_BAD_GZIP);
        return body->state;
    }
    if (body->stream_ready) {
        inflateEnd(&body->stream);
        body->stream_ready = 0;
    }
    if (body->data != NULL)
        body->data[body->len] = '\0';
    return HTTP_BODY_OK;
}

void http_body_free(http_body *body) {
    if (body->stream_ready)
        inflateEnd(&body->stream);
    free(body->data);
    memset(body, 0, sizeof *body);
}

int http_utf8_valid(const char *bytes, size_t len) {
    const unsigned char *s = (const unsigned char *)bytes;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t point, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, point = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, point = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, point = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            point = (point << 6) | (s[i + k] & 0x3F);
        }
        if (point < min || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}
