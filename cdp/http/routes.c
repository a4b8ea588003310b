/* The route table of shared/API.md and its handlers. A route is one line of http_routes[]:
 * method, path pattern, roles, flags, body limit, handler; the router does authentication,
 * roles, rate limits and purpose checks from it, so a handler only calls the library. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/console.h"
#include "http/http.h"

#define INGEST_ROLES HTTP_ROLE(CDP_ROLE_INGEST)
#define PROFILE_READ_ROLES (HTTP_ROLE(CDP_ROLE_PERSONALIZATION) | HTTP_ROLE(CDP_ROLE_DPO))
#define UNMERGE_ROLES (HTTP_ROLE(CDP_ROLE_DPO) | HTTP_ROLE(CDP_ROLE_ADMIN))
#define ADMIN_ROLES HTTP_ROLE(CDP_ROLE_ADMIN)
#define AUDITOR_ROLES HTTP_ROLE(CDP_ROLE_AUDITOR)
#define INGEST_FLAGS (HTTP_ROUTE_BASIC_AUTH | HTTP_ROUTE_BODY)

static enum MHD_Result handle_healthz(http_request *request);
static enum MHD_Result handle_metrics(http_request *request);
static enum MHD_Result handle_ingest(http_request *request);
static enum MHD_Result handle_profile(http_request *request);
static enum MHD_Result handle_profile_events(http_request *request);
static enum MHD_Result handle_profile_identities(http_request *request);
static enum MHD_Result handle_unmerge(http_request *request);
static enum MHD_Result handle_audit_export(http_request *request);
static enum MHD_Result handle_audit_pubkey(http_request *request);
static enum MHD_Result handle_consent(http_request *request);
static enum MHD_Result handle_profile_consent(http_request *request);
static enum MHD_Result handle_dsr_discovery(http_request *request);
static enum MHD_Result handle_dsr_submit(http_request *request);
static enum MHD_Result handle_dsr_status(http_request *request);
static enum MHD_Result handle_dsr_result(http_request *request);
static enum MHD_Result handle_dsr_cancel(http_request *request);

#define DSR_ROLES HTTP_ROLE(CDP_ROLE_DPO)
/* OpenGDPR's route and its OpenDSR / OpenCompliance aliases. */
#define DSR_ROUTES(prefix)                                                                        \
    {"POST", prefix, DSR_ROLES, HTTP_ROUTE_BODY, HTTP_EVENT_LIMIT, NULL, handle_dsr_submit},      \
        {"GET", prefix "/{ref}", DSR_ROLES, 0, 0, NULL, handle_dsr_status},                       \
        {"GET", prefix "/{ref}/result", DSR_ROLES, 0, 0, NULL, handle_dsr_result},                \
        {"DELETE", prefix "/{ref}", DSR_ROLES, 0, 0, NULL, handle_dsr_cancel}

