/* Identifier normalization: e-mail (NFC, lower case, UTS #46 domain), phone (E.164 through
 * libphonenumber, see phone_shim.cc) and plain ids (NFC, syntax only). Every identifier is
 * indexed and compared in the one form written here. This runs on every ingested message, so
 * the work happens in stack buffers: the only allocation is growing the caller's output. */
#include "identity/normalize.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unicode/uidna.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "identity/phone_shim.h"

/* RFC 5321 limits, counted in bytes of the final (ASCII-domain) form. */
#define EMAIL_MAX 254
#define EMAIL_LOCAL_MAX 64
#define EMAIL_DOMAIN_MAX 253
#define EMAIL_LABEL_MAX 63
/* Longest trimmed e-mail input looked at: anything longer cannot come down to 254 bytes by
 * normalization in practice, and refusing early bounds the work done on hostile input. */
#define EMAIL_INPUT_MAX CDP_IDENTIFIER_MAX
/* Longest trimmed phone input handed to libphonenumber (its parser is regex-heavy). */
#define PHONE_INPUT_MAX 64
/* NFC shrinks text at most threefold (Hangul jamo L+V+T, 9 bytes, compose to one 3-byte
 * syllable), so a longer plain id cannot normalize to CDP_IDENTIFIER_MAX bytes. */
#define PLAIN_INPUT_MAX (3 * CDP_IDENTIFIER_MAX)
/* UTF-16 scratch: an input of n UTF-8 bytes has at most n UTF-16 units, and a result that does
 * not fit in this many units has at least as many UTF-8 bytes, so it is too long anyway: no
 * heap fallback is ever needed. */
#define UTF16_CAP PLAIN_INPUT_MAX

/* ---- ICU instances, created once; both are immutable and safe to share between threads ---- */

static pthread_once_t icu_once = PTHREAD_ONCE_INIT;
static const UNormalizer2 *nfc_normalizer;
static UIDNA *uts46;
static UErrorCode icu_init_status = U_ZERO_ERROR;

static void icu_init(void) {
    UErrorCode status = U_ZERO_ERROR;
    nfc_normalizer = unorm2_getNFCInstance(&status);
    /* STD3 rules on top of the agreed options: an e-mail domain is a host name (letters, digits,
     * hyphens), and without them UTS #46 lets "_", "<", "," or " " through in a label. Never
     * closed: it lives as long as the process (reachable, so LeakSanitizer does not report it). */
    if (U_SUCCESS(status))
        uts46 = uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_NONTRANSITIONAL_TO_ASCII |
                                    UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ,
                                &status);
    icu_init_status = status;
}

static cdp_status icu_ready(const char *what, cdp_err *err) {
    pthread_once(&icu_once, icu_init);
    if (U_FAILURE(icu_init_status))
        return cdp_err_set(err, CDP_INTERNAL, "%s: ICU unavailable: %s", what,
                           u_errorName(icu_init_status));
    return CDP_OK;
}

/* ---- UTF-8 ---- */

/* Decodes one code point at s[*at] (strict: no overlongs, no surrogates, <= U+10FFFF) and
 * advances *at. 0 on an invalid or truncated sequence. */
