/* The policy bundle: reads policies/regions.json, validates all of it and keeps an immutable
 * table of regions that answers "which region holds this country" and "which law applies here".
 * Every problem is reported before the bundle is refused, so an operator fixes them in one pass. */
#include "policy/policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/privacy_internal.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/embedded.h"

#define REGIONS_FILE "regions.json"
#define REGIONS_VERSION 1
/* Policies are written by hand; a file this large is a mistake or hostile, and refusing it
 * early bounds the parser's memory. */
#define POLICY_FILE_MAX ((size_t)1 << 20)
#define REGION_ID_MIN 2
#define REGION_ID_MAX 8
#define REGIME_NAME_MIN 2
#define REGIME_NAME_MAX 32
#define SUBDIVISION_CODE_MAX 3
#define REGION_NAME_MAX 200
#define PATH_MAX_TEXT 160
#define QUOTED_MAX CDP_POLICY_QUOTED_MAX
/* Room kept at the end of the report for the "(N more problems not shown)" line. */
#define REPORT_TRAILER_ROOM 48
#define ARENA_BLOCK_SIZE 4096
#define NOT_LISTED SIZE_MAX

/* Where each ISO code was first listed: a region index and a position in its countries. */
typedef struct country_slot {
    size_t region;      /* NOT_LISTED when no region lists the code */
    size_t position;    /* index in that region's "countries" */
    const char *regime; /* the country's own regime (country_regimes), or NULL */
} country_slot;

/* Every string and array of a loaded bundle lives in these blocks, freed together. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    max_align_t data[];
} arena_block;

struct cdp_policy {
    cdp_region_policy *regions;
    size_t region_count;
    const char *default_region; /* the default region's id */
    country_slot *countries;    /* cdp_iso3166_alpha2_count slots, in the table's order */
    arena_block *arena;
    cdp_privacy *privacy; /* purposes, categories, regimes, ... (privacy.c) */
};

/* The problems found in one file, one "file: path: reason" per line, as many as fit in a
 * cdp_err message; the rest are counted. */
typedef struct policy_report {
    const char *file;
    char text[CDP_ERR_MESSAGE_MAX];
    size_t len;
    size_t count;
    size_t dropped;
} policy_report;

typedef struct loader {
    policy_report report;
    cdp_policy *policy;
} loader;

/* ---- arena -------------------------------------------------------------------------------- */

static void *arena_alloc(cdp_policy *policy, size_t size) {
    size_t align = _Alignof(max_align_t);
    if (size == 0 || size > SIZE_MAX - align - sizeof(arena_block))
        return NULL;
    size = (size + align - 1) / align * align;
    arena_block *block = policy->arena;
    if (block == NULL || block->cap - block->used < size) {
        size_t cap = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
        block = cdp_malloc(sizeof(arena_block) + cap);
        if (block == NULL)
            return NULL;
        block->next = policy->arena;
        block->used = 0;
        block->cap = cap;
        policy->arena = block;
    }
    unsigned char *memory = (unsigned char *)block->data + block->used;
    block->used += size;
    memset(memory, 0, size);
    return memory;
}

static char *arena_strdup(cdp_policy *policy, const char *text) {
    size_t len = strlen(text);
    char *copy = arena_alloc(policy, len + 1);
    if (copy != NULL)
        memcpy(copy, text, len + 1);
    return copy;
}

/* ---- report ------------------------------------------------------------------------------- */

