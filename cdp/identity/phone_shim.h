/* C interface to libphonenumber (a C++ library), kept to one function so the rest of cdp stays C.
 * normalize.c checks the input's characters and length first; this file only parses, validates
 * and formats. Thread-safe: libphonenumber's PhoneNumberUtil singleton is. */
#ifndef CDP_IDENTITY_PHONE_SHIM_H
#define CDP_IDENTITY_PHONE_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results of cdp_phone_to_e164. */
#define CDP_PHONE_OK 0
#define CDP_PHONE_INVALID 1 /* not a usable number; reason says why */
#define CDP_PHONE_NOMEM 2   /* an allocation inside libphonenumber failed */
#define CDP_PHONE_FAILED 3  /* anything else: an exception, an output buffer too small */

/* Longest E.164 string: '+', at most 15 digits, NUL. */
#define CDP_PHONE_E164_CAP 17

/* Parses number (NUL-terminated UTF-8) with region as the country for national formats
 * (ISO 3166 alpha-2, upper case; NULL, "ZZ" or a region libphonenumber does not know: only
 * numbers with a + or an international prefix parse), checks it is a valid number and writes
 * its E.164 form ("+4722334455", NUL-terminated) into out. Numbers with an extension are
 * refused: an extension is not part of the E.164 number, and dropping it would merge everyone
 * behind one switchboard. On CDP_PHONE_INVALID, reason holds a short English reason without
 * the number ("not a valid number for NO"); reason is always NUL-terminated when reason_cap > 0.
 * Never throws. */
int cdp_phone_to_e164(const char *number, const char *region, char *out, size_t cap, char *reason,
                      size_t reason_cap);

#ifdef __cplusplus
}
#endif
#endif
