/* Segment Spec messages: validation and a typed view over the decoded JSON (segment.h).
 * This runs for every ingested event, so it reads fields in place, bounds the message's size in
 * one allocation-free walk, and serializes only to derive an id for a message without one. */
#include "identity/segment.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/bytes.h"
#include "util/embedded.h"

/* Deeper trees are hostile or broken: Segment's own payloads use a handful of levels, and the
 * bound keeps every recursive walk here (and in later modules) shallow. */
#define NESTING_MAX 64
#define EVENT_NAME_MAX 200
#define MESSAGE_ID_MAX 100
#define ID_TYPE_MAX 32
#define COUNTRY_TEXT_MAX 64
/* Longest text jansson writes for a real (sign, 17 digits, point, zero padding, exponent) is
 * about 25 bytes; the shortest is 3 ("1.0"). The size walk counts reals between these bounds
 * and serializes only when the bounds straddle the limit. */
#define REAL_TEXT_MIN 3
#define REAL_TEXT_MAX 32
#define GENERATED_ID_PREFIX "gen-"
#define GENERATED_ID_HASH_BYTES 16
/* Fractional seconds beyond nanoseconds are refused rather than read without bound. */
#define FRACTION_DIGITS_MAX 9
#define YEAR_MIN 2000
#define YEAR_MAX 2100

typedef struct type_name {
    cdp_segment_type type;
    const char *name;
} type_name;

static const type_name type_names[] = {
    {CDP_SEGMENT_IDENTIFY, "identify"}, {CDP_SEGMENT_TRACK, "track"}, {CDP_SEGMENT_PAGE, "page"},
    {CDP_SEGMENT_SCREEN, "screen"},     {CDP_SEGMENT_GROUP, "group"}, {CDP_SEGMENT_ALIAS, "alias"},
};

static const type_name *find_type(const char *name) {
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i].name, name) == 0)
            return &type_names[i];
    return NULL;
}

/* ---- time --------------------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm):
 * no timegm(), no TZ environment, no locale. */
static int64_t days_from_civil(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int days_in_month(int year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* Reads exactly `count` ASCII digits; -1 if any is not a digit. */
static int read_digits(const char *text, int count) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* YYYY-MM-DD(T|t| )hh:mm:ss[.fraction](Z|z|+hh:mm|+hhmm|-hh:mm|-hhmm), the RFC 3339 profile
 * that every Segment and RudderStack SDK sends. Seconds are required and leap seconds (:60) are
 * refused; the fraction is truncated to milliseconds. */
int cdp_segment_parse_time(const char *text, int64_t *ms) {
    if (text == NULL || ms == NULL)
        return -1;
    const char *p = text;
    int year = read_digits(p, 4);
    if (year < 0 || p[4] != '-')
        return -1;
    int month = read_digits(p + 5, 2);
    if (month < 0 || p[7] != '-')
        return -1;
    int day = read_digits(p + 8, 2);
    if (day < 0 || (p[10] != 'T' && p[10] != 't' && p[10] != ' '))
        return -1;
    int hour = read_digits(p + 11, 2);
    if (hour < 0 || p[13] != ':')
        return -1;
    int minute = read_digits(p + 14, 2);
    if (minute < 0 || p[16] != ':')
        return -1;
    int second = read_digits(p + 17, 2);
    if (second < 0)
        return -1;
    p += 19;
    if (year < YEAR_MIN || year > YEAR_MAX || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
        return -1;

    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                millis = millis * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > FRACTION_DIGITS_MAX)
            return -1;
        for (int i = digits; i < 3; i++)
            millis *= 10;
    }

    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int offset_hour = read_digits(p, 2);
        if (offset_hour < 0)
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        int offset_minute = read_digits(p, 2);
        if (offset_minute < 0 || offset_hour > 23 || offset_minute > 59)
            return -1;
        p += 2;
        offset_minutes = sign * (offset_hour * 60 + offset_minute);
    } else {
        return -1; /* a time without a zone is ambiguous */
    }
    if (*p != '\0')
        return -1;

    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - (int64_t)offset_minutes * 60;
    *ms = seconds * 1000 + millis;
    return 0;
}

static int64_t now_ms(void) {
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- size and depth ----------------------------------------------------------------------- */

/* Bytes jansson writes for a string, escapes included (no JSON_ENSURE_ASCII): mirrors
 * dump_string in jansson's dump.c. */
static size_t escaped_length(const char *text, size_t len) {
    size_t total = 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            total += 2;
        else if (c < 0x20)
            total += 6; /* \u00XX */
        else
            total += 1;
    }
    return total;
}