static void report_add(loader *ld, const char *path, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void report_add(loader *ld, const char *path, const char *format, ...) {
    policy_report *report = &ld->report;
    char reason[512];
    char line[768];
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    int length = path != NULL
                     ? snprintf(line, sizeof line, "%s: %s: %s", report->file, path, reason)
                     : snprintf(line, sizeof line, "%s: %s", report->file, reason);
    report->count++;
    size_t need = (size_t)length + (report->len > 0 ? 1 : 0);
    if (length < 0 || (size_t)length >= sizeof line ||
        report->len + need >= sizeof report->text - REPORT_TRAILER_ROOM) {
        report->dropped++;
        return;
    }
    if (report->len > 0)
        report->text[report->len++] = '\n';
    memcpy(report->text + report->len, line, (size_t)length + 1);
    report->len += (size_t)length;
}

static cdp_status report_finish(policy_report *report, cdp_err *err) {
    if (report->dropped > 0) {
        size_t room = sizeof report->text - report->len;
        snprintf(report->text + report->len, room, "%s(%zu more problems not shown)",
                 report->len > 0 ? "\n" : "", report->dropped);
    }
    return cdp_err_set(err, CDP_BAD_POLICY, "%s", report->text);
}

/* ---- text helpers ------------------------------------------------------------------------- */

/* Writes text in double quotes, escaped and shortened, so a hostile key cannot forge lines. */
const char *cdp_policy_quoted(char out[QUOTED_MAX], const char *text) {
    static const char digits[] = "0123456789abcdef";
    size_t used = 0;
    out[used++] = '"';
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        if (used + 8 >= QUOTED_MAX) {
            memcpy(out + used, "...", 3);
            used += 3;
            break;
        }
        if (*c == '"' || *c == '\\') {
            out[used++] = '\\';
            out[used++] = (char)*c;
        } else if (*c < 0x20 || *c >= 0x7f) {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = digits[*c >> 4];
            out[used++] = digits[*c & 15];
        } else {
            out[used++] = (char)*c;
        }
    }
    out[used++] = '"';
    out[used] = '\0';
    return out;
}

/* The path of member `key` below `parent` (NULL for the top level): "regions[0].id", or
 * "regions[1].subdivisions[\"c a\"]" for a key that is not a plain word. */