/* Keep in step with policies/roles.json, which documents this table for operators. */
const http_route http_routes[] = {
    {"GET", "/healthz", 0, 0, 0, NULL, handle_healthz},
    {"GET", "/metrics", ADMIN_ROLES, 0, 0, NULL, handle_metrics},
    {"POST", "/v1/identify", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "identify",
     handle_ingest},
    {"POST", "/v1/track", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "track", handle_ingest},
    {"POST", "/v1/page", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "page", handle_ingest},
    {"POST", "/v1/screen", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "screen", handle_ingest},
    {"POST", "/v1/group", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "group", handle_ingest},
    {"POST", "/v1/alias", INGEST_ROLES, INGEST_FLAGS, HTTP_EVENT_LIMIT, "alias", handle_ingest},
    {"POST", "/v1/batch", INGEST_ROLES, INGEST_FLAGS, HTTP_BATCH_LIMIT, "batch", handle_ingest},
    {"POST", "/v1/consent", INGEST_ROLES | HTTP_ROLE(CDP_ROLE_DPO), INGEST_FLAGS, HTTP_EVENT_LIMIT,
     NULL, handle_consent},
    {"GET", "/v1/profiles/{ref}", PROFILE_READ_ROLES, HTTP_ROUTE_PURPOSE, 0, NULL, handle_profile},
    {"GET", "/v1/profiles/{ref}/events", PROFILE_READ_ROLES, HTTP_ROUTE_PURPOSE, 0, NULL,
     handle_profile_events},
    {"GET", "/v1/profiles/{ref}/identities", PROFILE_READ_ROLES, HTTP_ROUTE_PURPOSE, 0, NULL,
     handle_profile_identities},
    {"GET", "/v1/profiles/{ref}/consent", PROFILE_READ_ROLES, HTTP_ROUTE_PURPOSE, 0, NULL,
     handle_profile_consent},
    {"POST", "/v1/profiles/{ref}/unmerge", UNMERGE_ROLES, HTTP_ROUTE_BODY, HTTP_EVENT_LIMIT, NULL,
     handle_unmerge},
    {"GET", "/v1/audit", AUDITOR_ROLES, 0, 0, NULL, handle_audit_export},
    {"GET", "/v1/audit/pubkey", AUDITOR_ROLES, 0, 0, NULL, handle_audit_pubkey},
    {"GET", "/discovery", DSR_ROLES, 0, 0, NULL, handle_dsr_discovery},
    DSR_ROUTES("/opengdpr_requests"),
    DSR_ROUTES("/opendsr_requests"),
    DSR_ROUTES("/opencompliance_requests"),
    /* The web console (http/console.h): its files, and the JSON its views use. */
    {"GET", "/console", 0, 0, 0, NULL, http_console_redirect},
    {"GET", "/console/", 0, 0, 0, NULL, http_console_index},
    {"GET", "/console/{ref}", 0, 0, 0, NULL, http_console_file},
    {"GET", "/v1/whoami", HTTP_ROLE(CDP_ROLE_INGEST) | PROFILE_READ_ROLES | AUDITOR_ROLES |
     ADMIN_ROLES, 0, 0, NULL, http_console_whoami},
    {"GET", "/v1/dsr", DSR_ROLES, 0, 0, NULL, http_console_dsr_queue},
    {"GET", "/v1/dsr/timeliness", AUDITOR_ROLES | DSR_ROLES | ADMIN_ROLES, 0, 0, NULL,
     http_console_dsr_timeliness},
    {"POST", "/v1/subjects/lookup", DSR_ROLES, HTTP_ROUTE_BODY, HTTP_EVENT_LIMIT, NULL,
     http_console_subject_lookup},
    {"GET", "/v1/suppressions", DSR_ROLES, 0, 0, NULL, http_console_suppressions},
    {"POST", "/v1/suppressions/lift", DSR_ROLES, HTTP_ROUTE_BODY, HTTP_EVENT_LIMIT, NULL,
     http_console_suppression_lift},
};
const size_t http_route_count = sizeof http_routes / sizeof http_routes[0];

static const char json_content_type[] = "application/json";

/* Sends library JSON (caller-owned, freed with cdp_free) with status 200. */
static enum MHD_Result respond_library_json(http_request *request, char *json) {
    return http_respond(request, 200, json_content_type, json, strlen(json), cdp_free);
}

static enum MHD_Result handle_healthz(http_request *request) {
    static char body[] = "{\"status\": \"ok\"}\n";
    return http_respond(request, 200, json_content_type, body, sizeof body - 1, NULL);
}

static enum MHD_Result handle_metrics(http_request *request) {
    size_t len = 0;
    char *text = http_metrics_render(request->server->metrics, &len);
    char *library = NULL;
    if (text == NULL || cdp_metrics_text(request->server->db, &library) != CDP_OK) {
        free(text);
        return http_respond_error(request, 500, "internal", "internal error");
    }
    /* The HTTP layer's counters, then the library's (events, merges, refusals, ...). */
    size_t library_len = strlen(library);
    char *joined = realloc(text, len + library_len + 1);
    if (joined == NULL) {
        free(text);
        cdp_free(library);
        return http_respond_error(request, 500, "internal", "internal error");
    }
    memcpy(joined + len, library, library_len + 1);
    cdp_free(library);
    return http_respond(request, 200, "text/plain; version=0.0.4; charset=utf-8", joined,
                        len + library_len, free);
}

