/* Loading and answering the identity rules of policies/identity.json. */
#include "identity/rules.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

#define MAX_TYPES 64
#define MAX_BLOCKED 256
#define MAX_STRATEGIES 128

typedef struct blocked_value {
    char type[33]; /* "*" for every type */
    char *value;
} blocked_value;

typedef struct trait_rule {
    char *name;
    cdp_trait_strategy strategy;
} trait_rule;

struct cdp_identity_rules {
    char rule_version[64];
    int max_profiles_per_merge;
    int max_merges_per_profile;
    int max_identifiers_per_profile;
    cdp_id_type_rule types[MAX_TYPES];
    size_t type_count;
    cdp_id_type_rule external_default;
    blocked_value blocked[MAX_BLOCKED];
    size_t blocked_count;
    char *phone_patterns[32];
    size_t phone_pattern_count;
    trait_rule traits[MAX_STRATEGIES];
    size_t trait_count;
    cdp_trait_strategy default_strategy;
};

/* Collects "identity.json: path: reason" lines into err. */
typedef struct problems {
    cdp_err *err;
    size_t count;
    size_t used;
} problems;

static void problem(problems *p, const char *path, const char *reason) {
    p->count++;
    if (p->err == NULL)
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "%sidentity.json: %s: %s", p->used ? "\n" : "", path,
                     reason);
    if (n < 0 || p->used + (size_t)n + 1 >= sizeof p->err->message)
        return;
    memcpy(p->err->message + p->used, line, (size_t)n + 1);
    p->used += (size_t)n;
}

static int valid_type_name(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > 32 || !islower((unsigned char)name[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) ||
              name[i] == '_'))
            return 0;
    return 1;
}

static int read_int(problems *p, json_t *object, const char *key, const char *path, int minimum,
                    int maximum, int fallback, int required) {
    json_t *value = json_object_get(object, key);
    char where[160];
    snprintf(where, sizeof where, "%s.%s", path, key);
    if (value == NULL) {
        if (required)
            problem(p, where, "required");
        return fallback;
    }
    if (!json_is_integer(value) || json_integer_value(value) < minimum ||
        json_integer_value(value) > maximum) {
        char reason[96];
        snprintf(reason, sizeof reason, "must be an integer from %d to %d", minimum, maximum);
        problem(p, where, reason);
        return fallback;
    }
    return (int)json_integer_value(value);
}

static void check_keys(problems *p, json_t *object, const char *path, const char *const *allowed) {
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        int known = 0;
        for (size_t i = 0; allowed[i] != NULL; i++)
            known |= strcmp(key, allowed[i]) == 0;
        if (!known) {
            char reason[128];
            snprintf(reason, sizeof reason, "unknown key \"%.60s\"", key);
            problem(p, path, reason);
        }
    }
}

static void read_type_rule(problems *p, json_t *object, const char *path, const char *name,
                           cdp_id_type_rule *out) {
    static const char *const keys[] = {"unique", "max", "priority", "window_days",
                                       "max_in_window", "weak", NULL};
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "%s", name);
    if (!json_is_object(object)) {
        problem(p, path, "must be an object");
        return;
    }
    check_keys(p, object, path, keys);
    json_t *unique = json_object_get(object, "unique");
    if (unique != NULL && !json_is_boolean(unique))
        problem(p, path, "unique: must be true or false");
    out->unique = json_is_true(unique);
    json_t *weak = json_object_get(object, "weak");
    if (weak != NULL && !json_is_boolean(weak))
        problem(p, path, "weak: must be true or false");
    out->weak = json_is_true(weak);
    out->max = read_int(p, object, "max", path, 1, 100000, 1, 1);
    out->priority = read_int(p, object, "priority", path, 0, 1000, 0, 1);
    out->window_days = read_int(p, object, "window_days", path, 1, 3650, 0, 0);
    out->max_in_window = read_int(p, object, "max_in_window", path, 1, 100000, 0, 0);
    if ((out->window_days == 0) != (out->max_in_window == 0))
        problem(p, path, "window_days and max_in_window go together");
    if (out->unique && out->max != 1)
        problem(p, path, "a unique type must have max 1");
}

static int parse_strategy(const char *text, cdp_trait_strategy *out) {
    static const struct {
        const char *name;
        cdp_trait_strategy strategy;
    } names[] = {{"newest", CDP_TRAIT_NEWEST},
                 {"oldest", CDP_TRAIT_OLDEST},
                 {"first_non_empty", CDP_TRAIT_FIRST_NON_EMPTY},
                 {"union", CDP_TRAIT_UNION}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].strategy;
            return 1;
        }
    return 0;
}

