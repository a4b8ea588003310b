/* Loading the privacy half of the policy bundle: categories.json, purposes.json, regimes.json,
 * transfers.json, retention.json, tcf.json and the "purposes" of roles.json. Every problem of
 * every file is reported as "file: path: reason" before the bundle is refused. A check against
 * another file (a purpose's categories, a rule's regions) runs only when that file loaded
 * cleanly, so one typo is reported once, where it is, not again by every file naming it. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/privacy_internal.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define POLICY_FILE_MAX ((size_t)1 << 20) /* as regions.json: hand-written files are small */
#define PRIVACY_VERSION 1
#define ID_MIN 2
#define ID_MAX 32
#define TRAIT_NAME_MAX 64
#define RETENTION_DAYS_MAX 36500
#define MS_PER_DAY INT64_C(86400000)
#define PATH_TEXT 200
#define QUOTED_MAX CDP_POLICY_QUOTED_MAX
#define BLOCK_SIZE 4096

struct privacy_block {
    struct privacy_block *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

static const char *const lawful_bases[] = {
    "consent",          "contract",       "legitimate_interest",
    "legal_obligation", "vital_interest", "public_task"};
static const char *const transfer_bases[] = {"adequacy", "scc", "bcr", "consent", "unrestricted"};
static const char *const event_types[] = {"identify", "track", "page", "screen", "group", "alias"};

typedef struct ploader {
    const cdp_policy_reporter *reporter;
    const char *file;
    size_t problems; /* in the current file */
    cdp_privacy *privacy;
    const cdp_policy *regions; /* NULL: regions.json was refused */
    int categories_ok;
    int purposes_ok;
    int regimes_ok;
} ploader;

/* ---- arena -------------------------------------------------------------------------------- */

static void *arena_alloc(cdp_privacy *privacy, size_t size) {
    size_t align = _Alignof(max_align_t);
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + align - 1) / align * align;
    privacy_block *block = privacy->arena;
    if (block == NULL || block->cap - block->used < size) {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        block = cdp_malloc(sizeof(privacy_block) + cap);
        if (block == NULL)
            return NULL;
        block->next = privacy->arena;
        block->used = 0;
        block->cap = cap;
        privacy->arena = block;
    }
    unsigned char *memory = (unsigned char *)block->data + block->used;
    block->used += size;
    memset(memory, 0, size);
    return memory;
}

static const char *arena_strdup(cdp_privacy *privacy, const char *text) {
    size_t len = strlen(text);
    char *copy = arena_alloc(privacy, len + 1);
    if (copy != NULL)
        memcpy(copy, text, len + 1);
    return copy;
}

void cdp_privacy_free(cdp_privacy *privacy) {
    if (privacy == NULL)
        return;
    privacy_block *block = privacy->arena;
    while (block != NULL) {
        privacy_block *next = block->next;
        cdp_free(block);
        block = next;
    }
    cdp_free(privacy);
}

/* ---- reporting ---------------------------------------------------------------------------- */

static void problem(ploader *ld, const char *path, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(ploader *ld, const char *path, const char *format, ...) {
    char reason[512];
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    ld->problems++;
    ld->reporter->add(ld->reporter->context, ld->file, path, reason);
}

/* "parent.key", or "parent[\"key\"]" for a key that is not a plain word */
static const char *child(char out[PATH_TEXT], const char *parent, const char *key) {
    int plain = *key != '\0' && strlen(key) <= 40;
    for (const char *c = key; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            plain = 0;
    if (plain) {
        snprintf(out, PATH_TEXT, "%s%s%s", parent ? parent : "", parent ? "." : "", key);
    } else {
        char quote[QUOTED_MAX];
        snprintf(out, PATH_TEXT, "%s[%s]", parent ? parent : "", cdp_policy_quoted(quote, key));
    }
    return out;
}

static const char *element(char out[PATH_TEXT], const char *parent, size_t index) {
    if (snprintf(out, PATH_TEXT, "%s[%zu]", parent, index) >= PATH_TEXT)
        memcpy(out + PATH_TEXT - 4, "...", 4); /* paths here are short; never in practice */
    return out;
}

static const char *type_name(const json_t *value) {
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
    default:
        return "null";
    }
}

typedef enum kind { KIND_STRING, KIND_INTEGER, KIND_BOOLEAN, KIND_ARRAY, KIND_OBJECT } kind;

static int check_kind(ploader *ld, const char *path, const json_t *value, kind wanted) {
    static const char *const names[] = {"a string", "an integer", "true or false", "an array",
                                        "an object"};
    int ok = wanted == KIND_STRING    ? json_is_string(value)
             : wanted == KIND_INTEGER ? json_is_integer(value)
             : wanted == KIND_BOOLEAN ? json_is_boolean(value)
             : wanted == KIND_ARRAY   ? json_is_array(value)
                                      : json_is_object(value);
    if (!ok)
        problem(ld, path, "must be %s, not %s", names[wanted], type_name(value));
    return ok;
}

/* The member of the right kind, else NULL after reporting a missing required one or a wrong
 * kind. */
static json_t *member(ploader *ld, const char *parent, json_t *object, const char *key, kind wanted,
                      int required) {
    json_t *value = json_object_get(object, key);
    if (value == NULL) {
        if (required)
            problem(ld, parent ? parent : "top level", "missing required key \"%s\"", key);
        return NULL;
    }
    char path[PATH_TEXT];
    return check_kind(ld, child(path, parent, key), value, wanted) ? value : NULL;
}

/* Every key not in known is refused (a typo must not silently drop a setting), with the
 * nearest known key as a hint. */
static void check_keys(ploader *ld, const char *parent, json_t *object, const char *const *known,
                       size_t known_count) {
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        const char *nearest = NULL;
        if (cdp_policy_key_known(key, known, known_count, &nearest))
            continue;
        char quote[QUOTED_MAX];
        if (nearest != NULL)
            problem(ld, parent ? parent : "top level", "unknown key %s (did you mean \"%s\"?)",
                    cdp_policy_quoted(quote, key), nearest);
        else
            problem(ld, parent ? parent : "top level", "unknown key %s",
                    cdp_policy_quoted(quote, key));
    }
}