static const char *purpose_of(http_request *request) {
    return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, "X-CDP-Purpose");
}

/* A query argument, percent-decoded into out; NULL when absent. libmicrohttpd leaves them raw
 * because the server replaces its unescaping (see server.c). */
static const char *query_argument(http_request *request, const char *name, char *out, size_t cap) {
    const char *raw = MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, name);
    if (raw == NULL)
        return NULL;
    snprintf(out, cap, "%s", raw);
    out[MHD_http_unescape(out)] = '\0';
    return out;
}

static enum MHD_Result handle_ingest(http_request *request) {
    cdp_ingest_result result;
    memset(&result, 0, sizeof result);
    const char *gpc = MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, "Sec-GPC");
    const char *body = request->body.data ? request->body.data : "";
    cdp_status status =
        cdp_ingest(request->server->db, &request->actor, request->route->type_hint, body,
                   request->body.len, gpc != NULL && strcmp(gpc, "1") == 0, &result);
    if (status != CDP_OK) {
        cdp_ingest_result_clear(&result);
        http_metrics_count_ingest(request->server->metrics, 0, 0, 1);
        return http_respond_failure(request, status);
    }
    http_metrics_count_ingest(request->server->metrics, result.accepted, result.duplicates,
                              result.rejected);
    if (result.rejected == 0 && result.dropped == 0) {
        cdp_ingest_result_clear(&result);
        static char success[] = "{\"success\": true}\n";
        return http_respond(request, 200, json_content_type, success, sizeof success - 1, NULL);
    }
    /* Some messages of a batch were refused (the good ones are stored), or some of their data
     * was not stored (minimisation): say which. */
    json_t *errors = result.errors_json ? json_loads(result.errors_json, 0, NULL) : NULL;
    json_t *dropped = result.dropped_json ? json_loads(result.dropped_json, 0, NULL) : NULL;
    json_t *answer = json_pack(
        "{s:b, s:I, s:I, s:I, s:o, s:o}", "success", 1, "accepted", (json_int_t)result.accepted,
        "duplicates", (json_int_t)result.duplicates, "rejected", (json_int_t)result.rejected,
        "errors", errors != NULL ? errors : json_array(), "dropped",
        dropped != NULL ? dropped : json_array());
    cdp_ingest_result_clear(&result);
    char *text = answer ? json_dumps(answer, JSON_PRESERVE_ORDER) : NULL;
    json_decref(answer);
    if (text == NULL)
        return http_respond_error(request, 500, "internal", "internal error");
    return http_respond(request, 200, json_content_type, text, strlen(text), free);
}