static int utf8_next(const uint8_t *s, size_t len, size_t *at, uint32_t *code_point) {
    size_t i = *at;
    uint8_t lead = s[i];
    if (lead < 0x80) {
        *code_point = lead;
        *at = i + 1;
        return 1;
    }
    size_t extra;
    uint8_t low = 0x80, high = 0xBF; /* allowed range of the first continuation byte */
    uint32_t value;
    if (lead >= 0xC2 && lead <= 0xDF) {
        extra = 1;
        value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        extra = 2;
        value = lead & 0x0F;
        if (lead == 0xE0)
            low = 0xA0; /* overlong below U+0800 */
        else if (lead == 0xED)
            high = 0x9F; /* U+D800..U+DFFF are surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        extra = 3;
        value = lead & 0x07;
        if (lead == 0xF0)
            low = 0x90; /* overlong below U+10000 */
        else if (lead == 0xF4)
            high = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (len - i - 1 < extra)
        return 0;
    for (size_t k = 1; k <= extra; k++) {
        uint8_t byte = s[i + k];
        if (k == 1 ? (byte < low || byte > high) : (byte & 0xC0) != 0x80)
            return 0;
        value = value << 6 | (byte & 0x3F);
    }
    *code_point = value;
    *at = i + 1 + extra;
    return 1;
}

int cdp_utf8_valid(const char *s, size_t len) {
    const uint8_t *bytes = (const uint8_t *)s;
    size_t at = 0;
    uint32_t code_point;
    if (s == NULL)
        return len == 0;
    while (at < len) {
        if (bytes[at] < 0x80) {
            at++;
            continue;
        }
        if (!utf8_next(bytes, len, &at, &code_point))
            return 0;
    }
    return 1;
}

/* ---- Character classes ---- */

/* Unicode White_Space (Unicode 15). */
static int is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* C0, DEL and C1 (general category Cc). */
static int is_control(uint32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

static int is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static void trim_ascii(const char **s, size_t *len) {
    while (*len > 0 && is_ascii_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ascii_space((*s)[*len - 1]))
        (*len)--;
}

/* Trims Unicode white space at both ends; invalid UTF-8 is left for the caller to refuse. */
static void trim_unicode(const char **s, size_t *len) {
    const uint8_t *bytes = (const uint8_t *)*s;
    size_t start = 0, end = *len;
    uint32_t c;
    while (start < end) {
        size_t next = start;
        if (!utf8_next(bytes, end, &next, &c) || !is_white_space(c))
            break;
        start = next;
    }
    while (end > start) {
        /* A white-space code point is 1 to 3 bytes; find where the last one would begin. */
        size_t begin = end - 1;
        while (begin > start && end - begin < 3 && (bytes[begin] & 0xC0) == 0x80)
            begin--;
        size_t next = begin;
        if (!utf8_next(bytes, end, &next, &c) || next != end || !is_white_space(c))
            break;
        end = begin;
    }
    *s += start;
    *len = end - start;
}

/* What a scan of a value found, in the order of the messages it leads to. */
typedef struct text_scan {
    int valid_utf8;
    int has_control;
    int has_space;
    int ascii;
} text_scan;

static text_scan scan_text(const char *s, size_t len) {
    const uint8_t *bytes = (const uint8_t *)s;
    text_scan scan = {1, 0, 0, 1};
    size_t at = 0;
    uint32_t c;
    while (at < len) {
        if (bytes[at] < 0x80) {
            c = bytes[at++];
        } else {
            scan.ascii = 0;
            if (!utf8_next(bytes, len, &at, &c)) {
                scan.valid_utf8 = 0;
                return scan;
            }
        }
        if (is_control(c))
            scan.has_control = 1;
        else if (is_white_space(c))
            scan.has_space = 1;
    }
    return scan;
}

/* ---- Unicode work through ICU ---- */

/* Converts valid UTF-8 (in_len <= UTF16_CAP) to NFC, lower-cased (root locale, full case
 * mapping) when lower is set, and writes it as UTF-8 into dst. Returns the byte length, -1 when
 * the result does not fit in dst_cap bytes, -2 on an ICU failure (in *status). */
static int32_t unicode_fold(const char *in, size_t in_len, int lower, char *dst, int32_t dst_cap,
                            UErrorCode *status) {
    UChar source[UTF16_CAP], first[UTF16_CAP], second[UTF16_CAP];
    int32_t length = 0, written = 0;
    *status = U_ZERO_ERROR;
    u_strFromUTF8(source, UTF16_CAP, &length, in, (int32_t)in_len, status);
    if (U_FAILURE(*status))
        return -2;
    const UChar *text = source;
    if (!unorm2_isNormalized(nfc_normalizer, text, length, status)) {
        length = unorm2_normalize(nfc_normalizer, text, length, first, UTF16_CAP, status);
        text = first;
    } else if (!lower && U_SUCCESS(*status)) {
        /* Already NFC (the usual case): the input bytes are the answer. */
        if (in_len > (size_t)dst_cap)
            return -1;
        memcpy(dst, in, in_len);
        return (int32_t)in_len;
    }
    if (lower && U_SUCCESS(*status)) {
        UChar *into = text == first ? second : first;
        length = u_strToLower(into, UTF16_CAP, text, length, "", status);
        text = into;
        /* Case mapping can leave a string that is no longer NFC; normalize again then. */
        if (U_SUCCESS(*status) && !unorm2_isNormalized(nfc_normalizer, text, length, status)) {
            UChar *again = text == first ? second : first;
            length = unorm2_normalize(nfc_normalizer, text, length, again, UTF16_CAP, status);
            text = again;
        }
    }
    if (*status == U_BUFFER_OVERFLOW_ERROR)
        return -1;
    if (U_FAILURE(*status))
        return -2;
    u_strToUTF8(dst, dst_cap, &written, text, length, status);
    if (*status == U_BUFFER_OVERFLOW_ERROR)
        return -1;
    if (U_FAILURE(*status))
        return -2;
    *status = U_ZERO_ERROR; /* U_STRING_NOT_TERMINATED_WARNING is expected: no NUL is needed */
    return written;
}

/* ---- Output ---- */

static void empty_out(cdp_buf *out) {
    cdp_buf_reset(out);
    if (out->data != NULL && out->cap > 0)
        out->data[0] = '\0';
}

static cdp_status put_result(cdp_buf *out, const char *bytes, size_t len, const char *what,
                             cdp_err *err) {
    if (cdp_buf_reserve(out, len + 1) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "%s: out of memory", what);
    memcpy(out->data, bytes, len);
    out->data[len] = '\0';
    out->len = len;
    return CDP_OK;
}

/* ---- E-mail ---- */

/* Problems found in a domain; the message names the first in this order. */
enum {
    DOMAIN_INVALID = 1,
    DOMAIN_EMPTY_LABEL = 2,
    DOMAIN_LABEL_TOO_LONG = 4,
    DOMAIN_TOO_LONG = 8,
};

static cdp_status domain_failure(unsigned problems, cdp_err *err) {
    const char *reason = (problems & DOMAIN_INVALID)       ? "domain is not a valid IDN"
                         : (problems & DOMAIN_EMPTY_LABEL) ? "empty label in domain"
                         : (problems & DOMAIN_LABEL_TOO_LONG)
                             ? "domain label longer than 63 characters"
                             : "domain longer than 253 characters";
    return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: %s", reason);
}

/* Length rules of an ASCII domain. A trailing dot (which UTS #46 accepts as the root) counts as
 * an empty label: "a@example.com." would otherwise be a second spelling of the same address. */
static unsigned domain_length_problems(const char *domain, size_t len) {
    unsigned problems = len > EMAIL_DOMAIN_MAX ? DOMAIN_TOO_LONG : 0;
    size_t label_start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && domain[i] != '.')
            continue;
        size_t label_len = i - label_start;
        if (label_len == 0)
            problems |= DOMAIN_EMPTY_LABEL;
        else if (label_len > EMAIL_LABEL_MAX)
            problems |= DOMAIN_LABEL_TOO_LONG;
        label_start = i + 1;
    }
    return problems;
}