static int valid_id(const char *id) {
    size_t len = strlen(id);
    if (len < ID_MIN || len > ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
            return 0;
    return id[0] >= 'a' && id[0] <= 'z';
}

/* A string member that is a well-formed id ([a-z][a-z0-9_]{1,31}), else NULL (reported). */
static const char *id_member(ploader *ld, const char *parent, json_t *object, const char *key) {
    json_t *value = member(ld, parent, object, key, KIND_STRING, 1);
    if (value == NULL)
        return NULL;
    const char *id = json_string_value(value);
    if (valid_id(id))
        return id;
    char path[PATH_TEXT], quote[QUOTED_MAX];
    problem(ld, child(path, parent, key),
            "invalid id %s (expected %d to %d of a-z, 0-9 and _, "
            "starting with a letter)",
            cdp_policy_quoted(quote, id), ID_MIN, ID_MAX);
    return NULL;
}

static int in_list(const char *const *list, size_t count, const char *text) {
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], text) == 0)
            return 1;
    return 0;
}

/* ---- lookups inside the loader ------------------------------------------------------------ */

static const char *known_category(const cdp_privacy *privacy, const char *id) {
    for (size_t i = 0; i < privacy->category_count; i++)
        if (strcmp(privacy->categories[i].id, id) == 0)
            return privacy->categories[i].id;
    return NULL;
}

static const char *known_purpose(const cdp_privacy *privacy, const char *id) {
    for (size_t i = 0; i < privacy->purpose_count; i++)
        if (strcmp(privacy->purposes[i].id, id) == 0)
            return privacy->purposes[i].id;
    return NULL;
}

static int known_regime(const cdp_privacy *privacy, const char *id) {
    for (size_t i = 0; i < privacy->regime_count; i++)
        if (strcmp(privacy->regimes[i].id, id) == 0)
            return 1;
    return 0;
}

typedef enum list_of { LIST_CATEGORIES, LIST_PURPOSES } list_of;

/* An array of category or purpose ids into *out (arena copies of the canonical ids). With
 * allow_all, ["*"] stands for every one. Unknown, duplicate and misplaced "*" entries are
 * reported; the list is checked only when the file it refers to loaded cleanly. */
static cdp_status parse_id_list(ploader *ld, const char *path, json_t *array, list_of of,
                                int allow_all, int allow_empty, privacy_list *out) {
    cdp_privacy *privacy = ld->privacy;
    int checkable = of == LIST_CATEGORIES ? ld->categories_ok : ld->purposes_ok;
    const char *what = of == LIST_CATEGORIES ? "category" : "purpose";
    size_t universe = of == LIST_CATEGORIES ? privacy->category_count : privacy->purpose_count;
    size_t count = json_array_size(array);
    char item_path[PATH_TEXT], quote[QUOTED_MAX];
    out->items = NULL;
    out->count = 0;
    if (count == 0) {
        if (!allow_empty)
            problem(ld, path, "must not be empty");
        return CDP_OK;
    }
    json_t *first = json_array_get(array, 0);
    if (allow_all && json_is_string(first) && strcmp(json_string_value(first), "*") == 0) {
        if (count > 1) {
            problem(ld, path, "\"*\" (every %s) must be the only entry", what);
            return CDP_OK;
        }
        if (!checkable)
            return CDP_OK;
        const char **items = arena_alloc(privacy, universe * sizeof *items);
        if (items == NULL)
            return CDP_NOMEM;
        for (size_t i = 0; i < universe; i++)
            items[i] = of == LIST_CATEGORIES ? privacy->categories[i].id : privacy->purposes[i].id;
        out->items = items;
        out->count = universe;
        return CDP_OK;
    }
    const char **items = arena_alloc(privacy, count * sizeof *items);
    if (items == NULL)
        return CDP_NOMEM;
    size_t index;
    json_t *value;
    json_array_foreach(array, index, value) {
        element(item_path, path, index);
        if (!check_kind(ld, item_path, value, KIND_STRING))
            continue;
        const char *id = json_string_value(value);
        if (strcmp(id, "*") == 0) {
            problem(ld, item_path, "\"*\" (every %s) must be the only entry", what);
            continue;
        }
        if (!checkable)
            continue;
        const char *canonical =
            of == LIST_CATEGORIES ? known_category(privacy, id) : known_purpose(privacy, id);
        if (canonical == NULL) {
            problem(ld, item_path, "unknown %s %s", what, cdp_policy_quoted(quote, id));
        } else if (in_list(items, out->count, canonical)) {
            problem(ld, item_path, "%s %s is listed twice", what, cdp_policy_quoted(quote, id));
        } else {
            items[out->count++] = canonical;
        }
    }
    out->items = items;
    return CDP_OK;
}

