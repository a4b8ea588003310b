/* Responses: the status table of API.md, JSON error bodies, and the headers every answer
 * carries (content type, no caching of personal data, the request id). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"

unsigned http_status_for(cdp_status status) {
    switch (status) {
    case CDP_OK:
        return 200;
    case CDP_BAD_REQUEST:
    case CDP_INVALID_JSON:
    case CDP_INVALID_IDENTIFIER:
        return 400;
    case CDP_UNAUTHORIZED:
        return 401;
    case CDP_FORBIDDEN:
    case CDP_PURPOSE_REQUIRED:
    case CDP_CONSENT_DENIED:
    case CDP_RESTRICTED:
        return 403;
    case CDP_NOT_FOUND:
        return 404;
    case CDP_CONFLICT:
        return 409;
    case CDP_PAYLOAD_TOO_LARGE:
        return 413;
    case CDP_RATE_LIMITED:
        return 429;
    case CDP_RESIDENCY_DENIED:
    case CDP_SUPPRESSED:
        return 451;
    default:
        return 500;
    }
}

/* Length of the well-formed UTF-8 sequence at text[0], 0 if there is none. */
static size_t utf8_sequence(const char *text, size_t left) {
    unsigned char lead = (unsigned char)text[0];
    size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (len > left || !http_utf8_valid(text, len))
        return 0;
    return len;
}

size_t http_json_quote(char *out, size_t cap, const char *text, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    if (cap < 3)
        return 0;
    out[used++] = '"';
    for (size_t i = 0; i < len;) {
        char piece[8];
        size_t piece_len, advance;
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            piece[0] = '\\', piece[1] = (char)c, piece_len = 2, advance = 1;
        } else if (c == '\n') {
            memcpy(piece, "\\n", 2), piece_len = 2, advance = 1;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(piece, "\\u00", 4);
            piece[4] = hex[c >> 4], piece[5] = hex[c & 15], piece_len = 6, advance = 1;
        } else if (c < 0x80) {
            piece[0] = (char)c, piece_len = 1, advance = 1;
        } else if ((advance = utf8_sequence(text + i, len - i)) != 0) {
            memcpy(piece, text + i, advance), piece_len = advance;
        } else {
            memcpy(piece, "\\ufffd", 6), piece_len = 6, advance = 1;
        }
        if (used + piece_len + 2 > cap)
            break;
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        i += advance;
    }
    out[used++] = '"';
    out[used] = '\0';
    return used;
}

static void add_common_headers(http_request *request, struct MHD_Response *response,
                               unsigned status) {
    MHD_add_response_header(response, "Cache-Control", "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (request->request_id[0])
        MHD_add_response_header(response, "X-Request-Id", request->request_id);
    if (atomic_load(&request->server->draining))
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 405 && request->allow[0])
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, request->allow);
    if (status == 429) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%u", request->retry_after ? request->retry_after : 1);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (status == 401)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                request->route != NULL &&
                                        (request->route->flags & HTTP_ROUTE_BASIC_AUTH)
                                    ? "Bearer realm=\"cdp\", Basic realm=\"cdp\""
                                    : "Bearer realm=\"cdp\"");
}

enum MHD_Result http_respond(http_request *request, unsigned status, const char *content_type,
                             void *body, size_t len, void (*free_body)(void *)) {
    struct MHD_Response *response =
        free_body != NULL ? MHD_create_response_from_buffer_with_free_callback(len, body, free_body)
                          : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL) {
        if (free_body != NULL)
            free_body(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    add_common_headers(request, response, status);
    enum MHD_Result result = MHD_queue_response(request->connection, status, response);
    MHD_destroy_response(response);
    if (result == MHD_YES)
        request->status_sent = status;
    return result;
}

enum MHD_Result http_respond_fd(http_request *request, unsigned status, const char *content_type,
                                int fd, uint64_t size) {
    /* libmicrohttpd streams the file and closes fd when the response is destroyed. */
    struct MHD_Response *response = MHD_create_response_from_fd64(size, fd);
    if (response == NULL) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    add_common_headers(request, response, status);
    enum MHD_Result result = MHD_queue_response(request->connection, status, response);
    MHD_destroy_response(response);
    if (result == MHD_YES)
        request->status_sent = status;
    return result;
}

enum MHD_Result http_respond_error(http_request *request, unsigned status, const char *code,
                                   const char *message) {
    char quoted[HTTP_MESSAGE_MAX + 16];
    http_json_quote(quoted, sizeof quoted, message, strlen(message));
    size_t cap = strlen(code) + strlen(quoted) + 48;
    char *body = malloc(cap);
    if (body == NULL)
        return MHD_NO;
    int len =
        snprintf(body, cap, "{\"error\": {\"code\": \"%s\", \"message\": %s}}\n", code, quoted);
    http_metrics_count_error(request->server->metrics, code);
    return http_respond(request, status, "application/json", body, (size_t)len, free);
}

enum MHD_Result http_respond_failure(http_request *request, cdp_status status) {
    unsigned http_status = http_status_for(status);
    const char *detail = cdp_errmsg(request->server->db);
    if (http_status == 500) {
        /* Never to the client: paths and library internals. The operator sees it. */
        fprintf(stderr, "cdpctl serve: %s %s: %s: %s\n", request->request_id,
                request->route ? request->route->pattern : "?", cdp_status_code(status),
                detail && *detail ? detail : cdp_strerror(status));
        return http_respond_error(request, 500, "internal", "internal error");
    }
    return http_respond_error(request, http_status, cdp_status_code(status),
                              detail && *detail ? detail : cdp_strerror(status));
}

void http_refuse(http_request *request, unsigned status, const char *code, const char *format,
                 ...) {
    if (request->pending_status != 0)
        return; /* the first refusal is the answer */
    request->pending_status = status;
    request->pending_code = code;
    va_list args;
    va_start(args, format);
    vsnprintf(request->pending_message, sizeof request->pending_message, format, args);
    va_end(args);
}

enum MHD_Result http_respond_pending(http_request *request) {
    return http_respond_error(request, request->pending_status, request->pending_code,
                              request->pending_message);
}
