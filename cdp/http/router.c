/* Routing and the checks made from the headers alone, in the order a client can act on them:
 * route (404, 405), API key (401), role (403), rate (429), purpose (403), then the body's
 * encoding and declared size (400, 413). Paths arrive raw (the server turns libmicrohttpd's
 * unescaping off), so an escaped "/" inside a REF cannot change the route. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* ---- Matching ------------------------------------------------------------------------------ */

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes len bytes into out (cap bytes with the NUL). -1 on a malformed escape, an
 * encoded NUL or an overflow. */
static int percent_decode(char *out, size_t cap, const char *in, size_t len) {
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int high = hex_value(in[i + 1]), low = hex_value(in[i + 2]);
            if (high < 0 || low < 0 || (high == 0 && low == 0))
                return -1;
            c = (char)(high * 16 + low);
            i += 2;
        }
        if (used + 1 >= cap)
            return -1;
        out[used++] = c;
    }
    out[used] = '\0';
    return 0;
}

/* Matches path against pattern segment by segment; {name} takes one non-empty segment, whose
 * raw bytes are returned through param. 1 on a match. */
static int path_matches(const char *pattern, const char *path, const char **param,
                        size_t *param_len) {
    while (*pattern != '\0' || *path != '\0') {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++, path++;
        size_t pattern_len = strcspn(pattern, "/"), path_len = strcspn(path, "/");
        if (pattern[0] == '{') {
            if (path_len == 0)
                return 0;
            *param = path;
            *param_len = path_len;
        } else if (pattern_len != path_len || memcmp(pattern, path, path_len) != 0) {
            return 0;
        }
        pattern += pattern_len;
        path += path_len;
    }
    return 1;
}

static const char *lookup_header(http_request *request, const char *name) {
    return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

/* ---- Authentication ------------------------------------------------------------------------ */

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 (padding optional) into out; returns the length or -1. */
static long base64_decode(char *out, size_t cap, const char *in, size_t len) {
    while (len > 0 && in[len - 1] == '=')
        len--;
    size_t used = 0;
    unsigned bits = 0, value = 0;
    for (size_t i = 0; i < len; i++) {
        int digit = base64_value(in[i]);
        if (digit < 0)
            return -1;
        value = (value << 6) | (unsigned)digit;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (used >= cap)
                return -1;
            out[used++] = (char)((value >> bits) & 0xFF);
        }
    }
    if (bits >= 6) /* a lone trailing digit is not base64 */
        return -1;
    return (long)used;
}

/* Extracts the presented key from Authorization into key (cap bytes); the length, or -1 when
 * absent or garbled. Basic only where the route allows it. */
static long presented_key(http_request *request, char *key, size_t cap) {
    const char *header = lookup_header(request, MHD_HTTP_HEADER_AUTHORIZATION);
    if (header == NULL)
        return -1;
    size_t scheme_len = strcspn(header, " ");
    const char *credentials = header + scheme_len;
    while (*credentials == ' ')
        credentials++;
    size_t len = strlen(credentials);
    while (len > 0 && credentials[len - 1] == ' ')
        len--;
    if (len == 0)
        return -1;
    if (scheme_len == 6 && strncasecmp(header, "Bearer", 6) == 0) {
        if (len >= cap)
            return -1;
        memcpy(key, credentials, len);
        key[len] = '\0';
        return (long)len;
    }
    if (scheme_len == 5 && strncasecmp(header, "Basic", 5) == 0 &&
        (request->route->flags & HTTP_ROUTE_BASIC_AUTH)) {
        long decoded = base64_decode(key, cap - 1, credentials, len);
        if (decoded < 0)
            return -1;
        key[decoded] = '\0';
        /* Segment write key style: the key is the user name, the password empty. */
        char *colon = memchr(key, ':', (size_t)decoded);
        if (colon == NULL || colon + 1 != key + decoded)
            return -1;
        *colon = '\0';
        return colon - key;
    }
    return -1;
}