/* ---- files -------------------------------------------------------------------------------- */

/* Reads and parses dir/file; NULL (reported) when it cannot. CDP_NOMEM only for memory. */
static cdp_status open_file(ploader *ld, const char *dir, const char *file, json_t **root) {
    *root = NULL;
    ld->file = file;
    ld->problems = 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        problem(ld, NULL, "cannot read: directory path too long");
        return CDP_OK;
    }
    uint8_t *bytes = NULL;
    size_t length = 0;
    cdp_err read_err = {0};
    cdp_status status = cdp_file_read(path, POLICY_FILE_MAX, &bytes, &length, &read_err);
    if (status == CDP_NOMEM)
        return status;
    if (status != CDP_OK) {
        problem(ld, NULL, "cannot read: %s", read_err.message);
        return CDP_OK;
    }
    json_error_t error;
    *root = json_loadb((const char *)bytes, length, JSON_REJECT_DUPLICATES, &error);
    cdp_free(bytes);
    if (*root == NULL) {
        if (error.line > 0)
            problem(ld, NULL, "line %d, column %d: invalid JSON: %s", error.line, error.column,
                    error.text);
        else
            problem(ld, NULL, "invalid JSON: %s", error.text);
    }
    return CDP_OK;
}

/* The checks every privacy file shares: an object of known keys with "version": 1 and a
 * non-empty "description". 0 when the top level is not an object. */
static int check_top(ploader *ld, json_t *root, const char *const *known, size_t known_count) {
    if (!json_is_object(root)) {
        problem(ld, "top level", "must be an object, not %s", type_name(root));
        return 0;
    }
    check_keys(ld, NULL, root, known, known_count);
    json_t *version = member(ld, NULL, root, "version", KIND_INTEGER, 1);
    if (version != NULL && json_integer_value(version) != PRIVACY_VERSION)
        problem(ld, "version", "unsupported version %" JSON_INTEGER_FORMAT " (expected %d)",
                json_integer_value(version), PRIVACY_VERSION);
    json_t *description = member(ld, NULL, root, "description", KIND_STRING, 1);
    if (description != NULL && json_string_length(description) == 0)
        problem(ld, "description", "must not be empty");
    return 1;
}

#define COUNT(array) (sizeof(array) / sizeof *(array))

/* ---- categories.json ---------------------------------------------------------------------- */

static int valid_trait_name(const char *name, int *prefix) {
    size_t len = strlen(name);
    *prefix = len > 2 && name[len - 2] == '.' && name[len - 1] == '*';
    size_t end = *prefix ? len - 2 : len;
    if (end == 0 || len > TRAIT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < end; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '$'))
            return 0;
    }
    return name[0] != '.' && name[end - 1] != '.';
}

/* The entries of a trait map ("traits" or "tenant_traits") appended to privacy->traits. */
static cdp_status parse_trait_map(ploader *ld, const char *parent, json_t *object,
                                  size_t builtin_count) {
    cdp_privacy *privacy = ld->privacy;
    char path[PATH_TEXT], quote[QUOTED_MAX], quote2[QUOTED_MAX];
    const char *name;
    json_t *value;
    json_object_foreach(object, name, value) {
        child(path, parent, name);
        int prefix = 0;
        if (!valid_trait_name(name, &prefix)) {
            problem(ld, path,
                    "invalid trait name %s (expected up to %d of A-Z, a-z, 0-9, _, -, "
                    "$ and inner dots, or \"prefix.*\")",
                    cdp_policy_quoted(quote, name), TRAIT_NAME_MAX);
            continue;
        }
        if (!check_kind(ld, path, value, KIND_STRING))
            continue;
        const char *category = known_category(privacy, json_string_value(value));
        if (category == NULL) {
            problem(ld, path, "unknown category %s",
                    cdp_policy_quoted(quote, json_string_value(value)));
            continue;
        }
        size_t stored_len = prefix ? strlen(name) - 1 : strlen(name); /* keeps the dot */
        size_t clash = 0;
        while (clash < builtin_count &&
               !(privacy->traits[clash].prefix == prefix &&
                 strlen(privacy->traits[clash].name) == stored_len &&
                 strncmp(privacy->traits[clash].name, name, stored_len) == 0))
            clash++;
        if (clash < builtin_count) {
            problem(ld, path, "%s is already classified in traits as %s",
                    cdp_policy_quoted(quote, name),
                    cdp_policy_quoted(quote2, privacy->traits[clash].category));
            continue;
        }
        char *stored = arena_alloc(privacy, stored_len + 1);
        if (stored == NULL)
            return CDP_NOMEM;
        memcpy(stored, name, stored_len);
        stored[stored_len] = '\0';
        privacy->traits[privacy->trait_count++] =
            (privacy_trait){.name = stored, .category = category, .prefix = prefix};
    }
    return CDP_OK;
}