static size_t integer_length(json_int_t value) {
    unsigned long long magnitude =
        value < 0 ? 0ull - (unsigned long long)value : (unsigned long long)value;
    size_t length = value < 0 ? 2 : 1;
    while (magnitude >= 10) {
        magnitude /= 10;
        length++;
    }
    return length;
}

typedef struct size_walk {
    size_t low;   /* compact dump size, counting reals at their shortest */
    size_t high;  /* ... and at their longest */
    size_t limit; /* stop once low exceeds this */
} size_walk;

/* Adds the compact-dump size of `value` to the walk. -1: nested deeper than levels_left
 * allows; 1: low already exceeds the limit (the walk stopped); 0: done. */
static int measure(const json_t *value, int levels_left, size_walk *walk) {
    size_t add = 0;
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        if (levels_left == 0)
            return -1;
        size_t count = json_object_size(value), key_len;
        const char *key;
        json_t *member;
        size_t frame = 2 + (count > 0 ? count - 1 : 0); /* braces and commas */
        walk->low += frame;
        walk->high += frame;
        json_object_keylen_foreach((json_t *)value, key, key_len, member) {
            size_t key_part = escaped_length(key, key_len) + 1; /* with its colon */
            walk->low += key_part;
            walk->high += key_part;
            int result = measure(member, levels_left - 1, walk);
            if (result != 0)
                return result;
        }
        return walk->low > walk->limit;
    }
    case JSON_ARRAY: {
        if (levels_left == 0)
            return -1;
        size_t count = json_array_size(value), index;
        json_t *element;
        size_t frame = 2 + (count > 0 ? count - 1 : 0); /* brackets and commas */
        walk->low += frame;
        walk->high += frame;
        json_array_foreach(value, index, element) {
            int result = measure(element, levels_left - 1, walk);
            if (result != 0)
                return result;
        }
        return walk->low > walk->limit;
    }
    case JSON_STRING:
        add = escaped_length(json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        add = integer_length(json_integer_value(value));
        break;
    case JSON_REAL:
        walk->low += REAL_TEXT_MIN;
        walk->high += REAL_TEXT_MAX;
        return walk->low > walk->limit;
    case JSON_TRUE:
    case JSON_NULL:
        add = 4;
        break;
    case JSON_FALSE:
        add = 5;
        break;
    }
    walk->low += add;
    walk->high += add;
    return walk->low > walk->limit;
}

/* The per-message limit is on the compact serialization (the sender's whitespace does not
 * count). The walk gives exact bounds without allocating; json_dumpb, which allocates for its
 * loop check, runs only when reals make the bounds straddle the limit. */
static cdp_status check_size(const json_t *message, cdp_err *err) {
    size_walk walk = {0, 0, CDP_SEGMENT_EVENT_MAX};
    int result = measure(message, NESTING_MAX, &walk);
    if (result < 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "message: nesting deeper than %d levels",
                           NESTING_MAX);
    if (result == 0 && walk.high > CDP_SEGMENT_EVENT_MAX) {
        size_t exact = json_dumpb(message, NULL, 0, JSON_COMPACT);
        if (exact == 0) /* json_dumpb reports failure as 0: here, only memory */
            return cdp_err_set(err, CDP_NOMEM, "message: out of memory measuring its size");
        result = exact > CDP_SEGMENT_EVENT_MAX;
    }
    if (result > 0)
        return cdp_err_set(err, CDP_PAYLOAD_TOO_LARGE, "message: larger than %u bytes",
                           CDP_SEGMENT_EVENT_MAX);
    return CDP_OK;
}

/* 1 if `value` nests containers deeper than levels_left (the value itself is one level). */
static int deeper_than(const json_t *value, int levels_left) {
    if (json_is_object(value)) {
        if (levels_left == 0)
            return 1;
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member) {
            if ((json_is_object(member) || json_is_array(member)) &&
                deeper_than(member, levels_left - 1))
                return 1;
        }
    } else if (json_is_array(value)) {
        if (levels_left == 0)
            return 1;
        size_t index;
        json_t *element;
        json_array_foreach(value, index, element) {
            if ((json_is_object(element) || json_is_array(element)) &&
                deeper_than(element, levels_left - 1))
                return 1;
        }
    }
    return 0;
}

/* ---- generated message id ----------------------------------------------------------------- */

typedef struct key_ref {
    const char *key;
    size_t len;
} key_ref;