static const char *member_path(char out[PATH_MAX_TEXT], const char *parent, const char *key) {
    int plain = *key != '\0';
    for (const char *c = key; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            plain = 0;
    if (plain && strlen(key) <= 40) {
        snprintf(out, PATH_MAX_TEXT, "%s%s%s", parent ? parent : "", parent ? "." : "", key);
    } else {
        char quote[QUOTED_MAX];
        snprintf(out, PATH_MAX_TEXT, "%s[%s]", parent ? parent : "", cdp_policy_quoted(quote, key));
    }
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

static int all_chars(const char *text, size_t min, size_t max, int (*allowed)(char)) {
    size_t len = strlen(text);
    if (len < min || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!allowed(text[i]))
            return 0;
    return 1;
}

static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_lower_or_underscore(char c) { return is_lower(c) || c == '_'; }
static int is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_alnum(char c) { return is_upper_or_digit(c) || is_lower(c); }
static char upper(char c) { return is_lower(c) ? (char)(c - 'a' + 'A') : c; }

static int has_lower(const char *text) {
    for (; *text != '\0'; text++)
        if (is_lower(*text))
            return 1;
    return 0;
}

/* Levenshtein distance, for "did you mean" on typos; keys longer than 32 are never close. */
static size_t edit_distance(const char *a, const char *b) {
    size_t a_len = strlen(a), b_len = strlen(b);
    if (a_len > 32 || b_len > 32)
        return SIZE_MAX;
    size_t row[33];
    for (size_t j = 0; j <= b_len; j++)
        row[j] = j;
    for (size_t i = 1; i <= a_len; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            size_t above = row[j];
            size_t best = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[b_len];
}

int cdp_policy_key_known(const char *key, const char *const *known, size_t known_count,
                         const char **nearest) {
    size_t best = 3; /* suggest only within two edits */
    *nearest = NULL;
    for (size_t i = 0; i < known_count; i++) {
        if (strcmp(key, known[i]) == 0)
            return 1;
        size_t distance = edit_distance(key, known[i]);
        if (distance < best) {
            best = distance;
            *nearest = known[i];
        }
    }
    return 0;
}

/* ---- ISO 3166-1 --------------------------------------------------------------------------- */

static int compare_code(const void *key, const void *element) {
    return strcmp((const char *)key, (const char *)element);
}

/* Index of an upper-case alpha-2 code in cdp_iso3166_alpha2, or -1. */
static long iso_index(const char *code) {
    if (code == NULL || strlen(code) != 2)
        return -1;
    const char(*found)[3] = bsearch(code, cdp_iso3166_alpha2, cdp_iso3166_alpha2_count,
                                    sizeof cdp_iso3166_alpha2[0], compare_code);
    return found != NULL ? (long)(found - cdp_iso3166_alpha2) : -1;
}

int cdp_iso3166_valid(const char *code) { return iso_index(code) >= 0; }

/* The table index of a code given in either case, or -1. */
static long iso_index_any_case(const char *code) {
    if (code == NULL || strlen(code) != 2)
        return -1;
    char upper_code[3] = {upper(code[0]), upper(code[1]), '\0'};
    return iso_index(upper_code);
}

/* ---- checks that report ------------------------------------------------------------------- */

typedef enum value_kind {
    KIND_STRING,
    KIND_INTEGER,
    KIND_BOOLEAN,
    KIND_ARRAY,
    KIND_OBJECT
} value_kind;

static int has_kind(const json_t *value, value_kind kind) {
    switch (kind) {
    case KIND_STRING:
        return json_is_string(value);
    case KIND_INTEGER:
        return json_is_integer(value);
    case KIND_BOOLEAN:
        return json_is_boolean(value);
    case KIND_ARRAY:
        return json_is_array(value);
    case KIND_OBJECT:
    default:
        return json_is_object(value);
    }
}

static const char *kind_name(value_kind kind) {
    static const char *const names[] = {"a string", "an integer", "true or false", "an array",
                                        "an object"};
    return names[kind];
}

static int check_kind(loader *ld, const char *path, const json_t *value, value_kind kind) {
    if (has_kind(value, kind))
        return 1;
    report_add(ld, path, "must be %s, not %s", kind_name(kind), type_name(value));
    return 0;
}

/* The member `key` of object when present and of the right kind; reports a missing required
 * member or a wrong kind and returns NULL. parent is the object's path (NULL: top level). */
static json_t *member(loader *ld, const char *parent, json_t *object, const char *key,
                      value_kind kind, int required) {
    json_t *value = json_object_get(object, key);
    if (value == NULL) {
        if (required)
            report_add(ld, parent ? parent : "top level", "missing required key \"%s\"", key);
        return NULL;
    }
    char path[PATH_MAX_TEXT];
    return check_kind(ld, member_path(path, parent, key), value, kind) ? value : NULL;
}

/* Reports every key of object that is not in known, with the nearest known key as a hint:
 * a typo ("contries") must not silently drop a setting. */
static void check_known_keys(loader *ld, const char *parent, const json_t *object,
                             const char *const *known, size_t known_count) {
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)object, key, value) {
        const char *nearest = NULL;
        if (cdp_policy_key_known(key, known, known_count, &nearest))
            continue;
        char quote[QUOTED_MAX];
        if (nearest != NULL)
            report_add(ld, parent ? parent : "top level", "unknown key %s (did you mean \"%s\"?)",
                       cdp_policy_quoted(quote, key), nearest);
        else
            report_add(ld, parent ? parent : "top level", "unknown key %s",
                       cdp_policy_quoted(quote, key));
    }
}

static int check_region_id(loader *ld, const char *path, const char *id) {
    if (all_chars(id, REGION_ID_MIN, REGION_ID_MAX, is_lower))
        return 1;
    char quote[QUOTED_MAX];
    report_add(ld, path, "invalid region id %s (expected %d to %d letters a-z)",
               cdp_policy_quoted(quote, id), REGION_ID_MIN, REGION_ID_MAX);
    return 0;
}

static int check_regime_name(loader *ld, const char *path, const char *name) {
    if (all_chars(name, REGIME_NAME_MIN, REGIME_NAME_MAX, is_lower_or_underscore))
        return 1;
    char quote[QUOTED_MAX];
    report_add(ld, path, "invalid regime name %s (expected %d to %d of a-z and _)",
               cdp_policy_quoted(quote, name), REGIME_NAME_MIN, REGIME_NAME_MAX);
    return 0;
}

static int check_subdivision_code(loader *ld, const char *path, const char *code) {
    char quote[QUOTED_MAX];
    if (all_chars(code, 1, SUBDIVISION_CODE_MAX, is_upper_or_digit))
        return 1;
    if (all_chars(code, 1, SUBDIVISION_CODE_MAX, is_alnum))
        report_add(ld, path, "subdivision code %s must be upper case",
                   cdp_policy_quoted(quote, code));
    else
        report_add(ld, path, "invalid subdivision code %s (expected 1 to %d of A-Z and 0-9)",
                   cdp_policy_quoted(quote, code), SUBDIVISION_CODE_MAX);
    return 0;
}

/* The table index of an ISO 3166-1 alpha-2 code written in upper case, else -1 after saying
 * why: lower case is refused rather than folded, so the file reads the way codes are stored. */
static long check_country(loader *ld, const char *path, const char *code) {
    long index = iso_index(code);
    if (index >= 0)
        return index;
    char quote[QUOTED_MAX];
    if (has_lower(code) && iso_index_any_case(code) >= 0)
        report_add(ld, path, "country code %s must be upper case", cdp_policy_quoted(quote, code));
    else
        report_add(ld, path, "unknown ISO 3166-1 alpha-2 code %s", cdp_policy_quoted(quote, code));
    return -1;
}

static int array_has_string(const json_t *array, const char *text) {
    size_t index;
    json_t *value;
    json_array_foreach(array, index, value) {
        if (json_is_string(value) && strcmp(json_string_value(value), text) == 0)
            return 1;
    }
    return 0;
}

/* ---- regions.json ------------------------------------------------------------------------- */

static cdp_status parse_countries(loader *ld, size_t region_index, json_t *array) {
    cdp_policy *policy = ld->policy;
    cdp_region_policy *region = &policy->regions[region_index];
    char path[PATH_MAX_TEXT];
    char quote[QUOTED_MAX];
    size_t count = json_array_size(array);
    if (count == 0) {
        snprintf(path, sizeof path, "regions[%zu].countries", region_index);
        report_add(ld, path, "must not be empty");
        return CDP_OK;
    }
    const char **countries = arena_alloc(policy, count * sizeof *countries);
    if (countries == NULL)
        return CDP_NOMEM;
    region->countries = countries;
    size_t position;
    json_t *value;
    json_array_foreach(array, position, value) {
        snprintf(path, sizeof path, "regions[%zu].countries[%zu]", region_index, position);
        if (!check_kind(ld, path, value, KIND_STRING))
            continue;
        const char *code = json_string_value(value);
        long index = check_country(ld, path, code);
        if (index < 0)
            continue;
        country_slot *slot = &policy->countries[index];
        if (slot->region == region_index) {
            report_add(ld, path,
                       "country %s is listed twice (first at regions[%zu].countries[%zu])",
                       cdp_policy_quoted(quote, code), region_index, slot->position);
        } else if (slot->region != NOT_LISTED) {
            const char *other = policy->regions[slot->region].id;
            if (other != NULL) {
                char other_quote[QUOTED_MAX];
                report_add(ld, path,
                           "country %s is already in region %s (regions[%zu].countries[%zu])",
                           cdp_policy_quoted(quote, code), cdp_policy_quoted(other_quote, other),
                           slot->region, slot->position);
            } else {
                report_add(ld, path, "country %s is already in regions[%zu].countries[%zu]",
                           cdp_policy_quoted(quote, code), slot->region, slot->position);
            }
        } else {
            slot->region = region_index;
            slot->position = position;
        }
        countries[region->country_count++] = cdp_iso3166_alpha2[index];
    }
    return CDP_OK;
}

static cdp_status parse_subdivisions(loader *ld, cdp_region_policy *region, const char *parent,
                                     json_t *object) {
    char path[PATH_MAX_TEXT];
    size_t count = json_object_size(object);
    if (count == 0)
        return CDP_OK;
    cdp_subdivision_regime *subdivisions = arena_alloc(ld->policy, count * sizeof *subdivisions);
    if (subdivisions == NULL)
        return CDP_NOMEM;
    region->subdivisions = subdivisions;
    const char *code;
    json_t *value;
    json_object_foreach(object, code, value) {
        member_path(path, parent, code);
        int valid = check_subdivision_code(ld, path, code);
        if (!check_kind(ld, path, value, KIND_STRING) ||
            !check_regime_name(ld, path, json_string_value(value)) || !valid)
            continue;
        cdp_subdivision_regime *entry = &subdivisions[region->subdivision_count++];
        entry->code = arena_strdup(ld->policy, code);
        entry->regime = arena_strdup(ld->policy, json_string_value(value));
        if (entry->code == NULL || entry->regime == NULL)
            return CDP_NOMEM;
    }
    return CDP_OK;
}

/* A country's own regime inside its region: GB and CH sit in eu for residency, but their
 * laws are UK GDPR and the Swiss FADP, not the GDPR. */
static cdp_status parse_country_regimes(loader *ld, const char *parent, json_t *object,
                                        const json_t *countries) {
    char path[PATH_MAX_TEXT];
    char quote[QUOTED_MAX];
    const char *code;
    json_t *value;
    json_object_foreach(object, code, value) {
        member_path(path, parent, code);
        long index = check_country(ld, path, code);
        if (index >= 0 && countries != NULL && !array_has_string(countries, code)) {
            report_add(ld, path, "country %s is not in this region's countries",
                       cdp_policy_quoted(quote, code));
            index = -1;
        }
        if (!check_kind(ld, path, value, KIND_STRING) ||
            !check_regime_name(ld, path, json_string_value(value)) || index < 0)
            continue;
        const char *regime = arena_strdup(ld->policy, json_string_value(value));
        if (regime == NULL)
            return CDP_NOMEM;
        ld->policy->countries[index].regime = regime;
    }
    return CDP_OK;
}

static const char *const region_keys[] = {
    "id",        "name",      "regime",       "default_country",
    "localised", "countries", "subdivisions", "country_regimes",
};

static cdp_status parse_region(loader *ld, size_t index, json_t *object) {
    cdp_policy *policy = ld->policy;
    cdp_region_policy *region = &policy->regions[index];
    char parent[PATH_MAX_TEXT];
    char path[PATH_MAX_TEXT];
    char quote[QUOTED_MAX];
    snprintf(parent, sizeof parent, "regions[%zu]", index);
    if (!check_kind(ld, parent, object, KIND_OBJECT))
        return CDP_OK;
    check_known_keys(ld, parent, object, region_keys, sizeof region_keys / sizeof *region_keys);

    json_t *value = member(ld, parent, object, "id", KIND_STRING, 1);
    if (value != NULL &&
        check_region_id(ld, member_path(path, parent, "id"), json_string_value(value))) {
        const char *id = json_string_value(value);
        size_t first = 0;
        while (first < index &&
               (policy->regions[first].id == NULL || strcmp(policy->regions[first].id, id) != 0))
            first++;
        if (first < index) {
            report_add(ld, path, "duplicate region %s (first at regions[%zu])",
                       cdp_policy_quoted(quote, id), first);
        } else if ((region->id = arena_strdup(policy, id)) == NULL) {
            return CDP_NOMEM;
        }
    }

    value = member(ld, parent, object, "name", KIND_STRING, 1);
    if (value != NULL) {
        size_t length = json_string_length(value);
        if (length == 0 || length > REGION_NAME_MAX)
            report_add(ld, member_path(path, parent, "name"), "must be 1 to %d bytes long",
                       REGION_NAME_MAX);
        else if ((region->name = arena_strdup(policy, json_string_value(value))) == NULL)
            return CDP_NOMEM;
    }

    value = member(ld, parent, object, "regime", KIND_STRING, 1);
    if (value != NULL &&
        check_regime_name(ld, member_path(path, parent, "regime"), json_string_value(value)) &&
        (region->regime = arena_strdup(policy, json_string_value(value))) == NULL)
        return CDP_NOMEM;

    json_t *countries = member(ld, parent, object, "countries", KIND_ARRAY, 1);
    value = member(ld, parent, object, "default_country", KIND_STRING, 1);
    if (value != NULL) {
        const char *code = json_string_value(value);
        member_path(path, parent, "default_country");
        long country = check_country(ld, path, code);
        if (country >= 0 && countries != NULL && !array_has_string(countries, code))
            report_add(ld, path, "country %s is not in this region's countries",
                       cdp_policy_quoted(quote, code));
        else if (country >= 0)
            region->default_country = cdp_iso3166_alpha2[country];
    }

    value = member(ld, parent, object, "localised", KIND_BOOLEAN, 1);
    region->localised = value != NULL && json_is_true(value);

    cdp_status status = CDP_OK;
    if (countries != NULL)
        status = parse_countries(ld, index, countries);
    value = member(ld, parent, object, "subdivisions", KIND_OBJECT, 0);
    if (status == CDP_OK && value != NULL)
        status = parse_subdivisions(ld, region, member_path(path, parent, "subdivisions"), value);
    value = member(ld, parent, object, "country_regimes", KIND_OBJECT, 0);
    if (status == CDP_OK && value != NULL)
        status = parse_country_regimes(ld, member_path(path, parent, "country_regimes"), value,
                                       countries);
    return status;
}

static const char *const top_keys[] = {"version", "default_region", "regions"};

static cdp_status parse_regions_file(loader *ld, json_t *root) {
    cdp_policy *policy = ld->policy;
    if (!json_is_object(root)) {
        report_add(ld, "top level", "must be an object, not %s", type_name(root));
        return CDP_OK;
    }
    check_known_keys(ld, NULL, root, top_keys, sizeof top_keys / sizeof *top_keys);

    json_t *version = member(ld, NULL, root, "version", KIND_INTEGER, 1);
    if (version != NULL && json_integer_value(version) != REGIONS_VERSION)
        report_add(ld, "version", "unsupported version %" JSON_INTEGER_FORMAT " (expected %d)",
                   json_integer_value(version), REGIONS_VERSION);

    json_t *default_region = member(ld, NULL, root, "default_region", KIND_STRING, 1);
    if (default_region != NULL &&
        !check_region_id(ld, "default_region", json_string_value(default_region)))
        default_region = NULL;

    json_t *regions = member(ld, NULL, root, "regions", KIND_ARRAY, 1);
    if (regions == NULL)
        return CDP_OK;
    size_t count = json_array_size(regions);
    if (count == 0) {
        report_add(ld, "regions", "must not be empty");
        return CDP_OK;
    }
    policy->regions = arena_alloc(policy, count * sizeof *policy->regions);
    if (policy->regions == NULL)
        return CDP_NOMEM;
    policy->region_count = count;
    size_t index;
    json_t *region;
    json_array_foreach(regions, index, region) {
        cdp_status status = parse_region(ld, index, region);
        if (status != CDP_OK)
            return status;
    }

    if (default_region != NULL) {
        const char *id = json_string_value(default_region);
        for (size_t i = 0; i < count && policy->default_region == NULL; i++)
            if (policy->regions[i].id != NULL && strcmp(policy->regions[i].id, id) == 0)
                policy->default_region = policy->regions[i].id;
        char quote[QUOTED_MAX];
        if (policy->default_region == NULL)
            report_add(ld, "default_region", "%s is not one of the regions",
                       cdp_policy_quoted(quote, id));
    }
    return CDP_OK;
}

/* ---- load and free ------------------------------------------------------------------------ */

/* The privacy files report through the same list, each under its own file name. */
static void report_privacy_problem(void *context, const char *file, const char *path,
                                   const char *reason) {
    loader *ld = context;
    const char *own = ld->report.file;
    ld->report.file = file;
    report_add(ld, path, "%s", reason);
    ld->report.file = own;
}

/* Loads the privacy half after regions.json, whatever became of it, so one pass reports the
 * problems of every file; the checks against regions run only when regions.json was clean. */
static cdp_status load_privacy(loader *ld, const char *dir, const char **nomem_file) {
    cdp_policy_reporter reporter = {.add = report_privacy_problem, .context = ld};
    const cdp_policy *regions = ld->policy != NULL && ld->report.count == 0 ? ld->policy : NULL;
    cdp_privacy *privacy = NULL;
    cdp_status status = cdp_privacy_load(dir, regions, &reporter, &privacy, nomem_file);
    if (ld->policy != NULL)
        ld->policy->privacy = privacy;
    else
        cdp_privacy_free(privacy);
    return status;
}

const cdp_privacy *cdp_policy_privacy(const cdp_policy *policy) {
    return policy != NULL ? policy->privacy : NULL;
}

cdp_status cdp_policy_load(const char *dir, cdp_policy **out, cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "cdp_policy_load: out is NULL");
    *out = NULL;
    if (dir == NULL)
        return cdp_err_set(err, CDP_MISUSE, "cdp_policy_load: dir is NULL");

    cdp_status status = CDP_OK;
    loader ld = {.report = {.file = REGIONS_FILE}};
    uint8_t *bytes = NULL;
    size_t length = 0;
    json_t *root = NULL;
    cdp_err read_err = {0};
    char file_path[4096];

    if (snprintf(file_path, sizeof file_path, "%s/%s", dir, REGIONS_FILE) >=
        (int)sizeof file_path) {
        report_add(&ld, NULL, "cannot read: directory path too long");
        goto done;
    }
    status = cdp_file_read(file_path, POLICY_FILE_MAX, &bytes, &length, &read_err);
    if (status == CDP_NOMEM)
        goto done;
    if (status != CDP_OK) {
        status = CDP_OK;
        report_add(&ld, NULL, "cannot read: %s", read_err.message);
        goto done;
    }

    json_error_t json_error;
    root = json_loadb((const char *)bytes, length, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        if (json_error.line > 0)
            report_add(&ld, NULL, "line %d, column %d: invalid JSON: %s", json_error.line,
                       json_error.column, json_error.text);
        else
            report_add(&ld, NULL, "invalid JSON: %s", json_error.text);
        goto done;
    }

    ld.policy = cdp_calloc(1, sizeof *ld.policy);
    if (ld.policy == NULL) {
        status = CDP_NOMEM;
        goto done;
    }
    ld.policy->countries =
        arena_alloc(ld.policy, cdp_iso3166_alpha2_count * sizeof *ld.policy->countries);
    if (ld.policy->countries == NULL) {
        status = CDP_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < cdp_iso3166_alpha2_count; i++)
        ld.policy->countries[i].region = NOT_LISTED;
    status = parse_regions_file(&ld, root);

done:
    json_decref(root);
    cdp_free(bytes);
    const char *nomem_file = REGIONS_FILE;
    if (status == CDP_OK)
        status = load_privacy(&ld, dir, &nomem_file);
    if (status == CDP_OK && ld.report.count == 0) {
        *out = ld.policy;
        cdp_err_clear(err);
        return CDP_OK;
    }
    cdp_policy_free(ld.policy);
    if (status == CDP_NOMEM)
        return cdp_err_set(err, CDP_NOMEM, "%s: out of memory", nomem_file);
    return report_finish(&ld.report, err);
}