static cdp_status parse_categories(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "categories",   "unmapped",
                                      "traits",  "events",      "tenant_traits"};
    static const char *const entry_keys[] = {"id", "description", "sensitive"};
    cdp_privacy *privacy = ld->privacy;
    char parent[PATH_TEXT], path[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;

    json_t *categories = member(ld, NULL, root, "categories", KIND_ARRAY, 1);
    if (categories != NULL && json_array_size(categories) == 0)
        problem(ld, "categories", "must not be empty");
    if (categories != NULL && json_array_size(categories) > 0) {
        privacy->categories =
            arena_alloc(privacy, json_array_size(categories) * sizeof *privacy->categories);
        if (privacy->categories == NULL)
            return CDP_NOMEM;
        size_t index;
        json_t *entry;
        json_array_foreach(categories, index, entry) {
            element(parent, "categories", index);
            if (!check_kind(ld, parent, entry, KIND_OBJECT))
                continue;
            check_keys(ld, parent, entry, entry_keys, COUNT(entry_keys));
            const char *id = id_member(ld, parent, entry, "id");
            member(ld, parent, entry, "description", KIND_STRING, 1);
            json_t *sensitive = member(ld, parent, entry, "sensitive", KIND_BOOLEAN, 1);
            if (id == NULL || sensitive == NULL)
                continue;
            if (known_category(privacy, id) != NULL) {
                problem(ld, child(path, parent, "id"), "duplicate category %s",
                        cdp_policy_quoted(quote, id));
                continue;
            }
            cdp_category_policy *category = &privacy->categories[privacy->category_count];
            if ((category->id = arena_strdup(privacy, id)) == NULL)
                return CDP_NOMEM;
            category->sensitive = json_is_true(sensitive);
            privacy->category_count++;
        }
    }

    json_t *unmapped = member(ld, NULL, root, "unmapped", KIND_STRING, 1);
    if (unmapped != NULL) {
        const char *id = known_category(privacy, json_string_value(unmapped));
        const cdp_category_policy *found = NULL;
        for (size_t i = 0; id != NULL && i < privacy->category_count; i++)
            if (privacy->categories[i].id == id)
                found = &privacy->categories[i];
        if (found == NULL)
            problem(ld, "unmapped", "unknown category %s",
                    cdp_policy_quoted(quote, json_string_value(unmapped)));
        else if (found->sensitive)
            problem(ld, "unmapped",
                    "category %s is sensitive; the unmapped category must be the strictest "
                    "non-sensitive one",
                    cdp_policy_quoted(quote, id));
        else
            privacy->unmapped = found->id;
    }

    json_t *traits = member(ld, NULL, root, "traits", KIND_OBJECT, 1);
    json_t *tenant = member(ld, NULL, root, "tenant_traits", KIND_OBJECT, 0);
    size_t total = json_object_size(traits) + json_object_size(tenant);
    if (total > 0 &&
        (privacy->traits = arena_alloc(privacy, total * sizeof *privacy->traits)) == NULL)
        return CDP_NOMEM;
    cdp_status status = CDP_OK;
    if (traits != NULL)
        status = parse_trait_map(ld, "traits", traits, 0);
    if (status == CDP_OK && tenant != NULL)
        status = parse_trait_map(ld, "tenant_traits", tenant, privacy->trait_count);
    if (status != CDP_OK)
        return status;

    json_t *events = member(ld, NULL, root, "events", KIND_OBJECT, 1);
    if (events != NULL && json_object_size(events) > 0) {
        privacy->events = arena_alloc(privacy, json_object_size(events) * sizeof *privacy->events);
        if (privacy->events == NULL)
            return CDP_NOMEM;
        const char *type;
        json_t *value;
        json_object_foreach(events, type, value) {
            child(path, "events", type);
            if (!in_list(event_types, COUNT(event_types), type)) {
                problem(ld, path,
                        "unknown Segment event type %s (expected identify, track, page, screen, "
                        "group or alias)",
                        cdp_policy_quoted(quote, type));
                continue;
            }
            if (!check_kind(ld, path, value, KIND_STRING))
                continue;
            const char *category = known_category(privacy, json_string_value(value));
            if (category == NULL) {
                problem(ld, path, "unknown category %s",
                        cdp_policy_quoted(quote, json_string_value(value)));
                continue;
            }
            privacy_event *event = &privacy->events[privacy->event_count++];
            event->category = category;
            if ((event->type = arena_strdup(privacy, type)) == NULL)
                return CDP_NOMEM;
        }
    }
    return CDP_OK;
}

