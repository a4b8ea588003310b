/* Tests of identifier normalization: e-mail (trim, NFC, lower case, UTS #46 domain, refusals,
 * ASCII fast path against ICU), phone (E.164 through libphonenumber), plain ids, type names,
 * the strict UTF-8 decoder, allocation failures and concurrent use. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/normalize.h"
#include "util/alloc.h"
#include "util/bytes.h"

static cdp_buf out;
static cdp_err err;

static void setup(void) {
    memset(&out, 0, sizeof out);
    memset(&err, 0, sizeof err);
}

static void teardown(void) {
    cdp_alloc_fail_reset();
    cdp_buf_free(&out);
}

TestSuite(email, .init = setup, .fini = teardown);
TestSuite(phone, .init = setup, .fini = teardown);
TestSuite(plain_id, .init = setup, .fini = teardown);
TestSuite(identifier, .init = setup, .fini = teardown);
TestSuite(utf8, .init = setup, .fini = teardown);
TestSuite(alloc_failure, .init = setup, .fini = teardown);
TestSuite(threads, .init = setup, .fini = teardown);

/* ---- Helpers ---- */

static int starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* The output is NUL-terminated right after len and holds no earlier NUL. */
static void assert_out_is(const char *expected) {
    cr_assert_not_null(out.data);
    cr_assert_eq(out.len, strlen(expected), "length %zu, expected %zu (\"%s\")", out.len,
                 strlen(expected), expected);
    cr_assert_eq(out.data[out.len], '\0');
    cr_assert_str_eq((const char *)out.data, expected);
}

static void expect_email(const char *input, const char *expected) {
    cdp_status status = cdp_normalize_email(input, strlen(input), &out, &err);
    cr_assert_eq(status, CDP_OK, "\"%s\": %s", input, err.message);
    assert_out_is(expected);
}

static void expect_email_refused(const char *input, size_t len, const char *message) {
    cdp_status status = cdp_normalize_email(input, len, &out, &err);
    cr_assert_eq(status, CDP_INVALID_IDENTIFIER, "\"%.*s\" was accepted", (int)len, input);
    cr_assert(starts_with(err.message, message), "message \"%s\", expected \"%s\"", err.message,
              message);
    cr_assert_eq(out.len, 0);
}

static void expect_phone(const char *input, const char *country, const char *expected) {
    cdp_status status = cdp_normalize_phone(input, strlen(input), country, &out, &err);
    cr_assert_eq(status, CDP_OK, "\"%s\" (%s): %s", input, country ? country : "NULL", err.message);
    assert_out_is(expected);
}

static void expect_phone_refused(const char *input, size_t len, const char *country,
                                 const char *message) {
    cdp_status status = cdp_normalize_phone(input, len, country, &out, &err);
    cr_assert_eq(status, CDP_INVALID_IDENTIFIER, "\"%.*s\" (%s) was accepted as %s", (int)len,
                 input, country ? country : "NULL", out.len ? (const char *)out.data : "");
    cr_assert(starts_with(err.message, message), "message \"%s\", expected \"%s\"", err.message,
              message);
    cr_assert_eq(out.len, 0);
}

static void expect_plain(const char *type, const char *input, size_t len, const char *expected) {
    cdp_status status = cdp_normalize_plain_id(type, input, len, &out, &err);
    cr_assert_eq(status, CDP_OK, "%s: %s", type, err.message);
    assert_out_is(expected);
}

static void expect_plain_refused(const char *type, const char *input, size_t len,
                                 const char *message) {
    cdp_status status = cdp_normalize_plain_id(type, input, len, &out, &err);
    cr_assert_eq(status, CDP_INVALID_IDENTIFIER, "%s value was accepted", type);
    cr_assert(starts_with(err.message, message), "message \"%s\", expected \"%s\"", err.message,
              message);
    cr_assert_eq(out.len, 0);
}

/* Fills buf with count copies of piece; returns buf. */
static char *repeat(char *buf, size_t cap, const char *piece, size_t count) {
    size_t piece_len = strlen(piece), used = 0;
    for (size_t i = 0; i < count && used + piece_len < cap; i++, used += piece_len)
        memcpy(buf + used, piece, piece_len);
    buf[used] = '\0';
    return buf;
}

/* ---- E-mail ---- */

Test(email, trims_white_space_and_lower_cases_the_whole_address) {
    expect_email("  Alice.Smith@Example.COM \t\r\n", "alice.smith@example.com");
    /* Unicode white space (ideographic space, no-break space, line separator) is trimmed too. */
    expect_email("\xE3\x80\x80"
                 "Bob@Example.com\xC2\xA0\xE2\x80\xA8",
                 "bob@example.com");
    /* The header's example: Unicode local part kept, lower-cased; domain to ASCII. */
    expect_email("  \xC3\x85lice@B\xC3\x9C"
                 "CHER.example ",
                 "\xC3\xA5lice@xn--bcher-kva.example");
}

