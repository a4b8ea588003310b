/* Status names and the internal error-detail helpers. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct status_name {
    cdp_status status;
    const char *code;
    const char *text;
} status_name;

static const status_name status_names[] = {
    {CDP_OK, "ok", "success"},
    {CDP_BAD_REQUEST, "bad_request", "bad request"},
    {CDP_INVALID_JSON, "invalid_json", "invalid JSON"},
    {CDP_INVALID_IDENTIFIER, "invalid_identifier", "invalid identifier"},
    {CDP_UNAUTHORIZED, "unauthorized", "missing or unknown API key"},
    {CDP_FORBIDDEN, "forbidden", "the key's role may not do this"},
    {CDP_PURPOSE_REQUIRED, "purpose_required", "a purpose is required"},
    {CDP_CONSENT_DENIED, "consent_denied", "no consent or lawful basis for this purpose"},
    {CDP_RESTRICTED, "restricted", "processing of this person is restricted"},
    {CDP_NOT_FOUND, "not_found", "not found"},
    {CDP_CONFLICT, "conflict", "conflict"},
    {CDP_PAYLOAD_TOO_LARGE, "payload_too_large", "payload too large"},
    {CDP_RATE_LIMITED, "rate_limited", "rate limited"},
    {CDP_RESIDENCY_DENIED, "residency_denied", "cross-border transfer not allowed"},
    {CDP_SUPPRESSED, "suppressed", "identifier belongs to an erased person"},
    {CDP_INTERNAL, "internal", "internal error"},
    {CDP_NOMEM, "nomem", "out of memory"},
    {CDP_IO, "io", "I/O error"},
    {CDP_CORRUPT, "corrupt", "stored data is corrupt"},
    {CDP_CRYPTO, "crypto", "authentication failed (wrong key or altered data)"},
    {CDP_BAD_POLICY, "bad_policy", "invalid policy bundle"},
    {CDP_EXISTS, "exists", "already exists"},
    {CDP_BAD_KEY, "bad_key", "missing, malformed or wrong root key"},
    {CDP_INSECURE, "insecure", "secret file permissions too open"},
    {CDP_MISUSE, "misuse", "library misuse"},
};

static const status_name *find_status(cdp_status status) {
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (status_names[i].status == status)
            return &status_names[i];
    return NULL;
}

const char *cdp_strerror(cdp_status status) {
    const status_name *name = find_status(status);
    return name ? name->text : "unknown status";
}

const char *cdp_status_code(cdp_status status) {
    const status_name *name = find_status(status);
    return name ? name->code : "unknown";
}

cdp_status cdp_err_set(cdp_err *err, cdp_status status, const char *format, ...) {
    if (err == NULL)
        return status;
    err->status = status;
    err->message[0] = '\0';
    if (status != CDP_OK && format != NULL) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message, sizeof err->message, format, args);
        va_end(args);
    }
    return status;
}

cdp_status cdp_err_prefix(cdp_err *err, const char *format, ...) {
    if (err == NULL)
        return CDP_INTERNAL;
    char prefix[CDP_ERR_MESSAGE_MAX];
    char old[CDP_ERR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);
    memcpy(old, err->message, sizeof old);
    /* A message longer than the buffer is cut: the prefix matters more than the tail. */
    if (snprintf(err->message, sizeof err->message, "%s: %s", prefix, old) < 0)
        err->message[0] = '\0';
    return err->status;
}

void cdp_err_clear(cdp_err *err) {
    if (err != NULL) {
        err->status = CDP_OK;
        err->message[0] = '\0';
    }
}