/* UTS #46 ToASCII through ICU. Writes the ASCII domain into dst (cap bytes); returns its length
 * and sets *problems. */
static cdp_status icu_domain(const char *domain, size_t len, char *dst, int32_t cap,
                             int32_t *dst_len, unsigned *problems, cdp_err *err) {
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    UErrorCode status = U_ZERO_ERROR;
    *problems = 0;
    *dst_len = uidna_nameToASCII_UTF8(uts46, domain, (int32_t)len, dst, cap, &info, &status);
    if (status == U_BUFFER_OVERFLOW_ERROR)
        *problems |= DOMAIN_TOO_LONG;
    else if (U_FAILURE(status))
        return cdp_err_set(err, CDP_INTERNAL, "email: IDN conversion failed: %s",
                           u_errorName(status));
    uint32_t errors = info.errors;
    if (errors & UIDNA_ERROR_EMPTY_LABEL)
        *problems |= DOMAIN_EMPTY_LABEL;
    if (errors & UIDNA_ERROR_LABEL_TOO_LONG)
        *problems |= DOMAIN_LABEL_TOO_LONG;
    if (errors & UIDNA_ERROR_DOMAIN_NAME_TOO_LONG)
        *problems |= DOMAIN_TOO_LONG;
    if (errors & ~(uint32_t)(UIDNA_ERROR_EMPTY_LABEL | UIDNA_ERROR_LABEL_TOO_LONG |
                             UIDNA_ERROR_DOMAIN_NAME_TOO_LONG))
        *problems |= DOMAIN_INVALID;
    if (*problems == 0)
        *problems = domain_length_problems(dst, (size_t)*dst_len);
    return CDP_OK;
}