/* ---- purposes.json ------------------------------------------------------------------------ */

static cdp_status parse_purposes(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "purposes"};
    static const char *const entry_keys[] = {"id", "description", "bases", "sale_share",
                                             "categories"};
    cdp_privacy *privacy = ld->privacy;
    char parent[PATH_TEXT], path[PATH_TEXT], item[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *purposes = member(ld, NULL, root, "purposes", KIND_ARRAY, 1);
    if (purposes == NULL)
        return CDP_OK;
    if (json_array_size(purposes) == 0) {
        problem(ld, "purposes", "must not be empty");
        return CDP_OK;
    }
    privacy->purposes = arena_alloc(privacy, json_array_size(purposes) * sizeof *privacy->purposes);
    if (privacy->purposes == NULL)
        return CDP_NOMEM;
    size_t index;
    json_t *entry;
    json_array_foreach(purposes, index, entry) {
        element(parent, "purposes", index);
        if (!check_kind(ld, parent, entry, KIND_OBJECT))
            continue;
        check_keys(ld, parent, entry, entry_keys, COUNT(entry_keys));
        cdp_purpose_policy purpose = {0};
        size_t before = ld->problems;
        const char *id = id_member(ld, parent, entry, "id");
        if (id != NULL && strcmp(id, "sensitive_data") == 0) {
            problem(ld, child(path, parent, "id"),
                    "\"sensitive_data\" is not a purpose: the CPRA limit on sensitive data is "
                    "the consent state of that name, read separately");
            id = NULL;
        } else if (id != NULL && known_purpose(privacy, id) != NULL) {
            problem(ld, child(path, parent, "id"), "duplicate purpose %s",
                    cdp_policy_quoted(quote, id));
            id = NULL;
        }
        json_t *description = member(ld, parent, entry, "description", KIND_STRING, 1);
        json_t *sale_share = member(ld, parent, entry, "sale_share", KIND_BOOLEAN, 1);
        json_t *bases = member(ld, parent, entry, "bases", KIND_ARRAY, 1);
        if (bases != NULL && json_array_size(bases) == 0)
            problem(ld, child(path, parent, "bases"), "must not be empty");
        if (bases != NULL && json_array_size(bases) > 0) {
            const char **list = arena_alloc(privacy, json_array_size(bases) * sizeof *list);
            if (list == NULL)
                return CDP_NOMEM;
            size_t position;
            json_t *value;
            child(path, parent, "bases");
            json_array_foreach(bases, position, value) {
                element(item, path, position);
                if (!check_kind(ld, item, value, KIND_STRING))
                    continue;
                const char *basis = json_string_value(value);
                size_t known = 0;
                while (known < COUNT(lawful_bases) && strcmp(lawful_bases[known], basis) != 0)
                    known++;
                if (known == COUNT(lawful_bases))
                    problem(ld, item, "unknown lawful basis %s", cdp_policy_quoted(quote, basis));
                else if (in_list(list, purpose.basis_count, basis))
                    problem(ld, item, "lawful basis %s is listed twice",
                            cdp_policy_quoted(quote, basis));
                else
                    list[purpose.basis_count++] = lawful_bases[known];
            }
            purpose.bases = list;
        }
        json_t *categories = member(ld, parent, entry, "categories", KIND_ARRAY, 1);
        if (categories != NULL) {
            privacy_list list;
            cdp_status status = parse_id_list(ld, child(path, parent, "categories"), categories,
                                              LIST_CATEGORIES, 1, 0, &list);
            if (status != CDP_OK)
                return status;
            purpose.categories = list.items;
            purpose.category_count = list.count;
        }
        if (id == NULL || ld->problems != before)
            continue;
        purpose.sale_share = json_is_true(sale_share);
        if ((purpose.id = arena_strdup(privacy, id)) == NULL ||
            (purpose.description = arena_strdup(privacy, json_string_value(description))) == NULL)
            return CDP_NOMEM;
        privacy->purposes[privacy->purpose_count++] = purpose;
    }
    return CDP_OK;
}

/* ---- regimes.json ------------------------------------------------------------------------- */

