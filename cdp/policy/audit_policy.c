/* Loading policies/audit.json. */
#include "policy/audit_policy.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void add_problem(cdp_err *err, size_t *count, const char *field, const char *reason) {
    (*count)++;
    if (err == NULL)
        return;
    size_t used = strlen(err->message);
    snprintf(err->message + used, sizeof err->message - used, "%saudit.json: %s: %s",
             used ? "\n" : "", field, reason);
}

static int64_t read_number(json_t *root, const char *field, int64_t minimum, int64_t maximum,
                           int64_t fallback, cdp_err *err, size_t *problems) {
    json_t *value = json_object_get(root, field);
    if (value == NULL)
        return fallback;
    if (!json_is_integer(value) || json_integer_value(value) < minimum ||
        json_integer_value(value) > maximum) {
        char reason[96];
        snprintf(reason, sizeof reason, "must be an integer from %lld to %lld",
                 (long long)minimum, (long long)maximum);
        add_problem(err, problems, field, reason);
        return fallback;
    }
    return (int64_t)json_integer_value(value);
}

cdp_status cdp_audit_policy_load(const char *dir, cdp_audit_policy *out, cdp_err *err) {
    char path[4096];
    json_error_t json_error;
    *out = (cdp_audit_policy){.retention_days = 2557,
                              .checkpoint_every = 1000,
                              .checkpoint_interval_ms = 60000};
    snprintf(path, sizeof path, "%s/audit.json", dir);
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return CDP_OK; /* the defaults */
    json_t *root = json_loadf(file, JSON_REJECT_DUPLICATES, &json_error);
    fclose(file);
    if (root == NULL)
        return cdp_err_set(err, CDP_BAD_POLICY, "audit.json: line %d, column %d: %s",
                           json_error.line, json_error.column, json_error.text);
    if (err != NULL)
        cdp_err_clear(err);
    size_t problems = 0;
    if (!json_is_object(root)) {
        add_problem(err, &problems, "top level", "must be an object");
    } else {
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value) {
            if (strcmp(key, "version") != 0 && strcmp(key, "retention_days") != 0 &&
                strcmp(key, "checkpoint_every") != 0 &&
                strcmp(key, "checkpoint_interval_seconds") != 0) {
                char reason[96];
                snprintf(reason, sizeof reason, "unknown key \"%.40s\"", key);
                add_problem(err, &problems, "top level", reason);
            }
        }
        if (read_number(root, "version", 1, 1, 1, err, &problems) != 1)
            add_problem(err, &problems, "version", "must be 1");
        out->retention_days = read_number(root, "retention_days", 0, 36500, 2557, err, &problems);
        out->checkpoint_every =
            (uint64_t)read_number(root, "checkpoint_every", 1, 10000000, 1000, err, &problems);
        out->checkpoint_interval_ms =
            1000 * read_number(root, "checkpoint_interval_seconds", 1, 86400, 60, err, &problems);
    }
    json_decref(root);
    if (problems > 0) {
        if (err != NULL)
            err->status = CDP_BAD_POLICY;
        return CDP_BAD_POLICY;
    }
    return CDP_OK;
}