/* The order jansson's JSON_SORT_KEYS uses (dump.c compare_keys). */
static int compare_key_refs(const void *a, const void *b) {
    const key_ref *left = a, *right = b;
    size_t common = left->len < right->len ? left->len : right->len;
    int order = memcmp(left->key, right->key, common);
    if (order != 0)
        return order;
    return (left->len > right->len) - (left->len < right->len);
}

static int hash_bytes(const char *bytes, size_t size, void *state) {
    crypto_generichash_update(state, (const unsigned char *)bytes, size);
    return 0;
}

/* Feeds a key to the hash exactly as jansson's dump_string writes it. */
static void hash_key(crypto_generichash_state *state, const char *key, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    const char *run = key;
    hash_bytes("\"", 1, state);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        char escape[6];
        size_t escape_len = 2;
        escape[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            escape[1] = (char)c;
            break;
        case '\b':
            escape[1] = 'b';
            break;
        case '\f':
            escape[1] = 'f';
            break;
        case '\n':
            escape[1] = 'n';
            break;
        case '\r':
            escape[1] = 'r';
            break;
        case '\t':
            escape[1] = 't';
            break;
        default:
            if (c >= 0x20)
                continue;
            memcpy(escape + 1, "u00", 3);
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 0xf];
            escape_len = 6;
            break;
        }
        hash_bytes(run, (size_t)(key + i - run), state);
        hash_bytes(escape, escape_len, state);
        run = key + i + 1;
    }
    hash_bytes(run, (size_t)(key + len - run), state);
    hash_bytes("\"", 1, state);
}

/* "gen-" + hex of the first 16 bytes of BLAKE2b over the message's compact dump with sorted
 * keys, sentAt and receivedAt left out (a retry re-stamps them). The dump streams into the
 * hash: no copy of the message and no text buffer. */
static cdp_status derive_message_id(cdp_segment_message *m, cdp_err *err) {
    const json_t *root = m->root;
    size_t count = json_object_size(root);
    key_ref *keys = cdp_malloc(count * sizeof *keys);
    if (keys == NULL)
        return cdp_err_set(err, CDP_NOMEM, "messageId: out of memory deriving an id");
    size_t used = 0, key_len;
    const char *key;
    json_t *member;
    json_object_keylen_foreach((json_t *)root, key, key_len, member) {
        if (strcmp(key, "sentAt") == 0 || strcmp(key, "receivedAt") == 0)
            continue;
        keys[used].key = key;
        keys[used].len = key_len;
        used++;
    }
    qsort(keys, used, sizeof *keys, compare_key_refs);

    cdp_status status = CDP_OK;
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, crypto_generichash_BYTES);
    hash_bytes("{", 1, &state);
    for (size_t i = 0; i < used; i++) {
        if (i > 0)
            hash_bytes(",", 1, &state);
        hash_key(&state, keys[i].key, keys[i].len);
        hash_bytes(":", 1, &state);
        if (json_dump_callback(json_object_getn(root, keys[i].key, keys[i].len), hash_bytes, &state,
                               JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) != 0) {
            status = cdp_err_set(err, CDP_NOMEM, "messageId: out of memory deriving an id");
            goto done;
        }
    }
    hash_bytes("}", 1, &state);

    unsigned char digest[crypto_generichash_BYTES];
    crypto_generichash_final(&state, digest, sizeof digest);
    memcpy(m->generated_id, GENERATED_ID_PREFIX, sizeof GENERATED_ID_PREFIX - 1);
    cdp_hex_encode(m->generated_id + sizeof GENERATED_ID_PREFIX - 1, digest,
                   GENERATED_ID_HASH_BYTES);
    m->message_id = m->generated_id;

done:
    cdp_free(keys);
    return status;
}

/* ---- country ------------------------------------------------------------------------------ */

typedef struct country_name {
    const char *name; /* lower-case English name (ASCII case-folded on lookup) */
    const char *code;
} country_name;

/* Common English names SDK users put in traits.address.country; anything else that is not an
 * alpha-2 code gives no country rather than a guess. */
