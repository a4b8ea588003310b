/* Error detail carried between the library's internal modules: a status and a message that
 * names the field and the reason. The public handle copies it out as cdp_errmsg(). */
#ifndef CDP_UTIL_ERR_H
#define CDP_UTIL_ERR_H

#include <stddef.h>

#include "cdp/error.h"

#define CDP_ERR_MESSAGE_MAX 1024

typedef struct cdp_err {
    cdp_status status;
    char message[CDP_ERR_MESSAGE_MAX];
} cdp_err;

/* Records status and a printf-style message in *err (err may be NULL) and returns status,
 * so callers write `return cdp_err_set(err, CDP_CORRUPT, "profile: %s", why);`.
 * Setting CDP_OK clears the message. */
cdp_status cdp_err_set(cdp_err *err, cdp_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "prefix: " (keeps the status); returns the status. */
cdp_status cdp_err_prefix(cdp_err *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

void cdp_err_clear(cdp_err *err);

#endif