Test(email, keeps_dots_and_plus_tags) {
    expect_email("First.Last+Newsletter@GMail.com", "first.last+newsletter@gmail.com");
}

Test(email, decomposed_and_precomposed_forms_give_the_same_nfc_result) {
    /* "A" + COMBINING RING ABOVE versus U+00C5. */
    expect_email("A\xCC\x8Angstr\xC3\xB6m@example.com", "\xC3\xA5ngstr\xC3\xB6m@example.com");
    cdp_buf precomposed = {0};
    cr_assert_eq(cdp_normalize_email("\xC3\x85ngstro\xCC\x88m@example.com",
                                     strlen("\xC3\x85ngstro\xCC\x88m@example.com"), &precomposed,
                                     NULL),
                 CDP_OK);
    cr_assert_eq(precomposed.len, out.len);
    cr_assert_eq(memcmp(precomposed.data, out.data, out.len), 0);
    cdp_buf_free(&precomposed);
}

Test(email, idn_domain_becomes_punycode) {
    expect_email("info@b\xC3\xBC"
                 "cher.example",
                 "info@xn--bcher-kva.example");
    /* Decomposed u + COMBINING DIAERESIS gives the same label. */
    expect_email("info@bu\xCC\x88"
                 "cher.example",
                 "info@xn--bcher-kva.example");
    /* Already-ASCII input of the same domain is accepted and unchanged. */
    expect_email("info@XN--BCHER-KVA.example", "info@xn--bcher-kva.example");
    /* IANA's IDN test domain, with a Greek local part kept in Unicode (SMTPUTF8). */
    expect_email("\xCE\x94\xCE\xBF\xCE\xBA\xCE\xB9\xCE\xBC\xCE\xAE@"
                 "\xCE\xA0\xCE\xB1\xCF\x81\xCE\xAC\xCE\xB4\xCE\xB5\xCE\xB9\xCE\xB3\xCE\xBC\xCE\xB1."
                 "\xCE\xB4\xCE\xBF\xCE\xBA\xCE\xB9\xCE\xBC\xCE\xAE",
                 "\xCE\xB4\xCE\xBF\xCE\xBA\xCE\xB9\xCE\xBC\xCE\xAE@"
                 "xn--hxajbheg2az3al.xn--jxalpdlp");
    /* Non-transitional processing: German sharp s stays (faß.de is not fass.de). */
    expect_email("a@fa\xC3\x9F.de", "a@xn--fa-hia.de");
}

Test(email, fullwidth_and_upper_case_unicode_domain_is_mapped_by_uts46) {
    /* Fullwidth "ＢÜＣＨＥＲ．ＥＸＡＭＰＬＥ": fullwidth letters, upper-case Ü, fullwidth stop. */
    expect_email("user@\xEF\xBC\xA2\xC3\x9C\xEF\xBC\xA3\xEF\xBC\xA8\xEF\xBC\xA5\xEF\xBC\xB2"
                 "\xEF\xBC\x8E\xEF\xBC\xA5\xEF\xBC\xB8\xEF\xBC\xA1\xEF\xBC\xAD\xEF\xBC\xB0"
                 "\xEF\xBC\xAC\xEF\xBC\xA5",
                 "user@xn--bcher-kva.example");
    /* Ideographic full stop separates labels as well. */
    expect_email("user@example\xE3\x80\x82"
                 "com",
                 "user@example.com");
}

Test(email, refuses_address_without_at) {
    expect_email_refused("alice.example.com", strlen("alice.example.com"), "email: no @");
    /* A fullwidth at sign is not an at sign. */
    expect_email_refused("alice\xEF\xBC\xA0"
                         "example.com",
                         strlen("alice\xEF\xBC\xA0"
                                "example.com"),
                         "email: no @");
}

Test(email, refuses_two_at_signs) {
    expect_email_refused("alice@home@example.com", strlen("alice@home@example.com"),
                         "email: more than one @");
}

Test(email, refuses_empty_local_part) {
    expect_email_refused("@example.com", strlen("@example.com"), "email: empty local part");
}

Test(email, refuses_empty_domain) {
    expect_email_refused("alice@", strlen("alice@"), "email: empty domain");
    expect_email_refused("alice@ ", strlen("alice@ "), "email: empty domain");
}

Test(email, refuses_empty_and_blank_input) {
    expect_email_refused("", 0, "email: empty");
    expect_email_refused(" \t\xC2\xA0 ", strlen(" \t\xC2\xA0 "), "email: empty");
    cr_assert_eq(cdp_normalize_email(NULL, 0, &out, &err), CDP_INVALID_IDENTIFIER);
}

Test(email, refuses_domain_without_dot) {
    expect_email_refused("alice@localhost", strlen("alice@localhost"), "email: domain has no dot");
    expect_email_refused("alice@b\xC3\xBC"
                         "cher",
                         strlen("alice@b\xC3\xBC"
                                "cher"),
                         "email: domain has no dot");
}