static const country_name country_names[] = {
    {"argentina", "AR"},
    {"australia", "AU"},
    {"austria", "AT"},
    {"belgium", "BE"},
    {"brazil", "BR"},
    {"bulgaria", "BG"},
    {"canada", "CA"},
    {"chile", "CL"},
    {"china", "CN"},
    {"colombia", "CO"},
    {"croatia", "HR"},
    {"cyprus", "CY"},
    {"czech republic", "CZ"},
    {"czechia", "CZ"},
    {"denmark", "DK"},
    {"egypt", "EG"},
    {"estonia", "EE"},
    {"finland", "FI"},
    {"france", "FR"},
    {"germany", "DE"},
    {"great britain", "GB"},
    {"greece", "GR"},
    {"hong kong", "HK"},
    {"hungary", "HU"},
    {"iceland", "IS"},
    {"india", "IN"},
    {"indonesia", "ID"},
    {"ireland", "IE"},
    {"israel", "IL"},
    {"italy", "IT"},
    {"japan", "JP"},
    {"kenya", "KE"},
    {"latvia", "LV"},
    {"liechtenstein", "LI"},
    {"lithuania", "LT"},
    {"luxembourg", "LU"},
    {"malaysia", "MY"},
    {"malta", "MT"},
    {"mexico", "MX"},
    {"netherlands", "NL"},
    {"new zealand", "NZ"},
    {"nigeria", "NG"},
    {"norway", "NO"},
    {"peru", "PE"},
    {"philippines", "PH"},
    {"poland", "PL"},
    {"portugal", "PT"},
    {"romania", "RO"},
    {"saudi arabia", "SA"},
    {"singapore", "SG"},
    {"slovakia", "SK"},
    {"slovenia", "SI"},
    {"south africa", "ZA"},
    {"south korea", "KR"},
    {"spain", "ES"},
    {"sweden", "SE"},
    {"switzerland", "CH"},
    {"taiwan", "TW"},
    {"thailand", "TH"},
    {"the netherlands", "NL"},
    {"turkey", "TR"},
    {"t\xc3\xbcrkiye", "TR"},
    {"uk", "GB"}, /* exceptionally reserved in ISO 3166, not assigned: common in addresses */
    {"ukraine", "UA"},
    {"united arab emirates", "AE"},
    {"united kingdom", "GB"},
    {"united states", "US"},
    {"united states of america", "US"},
    {"usa", "US"},
    {"viet nam", "VN"},
    {"vietnam", "VN"},
};

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int compare_codes(const void *a, const void *b) { return strcmp(a, b); }

/* Writes the alpha-2 code for `text` (a code in any case, or a listed name) into code[3].
 * 0 on success, -1 when it names no country we can tell. */
static int country_code(const char *text, size_t len, char code[3]) {
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 2) {
        char upper[3] = {text[0], text[1], '\0'};
        for (int i = 0; i < 2; i++)
            if (upper[i] >= 'a' && upper[i] <= 'z')
                upper[i] = (char)(upper[i] - 'a' + 'A');
        if (bsearch(upper, cdp_iso3166_alpha2, cdp_iso3166_alpha2_count,
                    sizeof cdp_iso3166_alpha2[0], compare_codes) != NULL) {
            memcpy(code, upper, 3);
            return 0;
        }
    }
    if (len > COUNTRY_TEXT_MAX)
        return -1;
    for (size_t i = 0; i < sizeof country_names / sizeof country_names[0]; i++) {
        const char *name = country_names[i].name;
        size_t j = 0;
        while (j < len && name[j] != '\0' && ascii_lower(text[j]) == name[j])
            j++;
        if (j == len && name[j] == '\0') {
            memcpy(code, country_names[i].code, 3);
            return 0;
        }
    }
    return -1;
}

/* ---- field readers ------------------------------------------------------------------------ */

/* Member `key` of `object` (which may be NULL); NULL when missing or JSON null. */
static json_t *member_of(const json_t *object, const char *key) {
    json_t *value = object != NULL ? json_object_get(object, key) : NULL;
    return json_is_null(value) ? NULL : value;
}

/* *out = member `key` when it is an object; NULL when absent or null; refused otherwise. */
static cdp_status object_member(const json_t *parent, const char *key, const char *path,
                                json_t **out, cdp_err *err) {
    json_t *value = member_of(parent, key);
    if (value != NULL && !json_is_object(value))
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: must be an object", path);
    *out = value;
    return CDP_OK;
}

/* Optional string member: NULL when absent or null; refused when another type. */
static cdp_status string_member(const json_t *parent, const char *key, const char *path,
                                const char **out, cdp_err *err) {
    json_t *value = member_of(parent, key);
    if (value != NULL && !json_is_string(value))
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: must be a string", path);
    *out = value != NULL ? json_string_value(value) : NULL;
    return CDP_OK;
}

/* Context enrichment (locale, timezone, channel, country) is best effort: a value of the wrong
 * type is ignored rather than costing the whole event. */
static const char *lenient_string(const json_t *parent, const char *key) {
    json_t *value = member_of(parent, key);
    return json_is_string(value) && json_string_length(value) > 0 ? json_string_value(value) : NULL;
}

