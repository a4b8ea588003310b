/* The JSON routes of the web console (see http/console.h). Each handler only parses the request
 * and calls the public API, which decides and audits. Identifiers travel in POST bodies, never
 * in URLs (which end up in logs, proxies and browser history). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/console.h"

static const char console_json_type[] = "application/json";

static enum MHD_Result answer(http_request *request, cdp_status status, char *json) {
    if (status != CDP_OK)
        return http_respond_failure(request, status);
    return http_respond(request, 200, console_json_type, json, strlen(json), cdp_free);
}

/* A query argument, percent-decoded into out; NULL when absent. */
static const char *argument(http_request *request, const char *name, char *out, size_t cap) {
    const char *raw = MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, name);
    if (raw == NULL)
        return NULL;
    snprintf(out, cap, "%s", raw);
    out[MHD_http_unescape(out)] = '\0';
    return out;
}

/* The string's text; NULL for a non-string or one with an embedded NUL. */
static const char *plain(json_t *value) {
    const char *text = json_string_value(value);
    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
static json_t *body_object(http_request *request, enum MHD_Result *result) {
    json_error_t error;
    json_t *root = json_loadb(request->body.data ? request->body.data : "", request->body.len,
                              JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        char message[HTTP_MESSAGE_MAX];
        snprintf(message, sizeof message, "body: line %d column %d: %s", error.line,
                 error.column, error.text);
        *result = http_respond_error(request, 400, "invalid_json", message);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *result = http_respond_error(request, 400, "bad_request", "body: must be a JSON object");
        return NULL;
    }
    return root;
}

/* "TYPE:VALUE" from {"identity": {"type", "value"}} into ref; on failure answers 400 and
 * returns -1. */
static int identity_ref(http_request *request, json_t *root, char *ref, size_t cap,
                        enum MHD_Result *result) {
    json_t *identity = json_object_get(root, "identity");
    const char *type = plain(json_object_get(identity, "type"));
    const char *value = plain(json_object_get(identity, "value"));
    const char *problem = NULL;
    if (!json_is_object(identity))
        problem = "identity: required object {\"type\", \"value\"}";
    else if (type == NULL || *type == '\0' || strchr(type, ':') != NULL)
        problem = "identity.type: required string (email, phone, user_id, ... or profile)";
    else if (value == NULL || *value == '\0')
        problem = "identity.value: required string";
    else if (strlen(type) + strlen(value) + 2 > cap)
        problem = "identity.value: too long";
    if (problem != NULL) {
        *result = http_respond_error(request, 400, "bad_request", problem);
        return -1;
    }
    size_t type_len = strlen(type), value_len = strlen(value);
    memcpy(ref, type, type_len);
    ref[type_len] = ':';
    memcpy(ref + type_len + 1, value, value_len + 1);
    return 0;
}

enum MHD_Result http_console_whoami(http_request *request) {
    const cdp_actor *actor = &request->actor;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "key_id", actor->key_id, "role",
                             cdp_role_name(actor->role), "region", actor->region, "source",
                             actor->source, "purposes", actor->purposes);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL)
        return http_respond_error(request, 500, "internal", "internal error");
    return http_respond(request, 200, console_json_type, text, strlen(text), free);
}

enum MHD_Result http_console_dsr_queue(http_request *request) {
    char region[64], type[64], status_text[64];
    char *json = NULL;
    cdp_status status = cdp_dsr_queue(
        request->server->db, &request->actor, argument(request, "region", region, sizeof region),
        argument(request, "type", type, sizeof type),
        argument(request, "status", status_text, sizeof status_text), &json);
    return answer(request, status, json);
}

enum MHD_Result http_console_dsr_timeliness(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_dsr_timeliness(request->server->db, &request->actor, &json);
    return answer(request, status, json);
}

enum MHD_Result http_console_subject_lookup(http_request *request) {
    enum MHD_Result result = MHD_NO;
    json_t *root = body_object(request, &result);
    if (root == NULL)
        return result;
    char ref[HTTP_PARAM_MAX + 1];
    if (identity_ref(request, root, ref, sizeof ref, &result) == 0) {
        char *json = NULL;
        cdp_status status = cdp_subject_view(request->server->db, &request->actor, ref, &json);
        result = answer(request, status, json);
    }
    memset(ref, 0, sizeof ref);
    json_decref(root);
    return result;
}

enum MHD_Result http_console_suppressions(http_request *request) {
    char *json = NULL;
    cdp_status status = cdp_suppression_list(request->server->db, &request->actor, &json);
    return answer(request, status, json);
}

enum MHD_Result http_console_suppression_lift(http_request *request) {
    enum MHD_Result result = MHD_NO;
    json_t *root = body_object(request, &result);
    if (root == NULL)
        return result;
    char ref[HTTP_PARAM_MAX + 1];
    json_t *reason_value = json_object_get(root, "reason");
    const char *reason = plain(reason_value);
    if (identity_ref(request, root, ref, sizeof ref, &result) == 0) {
        if (reason_value != NULL && reason == NULL) {
            result = http_respond_error(request, 400, "bad_request", "reason: must be a string");
        } else {
            cdp_status status =
                cdp_suppression_lift_reason(request->server->db, &request->actor, ref, reason);
            if (status != CDP_OK) {
                result = http_respond_failure(request, status);
            } else {
                static char lifted[] = "{\"lifted\": true}\n";
                result = http_respond(request, 200, console_json_type, lifted, sizeof lifted - 1, NULL);
            }
        }
    }
    memset(ref, 0, sizeof ref);
    json_decref(root);
    return result;
}
