/* Request bodies: bounded accumulation of the chunks libmicrohttpd hands over, with gzip
 * inflated on the fly. The limit applies to the inflated bytes, and inflating stops at the
 * limit, so a gzip bomb costs at most limit + 1 bytes of output. */
#ifndef CDP_HTTP_BODY_H
#define CDP_HTTP_BODY_H

#include <stddef.h>
#include <zlib.h>

typedef enum http_body_state {
    HTTP_BODY_OK = 0,
    HTTP_BODY_TOO_LARGE, /* more than limit bytes (inflated) */
    HTTP_BODY_BAD_GZIP,  /* not a gzip stream, corrupt, or truncated */
    HTTP_BODY_NOMEM,
} http_body_state;

typedef struct http_body {
    char *data; /* NUL-terminated after http_body_finish; NULL while empty */
    size_t len;
    size_t cap; /* bytes usable in data (one more is kept for the NUL) */
    size_t limit;
    int gzip;
    int stream_ready; /* inflateInit2 done */
    int stream_ended; /* the current gzip member is complete */
    size_t raw_len;   /* bytes received, before inflating */
    size_t raw_limit; /* bytes received at most: bounds work on streams that inflate to little */
    z_stream stream;
    http_body_state state;
} http_body;

/* Starts an empty body of at most limit bytes; gzip: the bytes fed are gzip (one or more
 * members) and are inflated. The bytes received are bounded too (http_body_raw_limit). */
void http_body_init(http_body *body, size_t limit, int gzip);
/* The most bytes a body of limit bytes may take on the wire: limit itself, or for gzip a little
 * more (stored blocks of incompressible data add about 5 bytes per 16 KB, plus the header). */
size_t http_body_raw_limit(size_t limit, int gzip);
/* Appends received bytes. After the first failure the rest is discarded; the state says why. */
void http_body_feed(http_body *body, const char *bytes, size_t len);
/* Ends the body: a gzip stream must be complete. Returns the final state; on HTTP_BODY_OK
 * body->data holds body->len bytes and a NUL (data may be NULL when len is 0). */
http_body_state http_body_finish(http_body *body);
/* Frees what the body holds; the struct itself is the caller's. Safe on an initialised body. */
void http_body_free(http_body *body);

/* 1 if bytes are well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF; NUL is allowed, JSON parsers reject it where it matters). */
int http_utf8_valid(const char *bytes, size_t len);

#endif