/* An id value: a string, or a number written as decimal text into number_text. *text is NULL
 * when the value is absent (missing, null or ""). Integral reals within 2^53 are accepted
 * (some SDKs send 42.0); other reals are refused, as their text would be ambiguous. */
static cdp_status id_value(const json_t *value, const char *path,
                           char number_text[CDP_SEGMENT_ID_TEXT_MAX], const char **text,
                           size_t *len, cdp_err *err) {
    *text = NULL;
    *len = 0;
    if (value == NULL || json_is_null(value))
        return CDP_OK;
    if (json_is_string(value)) {
        const char *string = json_string_value(value);
        size_t length = json_string_length(value);
        if (length == 0)
            return CDP_OK;
        if (memchr(string, '\0', length) != NULL)
            return cdp_err_set(err, CDP_BAD_REQUEST, "%s: contains a NUL character", path);
        *text = string;
        *len = length;
        return CDP_OK;
    }
    int written;
    if (json_is_integer(value)) {
        written = snprintf(number_text, CDP_SEGMENT_ID_TEXT_MAX, "%" JSON_INTEGER_FORMAT,
                           json_integer_value(value));
    } else if (json_is_real(value)) {
        double real = json_real_value(value);
        /* NaN and infinities fail the range test; within 2^53 the cast is exact. */
        if (!(real >= -9007199254740992.0 && real <= 9007199254740992.0) ||
            (double)(long long)real != real)
            return cdp_err_set(err, CDP_BAD_REQUEST, "%s: a number must be an integer", path);
        written = snprintf(number_text, CDP_SEGMENT_ID_TEXT_MAX, "%lld", (long long)real);
    } else {
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: must be a string or a number", path);
    }
    if (written <= 0 || written >= CDP_SEGMENT_ID_TEXT_MAX)
        return cdp_err_set(err, CDP_INTERNAL, "%s: number does not fit", path);
    *text = number_text;
    *len = (size_t)written;
    return CDP_OK;
}

/* Appends the identifier held in `value` unless it is absent; *added says whether it was.
 * copy_field: `field` is a temporary path to keep in the message's identifier_field. */
static cdp_status add_identifier(cdp_segment_message *m, const char *type, const json_t *value,
                                 const char *field, int copy_field, int is_previous, int *added,
                                 cdp_err *err) {
    char number_text[CDP_SEGMENT_ID_TEXT_MAX];
    const char *text;
    size_t len;
    if (added != NULL)
        *added = 0;
    cdp_status status = id_value(value, field, number_text, &text, &len, err);
    if (status != CDP_OK || text == NULL)
        return status;
    if (m->identifier_count >= CDP_SEGMENT_IDENTIFIERS_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "message: more than %d identifiers",
                           CDP_SEGMENT_IDENTIFIERS_MAX);
    size_t index = m->identifier_count++;
    if (text == number_text) {
        memcpy(m->identifier_text[index], number_text, len + 1);
        text = m->identifier_text[index];
    }
    if (copy_field) {
        snprintf(m->identifier_field[index], sizeof m->identifier_field[index], "%s", field);
        field = m->identifier_field[index];
    }
    m->identifiers[index] = (cdp_raw_identifier){
        .type = type, .value = text, .value_len = len, .field = field, .is_previous = is_previous};
    if (added != NULL)
        *added = 1;
    return CDP_OK;
}

/* [a-z][a-z0-9_]{0,31}: the form identity policies name types in. */
static cdp_status check_id_type(const char *type, size_t len, const char *path, cdp_err *err) {
    if (len == 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: required", path);
    if (len > ID_TYPE_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s: longer than %d bytes", path, ID_TYPE_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = type[i];
        int ok = (c >= 'a' && c <= 'z') || (i > 0 && ((c >= '0' && c <= '9') || c == '_'));
        if (!ok)
            return cdp_err_set(err, CDP_BAD_REQUEST, "%s: must match [a-z][a-z0-9_]*", path);
    }
    return CDP_OK;
}

/* ---- message parts ------------------------------------------------------------------------ */

static cdp_status parse_type(const json_t *root, const char *type_hint, cdp_segment_message *m,
                             cdp_err *err) {
    const type_name *hinted = NULL;
    if (type_hint != NULL) {
        hinted = find_type(type_hint);
        if (hinted == NULL)
            return cdp_err_set(err, CDP_MISUSE, "type_hint: not a Segment message type");
    }
    json_t *value = member_of(root, "type");
    const type_name *found = hinted;
    if (value != NULL) {
        if (!json_is_string(value))
            return cdp_err_set(err, CDP_BAD_REQUEST, "type: must be a string");
        found = find_type(json_string_value(value));
        if (found == NULL)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "type: unknown (expected identify, track, page, screen, group or "
                               "alias)");
        if (hinted != NULL && found != hinted)
            return cdp_err_set(err, CDP_BAD_REQUEST, "type: \"%s\" does not match the route (%s)",
                               found->name, hinted->name);
    }
    if (found == NULL)
        return cdp_err_set(err, CDP_BAD_REQUEST, "type: required");
    m->type = found->type;
    m->type_name = found->name;
    return CDP_OK;
}

