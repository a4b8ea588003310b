/* Identifier normalization: the one form an identifier is indexed and compared in.
 * E-mail: trim, Unicode NFC, lower-case, IDN domain to ASCII (UTS #46), syntax checked.
 * Phone: E.164 through libphonenumber, national formats read with the person's country.
 * Other ids (user_id, anonymous_id, device_id, external ids): trim, NFC, no control characters.
 * Unicode work is ICU's C API. Thread-safe. */
#ifndef CDP_IDENTITY_NORMALIZE_H
#define CDP_IDENTITY_NORMALIZE_H

#include <stddef.h>

#include "util/bytes.h"
#include "util/err.h"

/* Longest normalized identifier we accept (bytes). */
#define CDP_IDENTIFIER_MAX 512

/* Writes the normalized e-mail into out (replacing its contents, NUL-terminated, len excludes
 * the NUL). CDP_INVALID_IDENTIFIER with the reason: "email: no @", "email: empty local part",
 * "email: domain is not a valid IDN", "email: longer than 254 characters", "email: invalid
 * UTF-8", ... Example: "  Ålice@BÜCHER.example " -> "ålice@xn--bcher-kva.example". */
cdp_status cdp_normalize_email(const char *value, size_t len, cdp_buf *out, cdp_err *err);

/* Writes E.164 ("+4722334455"). country: ISO alpha-2 used for national numbers and for the
 * international prefix (may be NULL: then only numbers with a + parse; an unknown or malformed
 * country counts as NULL). "+47 22 33 44 55" and, with country "NO", "0047 22334455" and
 * "22 33 44 55" all give "+4722334455" ("0047..." needs a country that dials 00 abroad).
 * CDP_INVALID_IDENTIFIER with the reason ("phone: not a number", "phone: no country to read a
 * national number", "phone: not a valid number for NO", ...). */
cdp_status cdp_normalize_phone(const char *value, size_t len, const char *country, cdp_buf *out,
                               cdp_err *err);

/* user_id, anonymous_id, device_id and external id types: trim, NFC, refuse empty values,
 * control characters, invalid UTF-8 and values over CDP_IDENTIFIER_MAX bytes. */
cdp_status cdp_normalize_plain_id(const char *type, const char *value, size_t len, cdp_buf *out,
                                  cdp_err *err);

/* Dispatches on type: "email", "phone", anything else as a plain id. type must match
 * [a-z][a-z0-9_]{0,31} (CDP_INVALID_IDENTIFIER otherwise). */
cdp_status cdp_normalize_identifier(const char *type, const char *value, size_t len,
                                    const char *country, cdp_buf *out, cdp_err *err);

/* 1 if s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int cdp_utf8_valid(const char *s, size_t len);

#endif