static void add_blocked(problems *p, cdp_identity_rules *rules, const char *type, json_t *list,
                        const char *path) {
    size_t index;
    json_t *item;
    if (!json_is_array(list)) {
        problem(p, path, "must be an array of strings");
        return;
    }
    json_array_foreach(list, index, item) {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            char where[160];
            snprintf(where, sizeof where, "%s[%zu]", path, index);
            problem(p, where, "must be a non-empty string");
            continue;
        }
        if (strcmp(type, "phone_patterns") == 0) {
            if (rules->phone_pattern_count < 32)
                rules->phone_patterns[rules->phone_pattern_count++] =
                    cdp_strdup(json_string_value(item));
            continue;
        }
        if (rules->blocked_count == MAX_BLOCKED) {
            problem(p, path, "more than 256 blocked values");
            return;
        }
        blocked_value *entry = &rules->blocked[rules->blocked_count++];
        snprintf(entry->type, sizeof entry->type, "%s", type);
        entry->value = cdp_strdup(json_string_value(item));
        /* Compared against lower-cased normalized values. */
        for (char *c = entry->value; c != NULL && *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
}

static void read_rules(problems *p, json_t *root, cdp_identity_rules *rules) {
    static const char *const top_keys[] = {"version", "rule_version", "max_profiles_per_merge",
                                           "max_merges_per_profile", "max_identifiers_per_profile",
                                           "identifier_types", "external_id_default",
                                           "blocked_values", "traits", NULL};
    if (!json_is_object(root)) {
        problem(p, "top level", "must be an object");
        return;
    }
    check_keys(p, root, "top level", top_keys);
    if (read_int(p, root, "version", "top level", 1, 1, 1, 1) != 1)
        return;
    json_t *version = json_object_get(root, "rule_version");
    if (!json_is_string(version) || json_string_length(version) == 0 ||
        json_string_length(version) >= sizeof rules->rule_version)
        problem(p, "rule_version", "must be a string of 1 to 63 characters");
    else
        snprintf(rules->rule_version, sizeof rules->rule_version, "%s",
                 json_string_value(version));
    rules->max_profiles_per_merge =
        read_int(p, root, "max_profiles_per_merge", "top level", 2, 1000, 5, 1);
    rules->max_merges_per_profile =
        read_int(p, root, "max_merges_per_profile", "top level", 1, 100000, 100, 1);
    rules->max_identifiers_per_profile =
        read_int(p, root, "max_identifiers_per_profile", "top level", 1, 100000, 1000, 1);

    json_t *types = json_object_get(root, "identifier_types");
    const char *name;
    json_t *value;
    if (!json_is_object(types)) {
        problem(p, "identifier_types", "required object");
    } else {
        json_object_foreach(types, name, value) {
            char path[96];
            snprintf(path, sizeof path, "identifier_types.%.40s", name);
            if (!valid_type_name(name)) {
                problem(p, path, "type names must match [a-z][a-z0-9_]{0,31}");
                continue;
            }
            if (rules->type_count == MAX_TYPES) {
                problem(p, path, "more than 64 identifier types");
                break;
            }
            read_type_rule(p, value, path, name, &rules->types[rules->type_count++]);
        }
        static const char *const required[] = {"user_id", "anonymous_id", "email", "phone",
                                               "device_id"};
        for (size_t i = 0; i < 5; i++)
            if (json_object_get(types, required[i]) == NULL) {
                char path[96];
                snprintf(path, sizeof path, "identifier_types.%s", required[i]);
                problem(p, path, "required (every Segment identifier needs a rule)");
            }
    }
    json_t *external = json_object_get(root, "external_id_default");
    if (external == NULL)
        problem(p, "external_id_default", "required object");
    else
        read_type_rule(p, external, "external_id_default", "external", &rules->external_default);

    json_t *blocked = json_object_get(root, "blocked_values");
    if (blocked != NULL) {
        if (!json_is_object(blocked)) {
            problem(p, "blocked_values", "must be an object");
        } else {
            json_object_foreach(blocked, name, value) {
                char path[96];
                snprintf(path, sizeof path, "blocked_values.%.40s", name);
                if (strcmp(name, "*") != 0 && strcmp(name, "phone_patterns") != 0 &&
                    !valid_type_name(name))
                    problem(p, path, "keys are \"*\", \"phone_patterns\" or identifier types");
                else
                    add_blocked(p, rules, name, value, path);
            }
        }
    }
    json_t *traits = json_object_get(root, "traits");
    if (traits != NULL) {
        static const char *const trait_keys[] = {"default_strategy", "strategies", NULL};
        if (!json_is_object(traits)) {
            problem(p, "traits", "must be an object");
            return;
        }
        check_keys(p, traits, "traits", trait_keys);
        json_t *fallback = json_object_get(traits, "default_strategy");
        if (fallback != NULL && (!json_is_string(fallback) ||
                                 !parse_strategy(json_string_value(fallback),
                                                 &rules->default_strategy)))
            problem(p, "traits.default_strategy",
                    "must be newest, oldest, first_non_empty or union");
        json_t *strategies = json_object_get(traits, "strategies");
        if (strategies != NULL && !json_is_object(strategies))
            problem(p, "traits.strategies", "must be an object");
        else if (strategies != NULL) {
            json_object_foreach(strategies, name, value) {
                char path[96];
                snprintf(path, sizeof path, "traits.strategies.%.40s", name);
                cdp_trait_strategy strategy;
                if (!json_is_string(value) || !parse_strategy(json_string_value(value), &strategy))
                    problem(p, path, "must be newest, oldest, first_non_empty or union");
                else if (rules->trait_count < MAX_STRATEGIES) {
                    rules->traits[rules->trait_count].name = cdp_strdup(name);
                    rules->traits[rules->trait_count++].strategy = strategy;
                }
            }
        }
    }
}

void cdp_identity_rules_free(cdp_identity_rules *rules) {
    if (rules == NULL)
        return;
    for (size_t i = 0; i < rules->blocked_count; i++)
        cdp_free(rules->blocked[i].value);
    for (size_t i = 0; i < rules->phone_pattern_count; i++)
        cdp_free(rules->phone_patterns[i]);
    for (size_t i = 0; i < rules->trait_count; i++)
        cdp_free(rules->traits[i].name);
    cdp_free(rules);
}

cdp_status cdp_identity_rules_load(const char *dir, cdp_identity_rules **out, cdp_err *err) {
    char path[4096];
    json_error_t json_error;
    *out = NULL;
    snprintf(path, sizeof path, "%s/identity.json", dir);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        if (json_error.line == -1 && strstr(json_error.text, "unable to open") != NULL) {
            /* No file: the defaults the project ships (the repository's policies/). */
#ifdef CDP_DEFAULT_POLICY_DIR
            if (strcmp(dir, CDP_DEFAULT_POLICY_DIR) != 0)
                return cdp_identity_rules_load(CDP_DEFAULT_POLICY_DIR, out, err);
#endif
            return cdp_err_set(err, CDP_BAD_POLICY, "identity.json: cannot read %s", path);
        }
        return cdp_err_set(err, CDP_BAD_POLICY, "identity.json: line %d, column %d: %s",
                           json_error.line, json_error.column, json_error.text);
    }
    cdp_identity_rules *rules = cdp_calloc(1, sizeof *rules);
    if (rules == NULL) {
        json_decref(root);
        return cdp_err_set(err, CDP_NOMEM, "identity.json: out of memory");
    }
    if (err != NULL)
        cdp_err_clear(err);
    problems p = {.err = err};
    read_rules(&p, root, rules);
    json_decref(root);
    for (size_t i = 0; i < rules->blocked_count; i++)
        if (rules->blocked[i].value == NULL)
            p.count++; /* allocation failure */
    if (p.count > 0) {
        cdp_identity_rules_free(rules);
        if (err != NULL)
            err->status = CDP_BAD_POLICY;
        return CDP_BAD_POLICY;
    }
    *out = rules;
    return CDP_OK;
}