static cdp_status parse_times(const json_t *root, cdp_segment_message *m, cdp_err *err) {
    /* In order of preference for the event's time. */
    static const char *const fields[] = {"timestamp", "originalTimestamp", "receivedAt", "sentAt"};
    int64_t times[4] = {0};
    int present[4] = {0};
    for (int i = 0; i < 4; i++) {
        json_t *value = member_of(root, fields[i]);
        if (value == NULL)
            continue;
        if (!json_is_string(value) || cdp_segment_parse_time(json_string_value(value), &times[i]))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "%s: not an ISO-8601 time (e.g. 2026-11-23T10:00:00.000Z, years "
                               "%d..%d)",
                               fields[i], YEAR_MIN, YEAR_MAX);
        present[i] = 1;
    }
    int chosen = 0;
    while (chosen < 4 && !present[chosen])
        chosen++;
    m->timestamp = chosen < 4 ? times[chosen] : now_ms();
    m->sent_at = present[3] ? times[3] : 0;
    return CDP_OK;
}

static cdp_status parse_message_id(const json_t *root, cdp_segment_message *m, cdp_err *err) {
    json_t *value = member_of(root, "messageId");
    if (value == NULL)
        return CDP_OK;
    if (!json_is_string(value))
        return cdp_err_set(err, CDP_BAD_REQUEST, "messageId: must be a string");
    if (json_string_length(value) > MESSAGE_ID_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "messageId: longer than %d bytes", MESSAGE_ID_MAX);
    if (json_string_length(value) > 0)
        m->message_id = json_string_value(value);
    return CDP_OK;
}

/* The fields each type adds: event, name, groupId. */
static cdp_status parse_type_fields(const json_t *root, cdp_segment_message *m, cdp_err *err) {
    cdp_status status = CDP_OK;
    switch (m->type) {
    case CDP_SEGMENT_TRACK: {
        json_t *event = member_of(root, "event");
        if (event != NULL && !json_is_string(event))
            return cdp_err_set(err, CDP_BAD_REQUEST, "event: must be a string");
        if (event == NULL || json_string_length(event) == 0)
            return cdp_err_set(err, CDP_BAD_REQUEST, "event: required for track");
        if (json_string_length(event) > EVENT_NAME_MAX)
            return cdp_err_set(err, CDP_BAD_REQUEST, "event: longer than %d bytes", EVENT_NAME_MAX);
        m->event = json_string_value(event);
        break;
    }
    case CDP_SEGMENT_PAGE:
    case CDP_SEGMENT_SCREEN:
        status = string_member(root, "name", "name", &m->name, err);
        if (status == CDP_OK && m->name != NULL && m->name[0] == '\0')
            m->name = NULL;
        break;
    case CDP_SEGMENT_GROUP: {
        size_t len;
        status = id_value(member_of(root, "groupId"), "groupId", m->group_id_text, &m->group_id,
                          &len, err);
        if (status == CDP_OK && m->group_id == NULL)
            status = cdp_err_set(err, CDP_BAD_REQUEST, "groupId: required for group");
        break;
    }
    case CDP_SEGMENT_IDENTIFY:
    case CDP_SEGMENT_ALIAS:
        break;
    }
    return status;
}

/* userId, anonymousId, previousId and the rules on which must be there. */
static cdp_status parse_user_ids(const json_t *root, cdp_segment_message *m, cdp_err *err) {
    int has_user = 0, has_anonymous = 0, has_previous = 0;
    cdp_status status =
        add_identifier(m, "user_id", member_of(root, "userId"), "userId", 0, 0, &has_user, err);
    if (status == CDP_OK)
        status = add_identifier(m, "anonymous_id", member_of(root, "anonymousId"), "anonymousId", 0,
                                0, &has_anonymous, err);
    if (status == CDP_OK && m->type == CDP_SEGMENT_ALIAS)
        status = add_identifier(m, "user_id", member_of(root, "previousId"), "previousId", 0, 1,
                                &has_previous, err);
    if (status != CDP_OK)
        return status;
    if (m->type == CDP_SEGMENT_ALIAS) {
        if (!has_previous)
            return cdp_err_set(err, CDP_BAD_REQUEST, "previousId: required for alias");
        if (!has_user)
            return cdp_err_set(err, CDP_BAD_REQUEST, "userId: required for alias");
    } else if (!has_user && !has_anonymous) {
        return cdp_err_set(err, CDP_BAD_REQUEST, "userId: required (or anonymousId)");
    }
    return CDP_OK;
}

