/* Serves the console's embedded files (console/ at build time) with their content type and the
 * headers a page holding personal data needs: a strict Content-Security-Policy (no inline
 * script, nothing from another origin), nosniff, no referrer, no framing, no caching. */
#include <stdio.h>
#include <string.h>

#include "http/console.h"

static const char *content_type_of(const char *name) {
    static const struct {
        const char *suffix, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t suffix_len = strlen(types[i].suffix);
        if (len > suffix_len && strcmp(name + len - suffix_len, types[i].suffix) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static void add_console_headers(http_request *request, struct MHD_Response *response) {
    MHD_add_response_header(response, "Content-Security-Policy", HTTP_CONSOLE_CSP);
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    MHD_add_response_header(response, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(response, "Cache-Control", "no-store");
    if (request->request_id[0])
        MHD_add_response_header(response, "X-Request-Id", request->request_id);
    if (atomic_load(&request->server->draining))
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result queue(http_request *request, unsigned status,
                             struct MHD_Response *response) {
    enum MHD_Result result = MHD_queue_response(request->connection, status, response);
    MHD_destroy_response(response);
    if (result == MHD_YES)
        request->status_sent = status;
    return result;
}

static enum MHD_Result serve_asset(http_request *request, const char *name) {
    for (size_t i = 0; i < http_console_asset_count; i++) {
        const http_console_asset *asset = &http_console_assets[i];
        if (strcmp(asset->name, name) != 0)
            continue;
        struct MHD_Response *response = MHD_create_response_from_buffer(
            asset->len, (void *)asset->data, MHD_RESPMEM_PERSISTENT);
        if (response == NULL)
            return MHD_NO;
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_of(name));
        add_console_headers(request, response);
        return queue(request, 200, response);
    }
    return http_respond_error(request, 404, "not_found", "no such console file");
}

enum MHD_Result http_console_redirect(http_request *request) {
    struct MHD_Response *response =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, "/console/");
    add_console_headers(request, response);
    return queue(request, 308, response);
}

enum MHD_Result http_console_index(http_request *request) {
    return serve_asset(request, "index.html");
}

enum MHD_Result http_console_file(http_request *request) {
    return serve_asset(request, request->param);
}