static cdp_status parse_regimes(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "regimes"};
    static const char *const entry_keys[] = {
        "id", "name", "model", "honours_gpc", "sensitive_needs_consent", "note"};
    cdp_privacy *privacy = ld->privacy;
    char parent[PATH_TEXT], path[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *regimes = member(ld, NULL, root, "regimes", KIND_ARRAY, 1);
    if (regimes == NULL)
        return CDP_OK;
    if (json_array_size(regimes) == 0) {
        problem(ld, "regimes", "must not be empty");
        return CDP_OK;
    }
    privacy->regimes = arena_alloc(privacy, json_array_size(regimes) * sizeof *privacy->regimes);
    if (privacy->regimes == NULL)
        return CDP_NOMEM;
    size_t index;
    json_t *entry;
    json_array_foreach(regimes, index, entry) {
        element(parent, "regimes", index);
        if (!check_kind(ld, parent, entry, KIND_OBJECT))
            continue;
        check_keys(ld, parent, entry, entry_keys, COUNT(entry_keys));
        size_t before = ld->problems;
        const char *id = id_member(ld, parent, entry, "id");
        if (id != NULL && known_regime(privacy, id))
            problem(ld, child(path, parent, "id"), "duplicate regime %s",
                    cdp_policy_quoted(quote, id));
        json_t *name = member(ld, parent, entry, "name", KIND_STRING, 1);
        json_t *model = member(ld, parent, entry, "model", KIND_STRING, 1);
        cdp_consent_model parsed = CDP_MODEL_OPT_IN;
        if (model != NULL) {
            const char *text = json_string_value(model);
            if (strcmp(text, "opt_out") == 0)
                parsed = CDP_MODEL_OPT_OUT;
            else if (strcmp(text, "opt_in") != 0)
                problem(ld, child(path, parent, "model"),
                        "must be \"opt_in\" or \"opt_out\", not %s",
                        cdp_policy_quoted(quote, text));
        }
        json_t *gpc = member(ld, parent, entry, "honours_gpc", KIND_BOOLEAN, 1);
        json_t *sensitive = member(ld, parent, entry, "sensitive_needs_consent", KIND_BOOLEAN, 1);
        member(ld, parent, entry, "note", KIND_STRING, 0);
        if (ld->problems != before || id == NULL || name == NULL || model == NULL || gpc == NULL ||
            sensitive == NULL)
            continue;
        cdp_regime_policy *regime = &privacy->regimes[privacy->regime_count];
        regime->model = parsed;
        regime->honours_gpc = json_is_true(gpc);
        regime->sensitive_needs_consent = json_is_true(sensitive);
        if ((regime->id = arena_strdup(privacy, id)) == NULL ||
            (regime->name = arena_strdup(privacy, json_string_value(name))) == NULL)
            return CDP_NOMEM;
        privacy->regime_count++;
    }
    return CDP_OK;
}

/* Every regime id regions.json names (a region's, a subdivision's, a country's) must be in
 * regimes.json: a typo there would otherwise fall to the strictest default unnoticed. */
static void check_region_regimes(ploader *ld) {
    const cdp_policy *regions = ld->regions;
    char path[PATH_TEXT], parent[PATH_TEXT], quote[QUOTED_MAX];
    ld->file = "regions.json";
    for (size_t i = 0; i < cdp_policy_region_count(regions); i++) {
        const cdp_region_policy *region = cdp_policy_region_at(regions, i);
        snprintf(parent, sizeof parent, "regions[%zu]", i);
        if (!known_regime(ld->privacy, region->regime))
            problem(ld, child(path, parent, "regime"), "unknown regime %s",
                    cdp_policy_quoted(quote, region->regime));
        for (size_t s = 0; s < region->subdivision_count; s++) {
            char subdivisions[PATH_TEXT];
            child(subdivisions, parent, "subdivisions");
            if (!known_regime(ld->privacy, region->subdivisions[s].regime))
                problem(ld, child(path, subdivisions, region->subdivisions[s].code),
                        "unknown regime %s",
                        cdp_policy_quoted(quote, region->subdivisions[s].regime));
        }
        for (size_t c = 0; c < region->country_count; c++) {
            const char *regime =
                cdp_policy_regime_for_country(regions, region->id, region->countries[c], NULL);
            char own[PATH_TEXT];
            child(own, parent, "country_regimes");
            if (regime != NULL && regime != region->regime && !known_regime(ld->privacy, regime))
                problem(ld, child(path, own, region->countries[c]), "unknown regime %s",
                        cdp_policy_quoted(quote, regime));
        }
    }
}

/* ---- transfers.json ----------------------------------------------------------------------- */

/* A rule's region: known when regions.json loaded; NULL (reported) otherwise. */
static const cdp_region_policy *rule_region(ploader *ld, const char *path, const char *id) {
    if (ld->regions == NULL)
        return NULL;
    const cdp_region_policy *region = cdp_policy_region(ld->regions, id);
    char quote[QUOTED_MAX];
    if (region == NULL)
        problem(ld, path, "unknown region %s", cdp_policy_quoted(quote, id));
    return region;
}