/* email and phone from the person's traits, device id, context.externalIds[]. */
static cdp_status parse_other_ids(cdp_segment_message *m, const json_t *person_traits,
                                  int traits_on_top, cdp_err *err) {
    cdp_status status =
        add_identifier(m, "email", member_of(person_traits, "email"),
                       traits_on_top ? "traits.email" : "context.traits.email", 0, 0, NULL, err);
    if (status == CDP_OK)
        status = add_identifier(m, "phone", member_of(person_traits, "phone"),
                                traits_on_top ? "traits.phone" : "context.traits.phone", 0, 0, NULL,
                                err);
    json_t *device = NULL;
    if (status == CDP_OK)
        status = object_member(m->context, "device", "context.device", &device, err);
    if (status == CDP_OK)
        status = add_identifier(m, "device_id", member_of(device, "id"), "context.device.id", 0, 0,
                                NULL, err);
    if (status != CDP_OK)
        return status;

    json_t *external = member_of(m->context, "externalIds");
    if (external == NULL)
        return CDP_OK;
    if (!json_is_array(external))
        return cdp_err_set(err, CDP_BAD_REQUEST, "context.externalIds: must be an array");
    size_t index;
    json_t *entry;
    json_array_foreach(external, index, entry) {
        char path[64]; /* an index past 63 only ever appears in an error message */
        if (!json_is_object(entry))
            return cdp_err_set(err, CDP_BAD_REQUEST, "context.externalIds[%zu]: must be an object",
                               index);
        snprintf(path, sizeof path, "context.externalIds[%zu].type", index);
        const char *type = NULL;
        status = string_member(entry, "type", path, &type, err);
        if (status == CDP_OK)
            status =
                check_id_type(type != NULL ? type : "", type != NULL ? strlen(type) : 0, path, err);
        if (status != CDP_OK)
            return status;
        snprintf(path, sizeof path, "context.externalIds[%zu].id", index);
        int added = 0;
        status = add_identifier(m, type, member_of(entry, "id"), path, 1, 0, &added, err);
        if (status != CDP_OK)
            return status;
        if (!added)
            return cdp_err_set(err, CDP_BAD_REQUEST, "%s: required", path);
    }
    return CDP_OK;
}

/* The person's country, first listed source that names one; wrong shapes are ignored here. */
static void parse_country(cdp_segment_message *m, const json_t *top_person_traits) {
    const json_t *sources[3] = {
        json_object_get(member_of(top_person_traits, "address"), "country"),
        json_object_get(member_of(m->context, "location"), "country"),
        json_object_get(member_of(member_of(m->context, "traits"), "address"), "country"),
    };
    for (int i = 0; i < 3; i++) {
        if (!json_is_string(sources[i]))
            continue;
        if (country_code(json_string_value(sources[i]), json_string_length(sources[i]),
                         m->country_buf) == 0) {
            m->country = m->country_buf;
            return;
        }
    }
}