static enum MHD_Result handle_profile(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_profile_get(request->server->db, &request->actor, purpose_of(request),
                                        request->param, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

static enum MHD_Result handle_profile_events(http_request *request) {
    char limit_text[32], cursor[512];
    size_t limit = 0;
    if (query_argument(request, "limit", limit_text, sizeof limit_text) != NULL) {
        char *end = NULL;
        unsigned long value = strtoul(limit_text, &end, 10);
        if (limit_text[0] < '0' || limit_text[0] > '9' || *end != '\0' || value < 1 || value > 1000)
            return http_respond_error(request, 400, "bad_request",
                                      "limit: must be an integer from 1 to 1000");
        limit = value;
    }
    const char *cursor_value = query_argument(request, "cursor", cursor, sizeof cursor);
    char *json = NULL;
    cdp_status status =
        cdp_profile_events(request->server->db, &request->actor, purpose_of(request),
                           request->param, limit, cursor_value, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

static enum MHD_Result handle_profile_identities(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_profile_identities(request->server->db, &request->actor,
                                               purpose_of(request), request->param, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

/* The string's text; NULL for a non-string or one with an embedded NUL (it would be cut). */
static const char *plain_string(json_t *value) {
    const char *text = json_string_value(value);
    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

static enum MHD_Result handle_unmerge(http_request *request) {
    json_error_t json_error;
    json_t *root = json_loadb(request->body.data ? request->body.data : "", request->body.len,
                              JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        char message[HTTP_MESSAGE_MAX];
        snprintf(message, sizeof message, "body: line %d column %d: %s", json_error.line,
                 json_error.column, json_error.text);
        return http_respond_error(request, 400, "invalid_json", message);
    }
    json_t *identity = json_object_get(root, "identity");
    const char *type = plain_string(json_object_get(identity, "type"));
    const char *value = plain_string(json_object_get(identity, "value"));
    enum MHD_Result result;
    if (!json_is_object(identity)) {
        result = http_respond_error(request, 400, "bad_request",
                                    "identity: required object {\"type\", \"value\"}");
    } else if (type == NULL || *type == '\0') {
        result = http_respond_error(request, 400, "bad_request", "identity.type: required string");
    } else if (value == NULL || *value == '\0') {
        result = http_respond_error(request, 400, "bad_request", "identity.value: required string");
    } else {
        char *json = NULL;
        cdp_status status =
            cdp_unmerge(request->server->db, &request->actor, request->param, type, value, &json);
        result = status == CDP_OK ? respond_library_json(request, json)
                                  : http_respond_failure(request, status);
    }
    json_decref(root);
    return result;
}

/* GET /v1/audit?region=R&from=T&to=T&actor=&profile=&operation=&decision=&format=: the export, written to an unlinked
 * temporary file first (so an error can still be a JSON answer), then streamed from it. */
static enum MHD_Result handle_audit_export(http_request *request) {
    char region[64], from[64], to[64], format[16], actor[64], profile[64], operation[64],
        decision[16];
    cdp_audit_query query = {
        .region = query_argument(request, "region", region, sizeof region),
        .from = query_argument(request, "from", from, sizeof from),
        .to = query_argument(request, "to", to, sizeof to),
        .actor = query_argument(request, "actor", actor, sizeof actor),
        .profile = query_argument(request, "profile", profile, sizeof profile),
        .operation = query_argument(request, "operation", operation, sizeof operation),
        .decision = query_argument(request, "decision", decision, sizeof decision),
        .format = query_argument(request, "format", format, sizeof format),
    };
    const char *format_arg = query.format;
    FILE *out = tmpfile();
    if (out == NULL)
        return http_respond_error(request, 500, "internal", "internal error");
    cdp_status status = cdp_audit_export_to(request->server->db, &request->actor, &query, out);
    if (status == CDP_OK && fflush(out) != 0)
        status = CDP_IO;
    if (status != CDP_OK) {
        fclose(out);
        return http_respond_failure(request, status);
    }
    long size = ftell(out);
    int fd = dup(fileno(out));
    fclose(out);
    if (size < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return http_respond_error(request, 500, "internal", "internal error");
    }
    int avro = format_arg != NULL && strcmp(format_arg, "avro") == 0;
    return http_respond_fd(request, 200,
                           avro ? "application/avro" : "application/x-ndjson; charset=utf-8", fd,
                           (uint64_t)size);
}

/* GET /v1/audit/pubkey?region=R: {"region": "eu", "public_key": "<64 hex>"}. */
static enum MHD_Result handle_audit_pubkey(http_request *request) {
    char region[64], hex[65];
    const char *region_arg = query_argument(request, "region", region, sizeof region);
    cdp_status status = cdp_audit_pubkey(request->server->db, region_arg, hex);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    char *body = malloc(160);
    if (body == NULL)
        return http_respond_error(request, 500, "internal", "internal error");
    char quoted[80];
    http_json_quote(quoted, sizeof quoted, region_arg ? region_arg : "",
                    region_arg ? strlen(region_arg) : 0);
    int len = snprintf(body, 160, "{\"region\": %s, \"public_key\": \"%s\"}",
                       region_arg ? quoted : "null", hex);
    return http_respond(request, 200, json_content_type, body, (size_t)len, free);
}

/* POST /v1/consent: the body goes to the library whole; Sec-GPC: 1 counts as "gpc": true. */
static enum MHD_Result handle_consent(http_request *request) {
    const char *gpc = MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, "Sec-GPC");
    char *json = NULL;
    cdp_status status = cdp_consent_set(request->server->db, &request->actor,
                                        request->body.data ? request->body.data : "",
                                        request->body.len, gpc != NULL && strcmp(gpc, "1") == 0,
                                        &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

static enum MHD_Result handle_profile_consent(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_profile_consent(request->server->db, &request->actor,
                                            purpose_of(request), request->param, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

/* ---- Data-subject requests (OpenGDPR / OpenDSR) ----------------------------------------------- */

static enum MHD_Result handle_dsr_discovery(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_dsr_discovery(request->server->db, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

/* 202 Accepted: the request is persisted and the worker carries it out. */
static enum MHD_Result handle_dsr_submit(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_dsr_submit(request->server->db, &request->actor,
                                       request->body.data ? request->body.data : "",
                                       request->body.len, &json, NULL);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return http_respond(request, 202, json_content_type, json, strlen(json), cdp_free);
}

static enum MHD_Result handle_dsr_status(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_dsr_status(request->server->db, &request->actor, request->param, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

static enum MHD_Result handle_dsr_cancel(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_dsr_cancel(request->server->db, &request->actor, request->param, &json);
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return respond_library_json(request, json);
}

/* GET .../ID/result?format=json|avro: written to an unlinked temporary file first (so an error
 * can still be a JSON answer), then streamed from it. */
static enum MHD_Result handle_dsr_result(http_request *request) {
    char format[16];
    const char *format_arg = query_argument(request, "format", format, sizeof format);
    FILE *out = tmpfile();
    if (out == NULL)
        return http_respond_error(request, 500, "internal", "internal error");
    cdp_status status =
        cdp_dsr_result(request->server->db, &request->actor, request->param, format_arg, out);
    if (status == CDP_OK && fflush(out) != 0)
        status = CDP_IO;
    if (status != CDP_OK) {
        fclose(out);
        return http_respond_failure(request, status);
    }
    long size = ftell(out);
    int fd = dup(fileno(out));
    fclose(out);
    if (size < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return http_respond_error(request, 500, "internal", "internal error");
    }
    int avro = format_arg != NULL && strcmp(format_arg, "avro") == 0;
    return http_respond_fd(request, 200, avro ? "application/avro" : json_content_type, fd,
                           (uint64_t)size);
}

/* ---- the route table, described ------------------------------------------------------------ */

char *cdp_http_routes_describe(void) {
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < http_route_count; i++) {
        const http_route *route = &http_routes[i];
        json_t *roles = json_array();
        for (int role = CDP_ROLE_INGEST; roles != NULL && role <= CDP_ROLE_ADMIN; role++)
            if (route->roles & HTTP_ROLE(role))
                json_array_append_new(roles, json_string(cdp_role_name((cdp_role)role)));
        json_t *entry = json_pack("{s:s, s:s, s:o*, s:b, s:b, s:b, s:b}", "method", route->method,
                                  "pattern", route->pattern, "roles", roles, "authenticated",
                                  route->roles != 0, "basic_auth",
                                  (route->flags & HTTP_ROUTE_BASIC_AUTH) != 0, "purpose",
                                  (route->flags & HTTP_ROUTE_PURPOSE) != 0, "body",
                                  (route->flags & HTTP_ROUTE_BODY) != 0);
        if (entry == NULL || json_array_append_new(list, entry) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    char *text = list != NULL ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return text;
}