static cdp_status parse_transfers(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "rules"};
    static const char *const entry_keys[] = {"from", "to", "purposes", "basis"};
    cdp_privacy *privacy = ld->privacy;
    char parent[PATH_TEXT], path[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *rules = member(ld, NULL, root, "rules", KIND_ARRAY, 1);
    if (rules == NULL || json_array_size(rules) == 0)
        return CDP_OK; /* no rule: nothing leaves its region */
    privacy->rules = arena_alloc(privacy, json_array_size(rules) * sizeof *privacy->rules);
    if (privacy->rules == NULL)
        return CDP_NOMEM;
    size_t index;
    json_t *entry;
    json_array_foreach(rules, index, entry) {
        element(parent, "rules", index);
        if (!check_kind(ld, parent, entry, KIND_OBJECT))
            continue;
        check_keys(ld, parent, entry, entry_keys, COUNT(entry_keys));
        size_t before = ld->problems;
        json_t *from = member(ld, parent, entry, "from", KIND_STRING, 1);
        json_t *to = member(ld, parent, entry, "to", KIND_STRING, 1);
        if (from != NULL) {
            child(path, parent, "from");
            const cdp_region_policy *region = rule_region(ld, path, json_string_value(from));
            if (region != NULL && region->localised)
                problem(ld, path, "region %s is localised; its data never leaves", region->id);
        }
        if (to != NULL) {
            child(path, parent, "to");
            rule_region(ld, path, json_string_value(to));
            if (from != NULL && strcmp(json_string_value(from), json_string_value(to)) == 0)
                problem(ld, path, "a region is never a transfer to itself");
        }
        json_t *basis = member(ld, parent, entry, "basis", KIND_STRING, 1);
        size_t known = 0;
        while (basis != NULL && known < COUNT(transfer_bases) &&
               strcmp(transfer_bases[known], json_string_value(basis)) != 0)
            known++;
        if (basis != NULL && known == COUNT(transfer_bases))
            problem(ld, child(path, parent, "basis"),
                    "unknown transfer basis %s (expected adequacy, scc, bcr, consent or "
                    "unrestricted)",
                    cdp_policy_quoted(quote, json_string_value(basis)));
        json_t *purposes = member(ld, parent, entry, "purposes", KIND_ARRAY, 1);
        privacy_list list = {0};
        if (purposes != NULL) {
            cdp_status status = parse_id_list(ld, child(path, parent, "purposes"), purposes,
                                              LIST_PURPOSES, 1, 0, &list);
            if (status != CDP_OK)
                return status;
        }
        if (ld->problems != before || from == NULL || to == NULL || basis == NULL ||
            purposes == NULL)
            continue;
        privacy_rule *rule = &privacy->rules[privacy->rule_count];
        rule->purposes = list;
        rule->basis = transfer_bases[known];
        if ((rule->from = arena_strdup(privacy, json_string_value(from))) == NULL ||
            (rule->to = arena_strdup(privacy, json_string_value(to))) == NULL)
            return CDP_NOMEM;
        privacy->rule_count++;
    }
    return CDP_OK;
}

/* ---- retention.json ----------------------------------------------------------------------- */

static cdp_status parse_retention(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "days"};
    cdp_privacy *privacy = ld->privacy;
    char path[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *days = member(ld, NULL, root, "days", KIND_OBJECT, 1);
    if (days == NULL || json_object_size(days) == 0)
        return CDP_OK;
    privacy->retention = arena_alloc(privacy, json_object_size(days) * sizeof *privacy->retention);
    if (privacy->retention == NULL)
        return CDP_NOMEM;
    const char *id;
    json_t *value;
    json_object_foreach(days, id, value) {
        child(path, "days", id);
        const char *category = ld->categories_ok ? known_category(privacy, id) : NULL;
        if (ld->categories_ok && category == NULL)
            problem(ld, path, "unknown category %s", cdp_policy_quoted(quote, id));
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) > RETENTION_DAYS_MAX) {
            problem(ld, path, "must be an integer from 0 to %d (days; 0: no limit)",
                    RETENTION_DAYS_MAX);
            continue;
        }
        if (category == NULL)
            continue;
        privacy->retention[privacy->retention_count++] = (privacy_retention){
            .category = category, .ms = (int64_t)json_integer_value(value) * MS_PER_DAY};
    }
    return CDP_OK;
}

/* ---- tcf.json ----------------------------------------------------------------------------- */

/* A map "1".."max" → list; every number must be present exactly once, written plainly. */
static cdp_status parse_tcf_map(ploader *ld, const char *name, json_t *object, unsigned max,
                                list_of of, privacy_list *lists) {
    char path[PATH_TEXT], quote[QUOTED_MAX];
    const char *thing = of == LIST_PURPOSES ? "purposes" : "special features";
    int seen[PRIVACY_TCF_PURPOSES + 1] = {0};
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        child(path, name, key);
        char *end = NULL;
        unsigned long number = strtoul(key, &end, 10);
        if (key[0] < '1' || key[0] > '9' || *end != '\0' || number > max) {
            problem(ld, path, "TCF v2.2 %s are numbered 1 to %u, not %s", thing, max,
                    cdp_policy_quoted(quote, key));
            continue;
        }
        if (!check_kind(ld, path, value, KIND_ARRAY))
            continue;
        seen[number] = 1;
        cdp_status status = parse_id_list(ld, path, value, of, 0, 1, &lists[number]);
        if (status != CDP_OK)
            return status;
    }
    for (unsigned number = 1; number <= max; number++)
        if (!seen[number])
            problem(ld, name, "missing TCF %s %u (map it, to [] for nothing)",
                    of == LIST_PURPOSES ? "purpose" : "special feature", number);
    return CDP_OK;
}