const cdp_id_type_rule *cdp_identity_rule(const cdp_identity_rules *rules, const char *type) {
    for (size_t i = 0; i < rules->type_count; i++)
        if (strcmp(rules->types[i].type, type) == 0)
            return &rules->types[i];
    return &rules->external_default;
}

int cdp_identity_blocked(const cdp_identity_rules *rules, const char *type, const char *value) {
    for (size_t i = 0; i < rules->blocked_count; i++) {
        const blocked_value *entry = &rules->blocked[i];
        if ((entry->type[0] == '*' || strcmp(entry->type, type) == 0) &&
            strcasecmp(entry->value, value) == 0)
            return 1;
    }
    if (strcmp(type, "phone") == 0) {
        /* Numbers whose national digits are a placeholder such as 0000000000. */
        for (size_t i = 0; i < rules->phone_pattern_count; i++) {
            size_t value_len = strlen(value), pattern_len = strlen(rules->phone_patterns[i]);
            if (value_len >= pattern_len &&
                strcmp(value + value_len - pattern_len, rules->phone_patterns[i]) == 0)
                return 1;
        }
    }
    return 0;
}

cdp_trait_strategy cdp_identity_trait_strategy(const cdp_identity_rules *rules,
                                               const char *trait) {
    for (size_t i = 0; i < rules->trait_count; i++)
        if (strcmp(rules->traits[i].name, trait) == 0)
            return rules->traits[i].strategy;
    return rules->default_strategy;
}

const char *cdp_identity_rule_version(const cdp_identity_rules *rules) {
    return rules->rule_version;
}
int cdp_identity_max_profiles_per_merge(const cdp_identity_rules *rules) {
    return rules->max_profiles_per_merge;
}
int cdp_identity_max_merges_per_profile(const cdp_identity_rules *rules) {
    return rules->max_merges_per_profile;
}
int cdp_identity_max_identifiers_per_profile(const cdp_identity_rules *rules) {
    return rules->max_identifiers_per_profile;
}