Test(email, refuses_domain_label_longer_than_63) {
    char address[128], label[80];
    repeat(label, sizeof label, "a", 64);
    snprintf(address, sizeof address, "alice@%s.com", label);
    expect_email_refused(address, strlen(address), "email: domain label longer than 63 characters");
    /* 63 is fine. */
    label[63] = '\0';
    snprintf(address, sizeof address, "alice@%s.com", label);
    cr_assert_eq(cdp_normalize_email(address, strlen(address), &out, &err), CDP_OK, "%s",
                 err.message);
}

Test(email, refuses_empty_label_and_trailing_dot) {
    expect_email_refused("alice@example..com", strlen("alice@example..com"),
                         "email: empty label in domain");
    expect_email_refused("alice@.example.com", strlen("alice@.example.com"),
                         "email: empty label in domain");
    expect_email_refused("alice@example.com.", strlen("alice@example.com."),
                         "email: empty label in domain");
}

Test(email, refuses_domain_that_is_not_a_valid_idn) {
    const char *bad[] = {
        "alice@exa_mple.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@[192.0.2.1]",
        "alice@ab--cd.com",
        "alice@xn--zz.com",
        "alice@exa<mple>.com",
        "alice@a,b.com",
        "alice@1\xD8\xA7.com", /* Bidi rule: an RTL label may not start with a digit */
        ("alice@a\xE2\x80\x8D"
         "b.com"), /* ContextJ: ZERO WIDTH JOINER not after a virama */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_email_refused(bad[i], strlen(bad[i]), "email: domain is not a valid IDN");
}

Test(email, refuses_domain_longer_than_253) {
    char address[400], label[64];
    repeat(label, sizeof label, "d", 63);
    /* 4 labels of 63 and "com": 4*64 + 3 = 259 bytes. */
    snprintf(address, sizeof address, "a@%s.%s.%s.%s.com", label, label, label, label);
    expect_email_refused(address, strlen(address), "email: domain longer than 253 characters");
}

Test(email, refuses_local_part_longer_than_64_bytes) {
    char address[128], local[80];
    repeat(local, sizeof local, "l", 65);
    snprintf(address, sizeof address, "%s@example.com", local);
    expect_email_refused(address, strlen(address), "email: local part longer than 64 bytes");
    /* 32 two-byte letters are 64 bytes: fine; 33 are not. */
    repeat(local, sizeof local, "\xC3\xA9", 32);
    snprintf(address, sizeof address, "%s@example.com", local);
    cr_assert_eq(cdp_normalize_email(address, strlen(address), &out, &err), CDP_OK, "%s",
                 err.message);
    repeat(local, sizeof local, "\xC3\xA9", 33);
    snprintf(address, sizeof address, "%s@example.com", local);
    expect_email_refused(address, strlen(address), "email: local part longer than 64 bytes");
}

Test(email, refuses_address_longer_than_254) {
    char address[600], local[80], label[64];
    repeat(local, sizeof local, "l", 64);
    repeat(label, sizeof label, "d", 63);
    /* 64 + 1 + (63*3 + 59 + 3) = 316 bytes; every part is within its own limit. */
    snprintf(address, sizeof address, "%s@%s.%s.%s.%.59s", local, label, label, label, label);
    expect_email_refused(address, strlen(address), "email: longer than 254 characters");
    /* Exactly 254 is accepted: 64 + 1 + 189 (63.63.61). */
    snprintf(address, sizeof address, "%s@%s.%s.%.61s", local, label, label, label);
    cr_assert_eq(strlen(address), 254);
    cr_assert_eq(cdp_normalize_email(address, strlen(address), &out, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(out.len, 254);
    /* Input far beyond any limit is refused before any Unicode work. */
    repeat(address, sizeof address, "x", 590);
    address[3] = '@';
    expect_email_refused(address, strlen(address), "email: longer than 254 characters");
}

Test(email, refuses_space_inside) {
    expect_email_refused("alice smith@example.com", strlen("alice smith@example.com"),
                         "email: contains a space");
    expect_email_refused("alice@exa mple.com", strlen("alice@exa mple.com"),
                         "email: contains a space");
    /* NO-BREAK SPACE and IDEOGRAPHIC SPACE inside. */
    expect_email_refused("alice\xC2\xA0smith@example.com", strlen("alice\xC2\xA0smith@example.com"),
                         "email: contains a space");
    expect_email_refused("alice@example\xE3\x80\x80.com", strlen("alice@example\xE3\x80\x80.com"),
                         "email: contains a space");
}

Test(email, refuses_invalid_utf8) {
    expect_email_refused("al\xC3"
                         "ice@example.com",
                         strlen("al\xC3"
                                "ice@example.com"),
                         "email: invalid UTF-8");
    expect_email_refused("alice@ex\xC0\xAF"
                         "ample.com",
                         strlen("alice@ex\xC0\xAF"
                                "ample.com"),
                         "email: invalid UTF-8");
    expect_email_refused("alice@example.com\xE2\x82", strlen("alice@example.com\xE2\x82"),
                         "email: invalid UTF-8");
}

Test(email, refuses_control_characters) {
    expect_email_refused("ali\x01"
                         "ce@example.com",
                         strlen("ali\x01"
                                "ce@example.com"),
                         "email: contains a control character");
    expect_email_refused("alice\t@example.com", strlen("alice\t@example.com"),
                         "email: contains a control character");
    expect_email_refused("alice@exam\x7Fple.com", strlen("alice@exam\x7Fple.com"),
                         "email: contains a control character");
    /* C1 control U+0085 inside, and an embedded NUL (len is authoritative, not NUL). */
    expect_email_refused("alice\xC2\x85@example.com", strlen("alice\xC2\x85@example.com"),
                         "email: contains a control character");
    expect_email_refused("alice\0@example.com", 18, "email: contains a control character");
}

Test(email, refusal_messages_do_not_echo_the_address) {
    const char *inputs[] = {"secretperson@localhost", "secretperson@exa_mple.com",
                            "secretperson example.com", "secretperson@@example.com"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        cr_assert_eq(cdp_normalize_email(inputs[i], strlen(inputs[i]), &out, &err),
                     CDP_INVALID_IDENTIFIER);
        cr_assert_null(strstr(err.message, "secretperson"), "%s", err.message);
    }
}

Test(email, error_detail_is_optional) {
    cr_assert_eq(cdp_normalize_email("no-at-sign", 10, &out, NULL), CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_normalize_email("a@b.co", 6, &out, NULL), CDP_OK);
    assert_out_is("a@b.co");
}

Test(email, replaces_previous_contents_of_output) {
    cr_assert_eq(cdp_buf_append(&out, "previous-value", 14), CDP_OK);
    expect_email("New@Example.com", "new@example.com");
    expect_email_refused("broken", 6, "email: no @");
}

/* Edge cases of plain ASCII input: what is kept, what UTS #46 with STD3 rules refuses. */
Test(email, ascii_edge_cases_have_the_expected_outcome) {
    static const struct {
        const char *input;
        const char *result; /* NULL: refused with message */
        const char *message;
    } cases[] = {
        {"  ALICE.Smith+Tag@Example.COM  ", "alice.smith+tag@example.com", NULL},
        {"x_y-z!#$%&'*/=?^`{|}~@Sub.Example-Domain.org",
         "x_y-z!#$%&'*/=?^`{|}~@sub.example-domain.org", NULL},
        {"\"Quoted\"@example.com", "\"quoted\"@example.com", NULL},
        {"o'neil@example.ie", "o'neil@example.ie", NULL},
        {"user@123.example", "user@123.example", NULL},
        {"user@example.123", "user@example.123", NULL},
        {"user@192.0.2.1", "user@192.0.2.1", NULL},
        {"user@a-b.example", "user@a-b.example", NULL},
        {"user@XN--BCHER-KVA.EXAMPLE", "user@xn--bcher-kva.example", NULL},
        {"user@xn--zz.example", NULL, "email: domain is not a valid IDN"},
        {"user@ab--cd.example", NULL, "email: domain is not a valid IDN"},
        {"user@-ab.example", NULL, "email: domain is not a valid IDN"},
        {"user@ab-.example", NULL, "email: domain is not a valid IDN"},
        {"user@-.com", NULL, "email: domain is not a valid IDN"},
        {"user@exa_mple.com", NULL, "email: domain is not a valid IDN"},
        {"user@exa+mple.com", NULL, "email: domain is not a valid IDN"},
        {"user@[192.0.2.1]", NULL, "email: domain is not a valid IDN"},
        {"user@localhost", NULL, "email: domain has no dot"},
        {"user@example..com", NULL, "email: empty label in domain"},
        {"user", NULL, "email: no @"},
        {"a@b@c.com", NULL, "email: more than one @"},
        /* An invalid character is named before a length problem. */
        {"user@exa_mple.cooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooom", NULL,
         "email: domain is not a valid IDN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].result != NULL)
            expect_email(cases[i].input, cases[i].result);
        else
            expect_email_refused(cases[i].input, strlen(cases[i].input), cases[i].message);
    }
}

/* ---- Phone ---- */

Test(phone, three_norwegian_forms_give_the_same_e164) {
    expect_phone("+47 22 33 44 55", NULL, "+4722334455");
    expect_phone("+47 22 33 44 55", "NO", "+4722334455");
    expect_phone("0047 22334455", "NO", "+4722334455");
    expect_phone("22 33 44 55", "NO", "+4722334455");
    expect_phone("22 33 44 55", "no", "+4722334455"); /* the country's case does not matter */
    expect_phone("  +47-22-33-44-55\xC2\xA0", NULL, "+4722334455");
}

/* What "0047..." means depends on the country's international call prefix. */
Test(phone, international_prefix_is_read_with_the_country) {
    /* Germany also dials 00 abroad: the same number. */
    expect_phone("0047 22334455", "DE", "+4722334455");
    /* No country: libphonenumber does not guess that 00 is an international prefix. */
    expect_phone_refused("0047 22334455", strlen("0047 22334455"), NULL,
                         "phone: no country to read a national number");
    /* The US dials 011 abroad, so "0047 22334455" is read as a (bad) US national number. */
    expect_phone_refused("0047 22334455", strlen("0047 22334455"), "US",
                         "phone: not a valid number for US");
    expect_phone("011 47 22 33 44 55", "US", "+4722334455");
}

Test(phone, us_forms_give_the_same_e164) {
    expect_phone("+1 (415) 555-2671", NULL, "+14155552671");
    expect_phone("(415) 555-2671", "US", "+14155552671");
    expect_phone("415.555.2671", "us", "+14155552671");
    expect_phone("1 415 555 2671", "US", "+14155552671");
}

Test(phone, reads_fullwidth_and_arabic_indic_digits) {
    expect_phone("\xEF\xBC\x8B\xEF\xBC\x94\xEF\xBC\x97 \xEF\xBC\x92\xEF\xBC\x92\xEF\xBC\x93"
                 "\xEF\xBC\x93 \xEF\xBC\x94\xEF\xBC\x94\xEF\xBC\x95\xEF\xBC\x95",
                 NULL, "+4722334455");
    expect_phone("+\xD9\xA4\xD9\xA7 \xD9\xA2\xD9\xA2\xD9\xA3\xD9\xA3\xD9\xA4\xD9\xA4\xD9\xA5"
                 "\xD9\xA5",
                 NULL, "+4722334455");
}

Test(phone, refuses_letters_and_garbage) {
    const char *garbage[] = {
        "abc",
        "1-800-FLOWERS",           /* libphonenumber would dial the letters */
        "call +47 22 33 44 55",    /* libphonenumber would skip the leading words */
        "+1 415 555 2671 ext. 12", /* extensions are not part of the E.164 number */
        "+1 415 555 2671 x12",
        "+47 22~33~44~55", /* libphonenumber reads "~55" as an extension */
        ("+47 2233\xE0\xA5\xAA"
         "4455"), /* a Devanagari digit libphonenumber would drop */
        "+47\t22334455",
        "tel:+4722334455",
        "+47 22334455#",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        expect_phone_refused(garbage[i], strlen(garbage[i]), "US", "phone: not a number");
    expect_phone_refused("+", 1, NULL, "phone: not a number");
    expect_phone_refused("()", 2, "NO", "phone: not a number");
}

Test(phone, refuses_invalid_numbers_with_reasons) {
    expect_phone_refused("+47 2233", strlen("+47 2233"), NULL, "phone: not a valid number for NO");
    expect_phone_refused("12345", 5, "NO", "phone: not a valid number for NO");
    expect_phone_refused("+999 1234567", strlen("+999 1234567"), NULL,
                         "phone: unknown country calling code");
    expect_phone_refused("+47 1", strlen("+47 1"), NULL, "phone: too short");
    expect_phone_refused("+47 22334455 22334455 22334455", strlen("+47 22334455 22334455 22334455"),
                         NULL, "phone: too long");
    expect_phone_refused("+882 34 1234 5678", strlen("+882 34 1234 5678"), NULL,
                         "phone: not a valid number for country code +882");
    expect_phone_refused("", 0, "NO", "phone: empty");
    expect_phone_refused("  ", 2, "NO", "phone: empty");
    expect_phone_refused("+47 22\xC3", strlen("+47 22\xC3"), NULL, "phone: invalid UTF-8");
}

Test(phone, national_number_without_a_usable_country_is_refused) {
    expect_phone_refused("22 33 44 55", strlen("22 33 44 55"), NULL,
                         "phone: no country to read a national number");
    expect_phone_refused("22 33 44 55", strlen("22 33 44 55"), "",
                         "phone: no country to read a national number");
    /* Unknown or malformed countries count as no country. */
    expect_phone_refused("22 33 44 55", strlen("22 33 44 55"), "XX",
                         "phone: no country to read a national number");
    expect_phone_refused("22 33 44 55", strlen("22 33 44 55"), "Norway",
                         "phone: no country to read a national number");
    /* International numbers still parse with such a country. */
    expect_phone("+47 22 33 44 55", "Norway", "+4722334455");
}

Test(phone, input_longer_than_64_bytes_is_refused_before_parsing) {
    char number[128];
    /* 65 bytes of otherwise acceptable characters. */
    snprintf(number, sizeof number, "+47 22 33 44 55%50s", "1");
    cr_assert_eq(strlen(number), 65);
    memset(number + 15, '-', 49);
    expect_phone_refused(number, strlen(number), NULL, "phone: longer than 64 bytes");
    number[64] = '\0'; /* 64 bytes are looked at */
    expect_phone(number, NULL, "+4722334455");
}

Test(phone, result_is_a_plus_and_only_digits) {
    const char *inputs[][2] = {
        {"+47 22 33 44 55", NULL},      {"22334455", "NO"},
        {"+1 (415) 555-2671", NULL},    {"020 7946 0958", "GB"},
        {"+44 (0) 20 7946 0958", NULL}, {"030 123456", "DE"},
        {"+81 3-1234-5678", NULL},      {"+800 1234 5678", NULL},
        {"06 12 34 56 78", "FR"},       {"+91 98765 43210", NULL},
        {"(02) 9876 5432", "AU"},       {"+55 11 91234-5678", NULL},
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        cdp_status status =
            cdp_normalize_phone(inputs[i][0], strlen(inputs[i][0]), inputs[i][1], &out, &err);
        cr_assert_eq(status, CDP_OK, "\"%s\": %s", inputs[i][0], err.message);
        cr_assert_geq(out.len, 2);
        cr_assert_leq(out.len, 16);
        cr_assert_eq(out.data[0], '+');
        for (size_t k = 1; k < out.len; k++)
            cr_assert(out.data[k] >= '0' && out.data[k] <= '9', "\"%s\" -> \"%s\"", inputs[i][0],
                      (char *)out.data);
        cr_assert_eq(out.data[out.len], '\0');
    }
}

Test(phone, refusal_messages_do_not_echo_the_number) {
    const char *inputs[] = {"98761234", "+47 98761234 98761234 98761234", "+999 98761234"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        cr_assert_eq(cdp_normalize_phone(inputs[i], strlen(inputs[i]), NULL, &out, &err),
                     CDP_INVALID_IDENTIFIER);
        cr_assert_null(strstr(err.message, "9876"), "%s", err.message);
    }
}

/* ---- Plain ids ---- */

Test(plain_id, trims_ascii_white_space) {
    expect_plain("user_id", "  user-123\t\r\n", strlen("  user-123\t\r\n"), "user-123");
    expect_plain("anonymous_id", "a1b2-c3", 7, "a1b2-c3");
    /* Inner spaces belong to the value. */
    expect_plain("external_id", " store 12 ", 10, "store 12");
}

Test(plain_id, composes_to_nfc) {
    expect_plain("user_id", "Jose\xCC\x81", strlen("Jose\xCC\x81"), "Jos\xC3\xA9");
    expect_plain("user_id", "Jos\xC3\xA9", strlen("Jos\xC3\xA9"), "Jos\xC3\xA9");
    /* Hangul jamo compose into one syllable. */
    expect_plain("device_id", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB",
                 strlen("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "\xED\x95\x9C");
    /* Case is kept: ids are opaque. */
    expect_plain("user_id", "User-ABC", 8, "User-ABC");
}

Test(plain_id, leaves_blocked_looking_values_to_policy) {
    expect_plain("user_id", "null", 4, "null");
    expect_plain("anonymous_id", "undefined", 9, "undefined");
    expect_plain("user_id", "0", 1, "0");
}

Test(plain_id, refuses_empty_values) {
    expect_plain_refused("user_id", "", 0, "user_id: empty");
    expect_plain_refused("user_id", " \t\n ", 4, "user_id: empty");
    cr_assert_eq(cdp_normalize_plain_id("user_id", NULL, 0, &out, &err), CDP_INVALID_IDENTIFIER);
}

Test(plain_id, refuses_control_characters) {
    expect_plain_refused("user_id",
                         "ab\x01"
                         "cd",
                         5, "user_id: contains a control character");
    expect_plain_refused("user_id", "ab\tcd", 5, "user_id: contains a control character");
    expect_plain_refused("user_id", "ab\x7F", 3, "user_id: contains a control character");
    expect_plain_refused("loyalty_id",
                         "ab\xC2\x9B"
                         "cd",
                         6, "loyalty_id: contains a control character");
    expect_plain_refused("user_id", "ab\0cd", 5, "user_id: contains a control character");
}

Test(plain_id, refuses_invalid_utf8) {
    expect_plain_refused("user_id", "ab\xFF", 3, "user_id: invalid UTF-8");
    expect_plain_refused("user_id", "\xED\xA0\x80", 3, "user_id: invalid UTF-8");
}

Test(plain_id, refuses_values_longer_than_the_maximum) {
    char value[4096];
    repeat(value, sizeof value, "x", CDP_IDENTIFIER_MAX);
    expect_plain("user_id", value, CDP_IDENTIFIER_MAX, value);
    repeat(value, sizeof value, "x", CDP_IDENTIFIER_MAX + 1);
    expect_plain_refused("user_id", value, CDP_IDENTIFIER_MAX + 1,
                         "user_id: longer than 512 bytes");
    repeat(value, sizeof value, "\xE4\xB8\x96", 171); /* 513 bytes of CJK */
    expect_plain_refused("user_id", value, strlen(value), "user_id: longer than 512 bytes");
    repeat(value, sizeof value, "y", 3000);
    expect_plain_refused("user_id", value, strlen(value), "user_id: longer than 512 bytes");
}

Test(plain_id, judges_length_after_nfc) {
    char value[1024], expected[1024];
    /* 250 x ("e" + COMBINING ACUTE) is 750 bytes, 500 once composed. */
    repeat(value, sizeof value, "e\xCC\x81", 250);
    repeat(expected, sizeof expected, "\xC3\xA9", 250);
    expect_plain("user_id", value, strlen(value), expected);
    repeat(value, sizeof value, "e\xCC\x81", 257); /* 514 bytes once composed */
    expect_plain_refused("user_id", value, strlen(value), "user_id: longer than 512 bytes");
}

/* ---- Types and dispatch ---- */

Test(identifier, refuses_bad_type_names) {
    const char *bad[] = {"",        "Email", "1abc",      "user-id",
                         "user id", "_id",   "e\xC3\xA9", "abcdefghijklmnopqrstuvwxyz_0123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(cdp_normalize_identifier(bad[i], "v", 1, NULL, &out, &err),
                     CDP_INVALID_IDENTIFIER, "type \"%s\" accepted", bad[i]);
        cr_assert(starts_with(err.message, "type: "), "%s", err.message);
        cr_assert_eq(cdp_normalize_plain_id(bad[i], "v", 1, &out, &err), CDP_INVALID_IDENTIFIER);
        cr_assert(starts_with(err.message, "type: "), "%s", err.message);
    }
    cr_assert_eq(cdp_normalize_identifier(NULL, "v", 1, NULL, &out, &err), CDP_INVALID_IDENTIFIER);
    cr_assert(starts_with(err.message, "type: "));
}

Test(identifier, accepts_type_names_up_to_32_characters) {
    const char *good[] = {"a", "loyalty_id", "x9", "abcdefghijklmnopqrstuvwxyz_01234"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(cdp_normalize_identifier(good[i], " v ", 3, NULL, &out, &err), CDP_OK,
                     "%s: %s", good[i], err.message);
        assert_out_is("v");
    }
}

Test(identifier, dispatches_on_type) {
    cr_assert_eq(cdp_normalize_identifier("email", " A@B.co ", 8, NULL, &out, &err), CDP_OK);
    assert_out_is("a@b.co");
    cr_assert_eq(cdp_normalize_identifier("phone", "22 33 44 55", 11, "NO", &out, &err), CDP_OK);
    assert_out_is("+4722334455");
    cr_assert_eq(cdp_normalize_identifier("user_id", " A@B.co ", 8, "NO", &out, &err), CDP_OK);
    assert_out_is("A@B.co");
    cr_assert_eq(cdp_normalize_identifier("email", "nope", 4, NULL, &out, &err),
                 CDP_INVALID_IDENTIFIER);
    cr_assert(starts_with(err.message, "email: "));
}

/* ---- UTF-8 ---- */

Test(utf8, refuses_overlong_encodings) {
    cr_assert_eq(cdp_utf8_valid("\xC0\xAF", 2), 0);
    cr_assert_eq(cdp_utf8_valid("\xC1\xBF", 2), 0);
    cr_assert_eq(cdp_utf8_valid("\xE0\x80\xAF", 3), 0);
    cr_assert_eq(cdp_utf8_valid("\xE0\x9F\xBF", 3), 0);
    cr_assert_eq(cdp_utf8_valid("\xF0\x80\x80\xAF", 4), 0);
    cr_assert_eq(cdp_utf8_valid("\xF0\x8F\xBF\xBF", 4), 0);
}

Test(utf8, refuses_surrogates) {
    cr_assert_eq(cdp_utf8_valid("\xED\xA0\x80", 3), 0);
    cr_assert_eq(cdp_utf8_valid("\xED\xBF\xBF", 3), 0);
    cr_assert_eq(cdp_utf8_valid("\xED\xA0\xBD\xED\xB8\x80", 6), 0); /* CESU-8 pair */
}

Test(utf8, refuses_code_points_above_10ffff) {
    cr_assert_eq(cdp_utf8_valid("\xF4\x90\x80\x80", 4), 0);
    cr_assert_eq(cdp_utf8_valid("\xF5\x80\x80\x80", 4), 0);
    cr_assert_eq(cdp_utf8_valid("\xF8\x88\x80\x80\x80", 5), 0);
    cr_assert_eq(cdp_utf8_valid("\xFF", 1), 0);
}

Test(utf8, refuses_truncated_and_stray_sequences) {
    cr_assert_eq(cdp_utf8_valid("\xC3", 1), 0);
    cr_assert_eq(cdp_utf8_valid("\xE2\x82", 2), 0);
    cr_assert_eq(cdp_utf8_valid("\xF0\x9F\x98", 3), 0);
    cr_assert_eq(cdp_utf8_valid("abc\xE2\x82", 5), 0);
    cr_assert_eq(cdp_utf8_valid("\x80", 1), 0);
    cr_assert_eq(cdp_utf8_valid("a\xBF"
                                "b",
                                3),
                 0);
    cr_assert_eq(cdp_utf8_valid("\xE2\x28\xA1", 3), 0);
    /* The length is authoritative: a valid string cut inside a sequence is invalid. */
    cr_assert_eq(cdp_utf8_valid("\xE2\x82\xAC", 2), 0);
}

Test(utf8, accepts_valid_multilingual_text) {
    const char *text = "h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80 "
                       "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC "
                       "\xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA \xE0\xA4\xB9\xE0\xA4\xBF";
    cr_assert_eq(cdp_utf8_valid(text, strlen(text)), 1);
    cr_assert_eq(cdp_utf8_valid("", 0), 1);
    cr_assert_eq(cdp_utf8_valid("a\0b", 3), 1); /* NUL is valid UTF-8; callers refuse controls */
    /* Boundaries: U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF. */
    const char *edges = "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
                        "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
    cr_assert_eq(cdp_utf8_valid(edges, strlen(edges)), 1);
}

/* ---- Allocation failures ---- */

typedef cdp_status (*normalize_call)(cdp_buf *out, cdp_err *err);

static cdp_status call_email_ascii(cdp_buf *o, cdp_err *e) {
    return cdp_normalize_email(" Alice@Example.com ", 19, o, e);
}
static cdp_status call_email_unicode(cdp_buf *o, cdp_err *e) {
    return cdp_normalize_email("\xC3\x85lice@b\xC3\xBC"
                               "cher.example",
                               strlen("\xC3\x85lice@b\xC3\xBC"
                                      "cher.example"),
                               o, e);
}
static cdp_status call_phone(cdp_buf *o, cdp_err *e) {
    return cdp_normalize_phone("22 33 44 55", 11, "NO", o, e);
}
static cdp_status call_plain(cdp_buf *o, cdp_err *e) {
    return cdp_normalize_plain_id("user_id", "Jose\xCC\x81", 6, o, e);
}
static cdp_status call_identifier(cdp_buf *o, cdp_err *e) {
    return cdp_normalize_identifier("device_id", " d-1 ", 5, NULL, o, e);
}

Test(alloc_failure, every_failure_point_gives_nomem_or_success) {
    static const normalize_call calls[] = {call_email_ascii, call_email_unicode, call_phone,
                                           call_plain, call_identifier};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        int succeeded = 0;
        for (long n = 0; n < 16 && !succeeded; n++) {
            cdp_buf buf = {0};
            cdp_err detail = {0};
            cdp_alloc_fail_after(n);
            cdp_status status = calls[c](&buf, &detail);
            cdp_alloc_fail_reset();
            cr_assert(status == CDP_OK || status == CDP_NOMEM, "call %zu, n %ld: %d %s", c, n,
                      status, detail.message);
            if (status == CDP_NOMEM) {
                cr_assert_eq(buf.len, 0);
                cr_assert_neq(detail.message[0], '\0');
            } else {
                cr_assert_eq(buf.data[buf.len], '\0');
                succeeded = 1;
            }
            cdp_buf_free(&buf);
        }
        cr_assert(succeeded, "call %zu never succeeded", c);
    }
}

Test(alloc_failure, reused_output_buffer_needs_no_allocation) {
    cr_assert_eq(cdp_buf_reserve(&out, 64), CDP_OK);
    cdp_alloc_fail_after(0);
    cr_assert_eq(call_email_unicode(&out, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(call_phone(&out, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(call_plain(&out, &err), CDP_OK, "%s", err.message);
}

/* ---- Concurrency ---- */

typedef struct worker {
    int failures;
} worker;

static void *normalize_many(void *arg) {
    worker *self = arg;
    cdp_buf buf = {0};
    for (int i = 0; i < 200; i++) {
        if (cdp_normalize_email("\xC3\x85lice@B\xC3\x9C"
                                "CHER.example",
                                strlen("\xC3\x85lice@B\xC3\x9C"
                                       "CHER.example"),
                                &buf, NULL) != CDP_OK ||
            strcmp((char *)buf.data, "\xC3\xA5lice@xn--bcher-kva.example") != 0)
            self->failures++;
        if (cdp_normalize_phone("0047 22334455", 13, "NO", &buf, NULL) != CDP_OK ||
            strcmp((char *)buf.data, "+4722334455") != 0)
            self->failures++;
        if (cdp_normalize_plain_id("user_id", "Jose\xCC\x81", 6, &buf, NULL) != CDP_OK ||
            strcmp((char *)buf.data, "Jos\xC3\xA9") != 0)
            self->failures++;
    }
    cdp_buf_free(&buf);
    return NULL;
}

Test(threads, concurrent_calls_give_the_same_results) {
    enum { THREADS = 8 };
    pthread_t threads[THREADS];
    worker workers[THREADS] = {{0}};
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, normalize_many, &workers[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(workers[i].failures, 0, "thread %d: %d failures", i, workers[i].failures);
    }
}

/* Found by fuzz_normalize (tests/fuzz/regressions/normalize/): libphonenumber calls this a valid
 * German number, yet its E.164 form has more than 15 digits. It was CDP_INTERNAL (HTTP 500). */
Test(phone, e164_form_over_15_digits_is_invalid_not_internal) {
    const char *input = "784[[00[5[[[0500[[[05002";
    expect_phone_refused(input, strlen(input), "DE", "phone: more digits than E.164 allows");
}