static int authenticate(http_request *request) {
    char key[256];
    const http_route *route = request->route;
    long len = presented_key(request, key, sizeof key);
    if (len <= 0) {
        const char *basic = route->flags & HTTP_ROUTE_BASIC_AUTH
                                ? ", or HTTP Basic with the key as user name and no password"
                                : "";
        if (lookup_header(request, MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
            http_refuse(request, 401, "unauthorized",
                        "an API key is required (Authorization: Bearer KEY%s)", basic);
        else
            http_refuse(request, 401, "unauthorized",
                        "Authorization: malformed or unsupported credentials (Bearer KEY%s)",
                        basic);
        return -1;
    }
    cdp_status status = cdp_apikey_verify(request->server->db, key, (size_t)len, &request->actor);
    memset(key, 0, sizeof key);
    if (status == CDP_UNAUTHORIZED) {
        http_refuse(request, 401, "unauthorized", "missing or unknown API key");
        return -1;
    }
    if (status != CDP_OK) {
        fprintf(stderr, "cdpctl serve: %s: key store: %s\n", request->request_id,
                cdp_errmsg(request->server->db));
        http_refuse(request, 500, "internal", "internal error");
        return -1;
    }
    snprintf(request->actor.request_id, sizeof request->actor.request_id, "%s",
             request->request_id);
    /* The rate applies to everything a key sends, refused or not: a key hammering routes its
     * role may not use is throttled like any other. */
    int taken = http_ratelimiter_take(request->server->limiter, request->actor.key_id,
                                      request->actor.role, &request->retry_after);
    if (taken == 0) {
        http_refuse(request, 429, "rate_limited",
                    "rate limit of this API key exceeded; retry after %u s", request->retry_after);
        return -1;
    }
    if (!(route->roles & HTTP_ROLE(request->actor.role))) {
        http_refuse(request, 403, "forbidden", "the %s role may not use %s %s",
                    cdp_role_name(request->actor.role), route->method, route->pattern);
        return -1;
    }
    return 0;
}

/* ---- Request ids --------------------------------------------------------------------------- */

static int request_id_acceptable(const char *id) {
    size_t len = strlen(id);
    if (len == 0 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)id[i]) || strchr("._:-", id[i]) != NULL))
            return 0;
    return 1;
}

static void assign_request_id(http_request *request) {
    const char *given = lookup_header(request, "X-Request-Id");
    if (given != NULL && request_id_acceptable(given)) {
        snprintf(request->request_id, sizeof request->request_id, "%s", given);
        return;
    }
    unsigned long long number = atomic_fetch_add(&request->server->request_counter, 1) + 1;
    snprintf(request->request_id, sizeof request->request_id, "%s-%llx",
             request->server->request_id_prefix, number);
}

/* ---- Body set-up --------------------------------------------------------------------------- */

static void prepare_body(http_request *request) {
    const http_route *route = request->route;
    const char *encoding = lookup_header(request, MHD_HTTP_HEADER_CONTENT_ENCODING);
    int gzip = 0;
    if (encoding != NULL && *encoding != '\0' && strcasecmp(encoding, "identity") != 0) {
        if (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0)
            gzip = 1;
        else {
            http_refuse(request, 400, "bad_request",
                        "Content-Encoding: only gzip is supported, not \"%.40s\"", encoding);
            return;
        }
    }
    const char *declared = lookup_header(request, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (declared != NULL) {
        char *end = NULL;
        unsigned long long length = strtoull(declared, &end, 10);
        if (end != declared && length > http_body_raw_limit(route->body_limit, gzip)) {
            http_refuse(request, 413, "payload_too_large", "body: larger than %zu bytes",
                        route->body_limit);
            return;
        }
    }
    http_body_init(&request->body, route->body_limit, gzip);
    request->reads_body = 1;
}

/* ---- The first call ------------------------------------------------------------------------ */

void http_route_request(http_request *request, const char *method, const char *url) {
    const char *param = NULL;
    size_t param_len = 0;
    int path_known = 0;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    request->route_index = http_route_count;
    assign_request_id(request);
    for (size_t i = 0; i < http_route_count; i++) {
        const char *candidate = NULL;
        size_t candidate_len = 0;
        if (!path_matches(http_routes[i].pattern, url, &candidate, &candidate_len))
            continue;
        if (!path_known)
            request->allow[0] = '\0';
        path_known = 1;
        if (strcmp(http_routes[i].method, method) == 0) {
            request->route = &http_routes[i];
            request->route_index = i;
            param = candidate;
            param_len = candidate_len;
            break;
        }
        size_t used = strlen(request->allow);
        snprintf(request->allow + used, sizeof request->allow - used, "%s%s", used ? ", " : "",
                 http_routes[i].method);
    }
    if (request->route == NULL) {
        if (path_known)
            http_refuse(request, 405, "bad_request", "method not allowed");
        else
            http_refuse(request, 404, "not_found", "no such route");
        return;
    }
    const http_route *route = request->route;
    if (route->roles != 0 && authenticate(request) != 0)
        return;
    if (param != NULL &&
        percent_decode(request->param, sizeof request->param, param, param_len) != 0) {
        http_refuse(request, 400, "invalid_identifier",
                    "ref: malformed percent-encoding or longer than %d bytes", HTTP_PARAM_MAX);
        return;
    }
    if (route->flags & HTTP_ROUTE_PURPOSE) {
        const char *purpose = lookup_header(request, "X-CDP-Purpose");
        if (purpose == NULL || *purpose == '\0') {
            http_refuse(request, 403, "purpose_required",
                        "X-CDP-Purpose: header required (the purpose of this read)");
            return;
        }
    }
    if (route->flags & HTTP_ROUTE_BODY)
        prepare_body(request);
}