static cdp_status parse_tcf(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "purposes", "special_features"};
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *purposes = member(ld, NULL, root, "purposes", KIND_OBJECT, 1);
    json_t *features = member(ld, NULL, root, "special_features", KIND_OBJECT, 1);
    cdp_status status = CDP_OK;
    if (purposes != NULL)
        status = parse_tcf_map(ld, "purposes", purposes, PRIVACY_TCF_PURPOSES, LIST_PURPOSES,
                               ld->privacy->tcf_purposes);
    if (status == CDP_OK && features != NULL)
        status = parse_tcf_map(ld, "special_features", features, PRIVACY_TCF_FEATURES,
                               LIST_CATEGORIES, ld->privacy->tcf_features);
    return status;
}

/* ---- roles.json (the "purposes" of each role; routes and rate limits are read elsewhere) -- */

static cdp_status parse_roles(ploader *ld, json_t *root) {
    static const char *const top[] = {"version", "description", "roles", "unauthenticated_routes",
                                      "rate_limits"};
    static const char *const role_keys[] = {"description", "routes", "purposes"};
    cdp_privacy *privacy = ld->privacy;
    char parent[PATH_TEXT], path[PATH_TEXT], quote[QUOTED_MAX];
    if (!check_top(ld, root, top, COUNT(top)))
        return CDP_OK;
    json_t *roles = member(ld, NULL, root, "roles", KIND_OBJECT, 1);
    if (roles == NULL || json_object_size(roles) == 0)
        return CDP_OK;
    privacy->roles = arena_alloc(privacy, json_object_size(roles) * sizeof *privacy->roles);
    if (privacy->roles == NULL)
        return CDP_NOMEM;
    const char *id;
    json_t *entry;
    json_object_foreach(roles, id, entry) {
        child(parent, "roles", id);
        if (!valid_id(id)) {
            problem(ld, parent, "invalid role name %s (expected %d to %d of a-z, 0-9 and _)",
                    cdp_policy_quoted(quote, id), ID_MIN, ID_MAX);
            continue;
        }
        if (!check_kind(ld, parent, entry, KIND_OBJECT))
            continue;
        check_keys(ld, parent, entry, role_keys, COUNT(role_keys));
        member(ld, parent, entry, "description", KIND_STRING, 0);
        member(ld, parent, entry, "routes", KIND_ARRAY, 0);
        json_t *purposes = member(ld, parent, entry, "purposes", KIND_ARRAY, 1);
        if (purposes == NULL)
            continue;
        privacy_role *role = &privacy->roles[privacy->role_count++];
        if ((role->id = arena_strdup(privacy, id)) == NULL)
            return CDP_NOMEM;
        cdp_status status = parse_id_list(ld, child(path, parent, "purposes"), purposes,
                                          LIST_PURPOSES, 1, 1, &role->purposes);
        if (status != CDP_OK)
            return status;
    }
    return CDP_OK;
}

/* ---- the whole privacy half --------------------------------------------------------------- */

typedef cdp_status (*file_parser)(ploader *ld, json_t *root);

/* Loads one file with parser; returns 1 in *clean when it had no problem. */
static cdp_status load_one(ploader *ld, const char *dir, const char *file, file_parser parser,
                           int *clean) {
    json_t *root = NULL;
    cdp_status status = open_file(ld, dir, file, &root);
    if (status == CDP_OK && root != NULL)
        status = parser(ld, root);
    json_decref(root);
    if (clean != NULL)
        *clean = ld->problems == 0;
    return status;
}

cdp_status cdp_privacy_load(const char *dir, const cdp_policy *regions,
                            const cdp_policy_reporter *reporter, cdp_privacy **out,
                            const char **nomem_file) {
    *out = NULL;
    *nomem_file = "categories.json";
    ploader ld = {.reporter = reporter, .regions = regions, .file = "categories.json"};
    ld.privacy = cdp_calloc(1, sizeof *ld.privacy);
    if (ld.privacy == NULL)
        return CDP_NOMEM;
    cdp_status status = load_one(&ld, dir, "categories.json", parse_categories, &ld.categories_ok);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "purposes.json", parse_purposes, &ld.purposes_ok);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "regimes.json", parse_regimes, &ld.regimes_ok);
    if (status == CDP_OK && ld.regimes_ok && regions != NULL)
        check_region_regimes(&ld);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "transfers.json", parse_transfers, NULL);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "retention.json", parse_retention, NULL);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "tcf.json", parse_tcf, NULL);
    if (status == CDP_OK)
        status = load_one(&ld, dir, "roles.json", parse_roles, NULL);
    if (status != CDP_OK) {
        *nomem_file = ld.file;
        cdp_privacy_free(ld.privacy);
        return status;
    }
    *out = ld.privacy;
    return CDP_OK;
}