/* Trimmed input -> checks on the raw text -> local part NFC + lower case -> domain through
 * UTS #46 -> length rules of the result. Measured at about 0.3 us for an ASCII address and
 * 0.5 us for an IDN one, so ASCII input takes the same ICU path: one path, one behaviour. */
cdp_status cdp_normalize_email(const char *value, size_t len, cdp_buf *out, cdp_err *err) {
    if (out == NULL || (value == NULL && len > 0))
        return cdp_err_set(err, CDP_MISUSE, "email: no value or no output buffer");
    empty_out(out);
    const char *text = value != NULL ? value : "";
    trim_unicode(&text, &len);
    if (len == 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: empty");
    if (len > EMAIL_INPUT_MAX)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: longer than 254 characters");
    text_scan scan = scan_text(text, len);
    if (!scan.valid_utf8)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: invalid UTF-8");
    if (scan.has_control)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: contains a control character");
    if (scan.has_space)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: contains a space");
    /* '@' (0x40) never occurs inside a multi-byte UTF-8 sequence, so a byte search is exact. */
    const char *at_sign = memchr(text, '@', len);
    if (at_sign == NULL)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: no @");
    size_t local_len = (size_t)(at_sign - text);
    const char *domain = at_sign + 1;
    size_t domain_len = len - local_len - 1;
    if (memchr(domain, '@', domain_len) != NULL)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: more than one @");
    if (local_len == 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: empty local part");
    if (domain_len == 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: empty domain");
    cdp_status status = icu_ready("email", err);
    if (status != CDP_OK)
        return status;

    /* The local part is lower-cased too. RFC 5321 lets a server treat it case-sensitively,
     * but retail CDPs (and practically every mailbox provider) treat e-mail case-insensitively,
     * and "Alice@" and "alice@" must find the same person. Dots and +tags stay: stripping them
     * is provider-specific and belongs to a policy. The local part stays Unicode (SMTPUTF8). */
    char address[EMAIL_MAX + 1];
    UErrorCode icu_status;
    int32_t local_out = unicode_fold(text, local_len, 1, address, EMAIL_LOCAL_MAX, &icu_status);
    if (local_out == -2)
        return cdp_err_set(err, CDP_INTERNAL, "email: Unicode normalization failed: %s",
                           u_errorName(icu_status));
    if (local_out < 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: local part longer than 64 bytes");

    /* The ASCII domain goes into a buffer larger than the limit, so that its length is judged
     * by domain_length_problems and not by an overflow. */
    char ascii_domain[EMAIL_INPUT_MAX + 1];
    int32_t ascii_len = 0;
    unsigned problems = 0;
    status = icu_domain(domain, domain_len, ascii_domain, (int32_t)sizeof ascii_domain, &ascii_len,
                        &problems, err);
    if (status != CDP_OK)
        return status;
    if (problems != 0)
        return domain_failure(problems, err);
    if (memchr(ascii_domain, '.', (size_t)ascii_len) == NULL)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: domain has no dot");
    if ((size_t)local_out + 1 + (size_t)ascii_len > EMAIL_MAX)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "email: longer than 254 characters");
    address[local_out] = '@';
    memcpy(address + local_out + 1, ascii_domain, (size_t)ascii_len);
    return put_result(out, address, (size_t)local_out + 1 + (size_t)ascii_len, "email", err);
}

/* ---- Phone ---- */

/* Characters a written phone number may hold: the digits libphonenumber reads (ASCII,
 * full-width, Arabic-Indic, Extended Arabic-Indic), plus signs, and its punctuation. Anything
 * else is refused before parsing: libphonenumber would otherwise skip leading text ("call
 * +47..."), read letters as keypad digits ("1-800-FLOWERS"), take "x12" or "~12" as an
 * extension, and silently drop digits of other scripts ("+47 2233\u096A4455" becomes
 * "+47223344455"). */
static const uint32_t phone_punctuation[] = {
    '+',    0xFF0B,                                         /* plus signs */
    ' ',    0x00A0, 0x3000, 0x00AD, 0x200B, 0x2060,         /* spaces, invisible separators */
    '-',    0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, /* dashes */
    0x2212, 0x30FC, 0xFF0D,                                 /* minus, prolonged sound mark */
    '(',    ')',    0xFF08, 0xFF09, '[',    ']',    0xFF3B, 0xFF3D, /* brackets */
    '.',    0xFF0E, '/',    0xFF0F,                                 /* dots and slashes */
};

static int phone_char_allowed(uint32_t c) {
    if ((c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19) || (c >= 0x0660 && c <= 0x0669) ||
        (c >= 0x06F0 && c <= 0x06F9))
        return 1;
    for (size_t i = 0; i < sizeof phone_punctuation / sizeof phone_punctuation[0]; i++)
        if (phone_punctuation[i] == c)
            return 1;
    return 0;
}

cdp_status cdp_normalize_phone(const char *value, size_t len, const char *country, cdp_buf *out,
                               cdp_err *err) {
    if (out == NULL || (value == NULL && len > 0))
        return cdp_err_set(err, CDP_MISUSE, "phone: no value or no output buffer");
    empty_out(out);
    const char *text = value != NULL ? value : "";
    trim_unicode(&text, &len);
    if (len == 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "phone: empty");
    if (len > PHONE_INPUT_MAX)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "phone: longer than 64 bytes");
    const uint8_t *bytes = (const uint8_t *)text;
    size_t at = 0;
    while (at < len) {
        uint32_t c;
        if (!utf8_next(bytes, len, &at, &c))
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "phone: invalid UTF-8");
        if (!phone_char_allowed(c))
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "phone: not a number");
    }

    /* Anything but two ASCII letters (a country name, "NOR") is read as "no country": numbers
     * written internationally still parse, national ones are refused as unreadable. */
    char region[3] = "ZZ";
    if (country != NULL && strlen(country) == 2) {
        char upper[3];
        int letters = 1;
        for (int i = 0; i < 2; i++) {
            char c = country[i];
            upper[i] = c >= 'a' && c <= 'z' ? (char)(c - ('a' - 'A')) : c;
            letters &= upper[i] >= 'A' && upper[i] <= 'Z';
        }
        upper[2] = '\0';
        if (letters)
            memcpy(region, upper, sizeof region);
    }

    char number[PHONE_INPUT_MAX + 1];
    char e164[CDP_PHONE_E164_CAP];
    char reason[96];
    memcpy(number, text, len);
    number[len] = '\0';
    switch (cdp_phone_to_e164(number, region, e164, sizeof e164, reason, sizeof reason)) {
    case CDP_PHONE_OK:
        break;
    case CDP_PHONE_INVALID:
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "phone: %s", reason);
    case CDP_PHONE_NOMEM:
        return cdp_err_set(err, CDP_NOMEM, "phone: out of memory");
    default:
        return cdp_err_set(err, CDP_INTERNAL, "phone: %s", reason);
    }
    /* E.164: a plus and 1 to 15 digits. Checked so that a library surprise cannot become an
     * identifier that matches the wrong person. */
    size_t e164_len = strlen(e164);
    int well_formed = e164_len >= 2 && e164_len <= 16 && e164[0] == '+';
    for (size_t i = 1; well_formed && i < e164_len; i++)
        well_formed = e164[i] >= '0' && e164[i] <= '9';
    if (!well_formed)
        return cdp_err_set(err, CDP_INTERNAL, "phone: libphonenumber returned a malformed number");
    return put_result(out, e164, e164_len, "phone", err);
}