void cdp_policy_free(cdp_policy *policy) {
    if (policy == NULL)
        return;
    cdp_privacy_free(policy->privacy);
    arena_block *block = policy->arena;
    while (block != NULL) {
        arena_block *next = block->next;
        cdp_free(block);
        block = next;
    }
    cdp_free(policy);
}

/* ---- lookups ------------------------------------------------------------------------------ */

size_t cdp_policy_region_count(const cdp_policy *policy) {
    return policy != NULL ? policy->region_count : 0;
}

const cdp_region_policy *cdp_policy_region_at(const cdp_policy *policy, size_t index) {
    return policy != NULL && index < policy->region_count ? &policy->regions[index] : NULL;
}

const cdp_region_policy *cdp_policy_region(const cdp_policy *policy, const char *id) {
    if (policy == NULL || id == NULL)
        return NULL;
    for (size_t i = 0; i < policy->region_count; i++)
        if (strcmp(policy->regions[i].id, id) == 0)
            return &policy->regions[i];
    return NULL;
}

const char *cdp_policy_default_region(const cdp_policy *policy) {
    return policy != NULL ? policy->default_region : NULL;
}

const char *cdp_policy_region_for_country(const cdp_policy *policy, const char *country) {
    long index = iso_index_any_case(country);
    if (policy == NULL || index < 0)
        return NULL;
    size_t region = policy->countries[index].region;
    return region != NOT_LISTED ? policy->regions[region].id : policy->default_region;
}

static int same_code_any_case(const char *a, const char *b) {
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (upper(*a) != upper(*b))
            return 0;
    return *a == *b;
}

const char *cdp_policy_regime_for_country(const cdp_policy *policy, const char *region,
                                          const char *country, const char *subdivision) {
    const cdp_region_policy *found = cdp_policy_region(policy, region);
    if (found == NULL)
        return NULL;
    if (subdivision != NULL)
        for (size_t i = 0; i < found->subdivision_count; i++)
            if (same_code_any_case(found->subdivisions[i].code, subdivision))
                return found->subdivisions[i].regime;
    long index = iso_index_any_case(country);
    if (index >= 0 && policy->countries[index].regime != NULL &&
        &policy->regions[policy->countries[index].region] == found)
        return policy->countries[index].regime;
    return found->regime;
}

const char *cdp_policy_regime(const cdp_policy *policy, const char *region,
                              const char *subdivision) {
    return cdp_policy_regime_for_country(policy, region, NULL, subdivision);
}