static cdp_status parse_message(json_t *root, const char *type_hint, cdp_segment_message *m,
                                cdp_err *err) {
    cdp_status status = check_size(root, err);
    if (status == CDP_OK)
        status = parse_type(root, type_hint, m, err);
    if (status == CDP_OK)
        status = parse_message_id(root, m, err);
    if (status == CDP_OK)
        status = parse_times(root, m, err);

    json_t *traits = NULL, *properties = NULL, *context_traits = NULL, *integrations = NULL;
    if (status == CDP_OK)
        status = object_member(root, "context", "context", &m->context, err);
    if (status == CDP_OK)
        status = object_member(root, "traits", "traits", &traits, err);
    if (status == CDP_OK)
        status = object_member(root, "properties", "properties", &properties, err);
    if (status == CDP_OK)
        status = object_member(root, "integrations", "integrations", &integrations, err);
    if (status == CDP_OK)
        status = object_member(m->context, "traits", "context.traits", &context_traits, err);
    if (status == CDP_OK)
        status = parse_type_fields(root, m, err);
    if (status == CDP_OK)
        status = parse_user_ids(root, m, err);
    if (status != CDP_OK)
        return status;

    /* Whose traits: identify's top-level traits are the person's (context.traits when it has
     * none); group's top-level traits describe the group, so the person's come only from
     * context.traits; the other calls carry the person's traits in context.traits. */
    const json_t *person_traits = context_traits;
    int traits_on_top = 0;
    if (m->type == CDP_SEGMENT_IDENTIFY && traits != NULL) {
        person_traits = traits;
        traits_on_top = 1;
    }
    m->traits = m->type == CDP_SEGMENT_GROUP ? traits : (json_t *)person_traits;
    if (m->type == CDP_SEGMENT_TRACK || m->type == CDP_SEGMENT_PAGE ||
        m->type == CDP_SEGMENT_SCREEN)
        m->properties = properties;

    status = parse_other_ids(m, person_traits, traits_on_top, err);
    if (status != CDP_OK)
        return status;

    parse_country(m, traits_on_top ? person_traits : NULL);
    m->locale = lenient_string(m->context, "locale");
    m->timezone = lenient_string(m->context, "timezone");
    m->channel = lenient_string(root, "channel");
    if (m->channel == NULL)
        m->channel = lenient_string(m->context, "channel");

    if (m->message_id == NULL)
        status = derive_message_id(m, err);
    return status;
}

/* ---- public ------------------------------------------------------------------------------- */

cdp_status cdp_segment_parse(json_t *message, const char *type_hint, cdp_segment_message *out,
                             cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "cdp_segment_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (message == NULL)
        return cdp_err_set(err, CDP_MISUSE, "cdp_segment_parse: message is NULL");
    if (!json_is_object(message))
        return cdp_err_set(err, CDP_BAD_REQUEST, "message: must be an object");
    out->root = json_incref(message);
    cdp_status status = parse_message(message, type_hint, out, err);
    if (status != CDP_OK)
        cdp_segment_message_clear(out);
    return status;
}

void cdp_segment_message_clear(cdp_segment_message *message) {
    if (message == NULL)
        return;
    json_decref(message->root);
    memset(message, 0, sizeof *message);
}

/* jansson's error text quotes up to 20 bytes of the offending token ("... near 'bob@x.io'"):
 * it can be personal data, so the quote is cut; the position stays. */
static void error_reason(const char *text, char *out, size_t cap) {
    const char *near = strstr(text, " near '");
    size_t len = near != NULL ? (size_t)(near - text) : strlen(text);
    snprintf(out, cap, "%.*s", (int)len, text);
}

cdp_status cdp_segment_decode_json(const char *body, size_t len, json_t **out, cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "cdp_segment_decode_json: out is NULL");
    *out = NULL;
    if (body == NULL && len > 0)
        return cdp_err_set(err, CDP_MISUSE, "cdp_segment_decode_json: body is NULL");
    if (len > CDP_SEGMENT_BATCH_MAX)
        return cdp_err_set(err, CDP_PAYLOAD_TOO_LARGE, "body: larger than %u bytes",
                           CDP_SEGMENT_BATCH_MAX);

    /* Zeroed: on an allocation failure jansson returns NULL without writing an error. */
    json_error_t error;
    memset(&error, 0, sizeof error);
    json_t *root = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        char reason[JSON_ERROR_TEXT_LENGTH];
        switch (json_error_code(&error)) {
        case json_error_out_of_memory:
            return cdp_err_set(err, CDP_NOMEM, "body: out of memory parsing JSON");
        case json_error_invalid_utf8:
            return cdp_err_set(err, CDP_INVALID_JSON,
                               "body: invalid UTF-8 at line %d, column %d (byte %d)", error.line,
                               error.column, error.position);
        case json_error_duplicate_key:
            return cdp_err_set(err, CDP_INVALID_JSON,
                               "body: duplicate object key at line %d, column %d", error.line,
                               error.column);
        case json_error_stack_overflow:
            return cdp_err_set(err, CDP_INVALID_JSON, "body: nesting deeper than %d levels",
                               NESTING_MAX);
        default:
            if (error.text[0] == '\0')
                return cdp_err_set(err, CDP_NOMEM, "body: out of memory parsing JSON");
            error_reason(error.text, reason, sizeof reason);
            return cdp_err_set(err, CDP_INVALID_JSON,
                               "body: invalid JSON at line %d, column %d: %s", error.line,
                               error.column, reason);
        }
    }
    if (deeper_than(root, NESTING_MAX)) {
        json_decref(root);
        return cdp_err_set(err, CDP_INVALID_JSON, "body: nesting deeper than %d levels",
                           NESTING_MAX);
    }
    *out = root;
    return CDP_OK;
}