/* ---- Plain ids and dispatch ---- */

/* [a-z][a-z0-9_]{0,31}: type names appear in messages and keys, so they stay plain ASCII. */
static int type_name_valid(const char *type) {
    if (type == NULL || !(type[0] >= 'a' && type[0] <= 'z'))
        return 0;
    size_t i = 1;
    for (; type[i] != '\0'; i++) {
        char c = type[i];
        if (i >= 32 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static cdp_status type_failure(cdp_err *err) {
    return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                       "type: must be a lower-case letter then up to 31 of a-z, 0-9 and _");
}

/* Values such as "null" or "undefined" pass: refusing them is policy (blocked values), not
 * syntax. */
cdp_status cdp_normalize_plain_id(const char *type, const char *value, size_t len, cdp_buf *out,
                                  cdp_err *err) {
    if (!type_name_valid(type))
        return type_failure(err);
    if (out == NULL || (value == NULL && len > 0))
        return cdp_err_set(err, CDP_MISUSE, "%s: no value or no output buffer", type);
    empty_out(out);
    const char *text = value != NULL ? value : "";
    trim_ascii(&text, &len);
    if (len == 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: empty", type);
    if (len > PLAIN_INPUT_MAX)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: longer than %d bytes", type,
                           CDP_IDENTIFIER_MAX);
    text_scan scan = scan_text(text, len);
    if (!scan.valid_utf8)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: invalid UTF-8", type);
    if (scan.has_control)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: contains a control character", type);
    if (scan.ascii) {
        if (len > CDP_IDENTIFIER_MAX)
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: longer than %d bytes", type,
                               CDP_IDENTIFIER_MAX);
        return put_result(out, text, len, type, err);
    }
    cdp_status status = icu_ready(type, err);
    if (status != CDP_OK)
        return status;
    char normalized[CDP_IDENTIFIER_MAX];
    UErrorCode icu_status;
    int32_t normalized_len =
        unicode_fold(text, len, 0, normalized, (int32_t)sizeof normalized, &icu_status);
    if (normalized_len == -2)
        return cdp_err_set(err, CDP_INTERNAL, "%s: Unicode normalization failed: %s", type,
                           u_errorName(icu_status));
    if (normalized_len < 0)
        return cdp_err_set(err, CDP_INVALID_IDENTIFIER, "%s: longer than %d bytes", type,
                           CDP_IDENTIFIER_MAX);
    return put_result(out, normalized, (size_t)normalized_len, type, err);
}

cdp_status cdp_normalize_identifier(const char *type, const char *value, size_t len,
                                    const char *country, cdp_buf *out, cdp_err *err) {
    if (!type_name_valid(type))
        return type_failure(err);
    if (strcmp(type, "email") == 0)
        return cdp_normalize_email(value, len, out, err);
    if (strcmp(type, "phone") == 0)
        return cdp_normalize_phone(value, len, country, out, err);
    return cdp_normalize_plain_id(type, value, len, out, err);
}
