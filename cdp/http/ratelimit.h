/* Per-key rate limits: a token bucket per API key id, with rates per role from
 * DIR/policies/roles.json ("rate_limits"), else the defaults (ingest 2000/s burst 4000, every
 * other role 200/s burst 400). Thread-safe. */
#ifndef CDP_HTTP_RATELIMIT_H
#define CDP_HTTP_RATELIMIT_H

#include <stddef.h>

#include "cdp/cdp.h"

#define HTTP_ROLE_SLOTS (CDP_ROLE_ADMIN + 1) /* indexed by cdp_role */

typedef struct http_rate {
    double per_second;
    double burst;
} http_rate;

/* The defaults, then the "rate_limits" of the roles file at path when it exists (path NULL:
 * defaults only). On a malformed file returns -1 with the reason in error ("roles.json:
 * rate_limits.ingest.burst: ..."). */
int http_rates_load(const char *path, http_rate rates[HTTP_ROLE_SLOTS], char *error,
                    size_t error_cap);

typedef struct http_ratelimiter http_ratelimiter;

/* NULL when out of memory. rates are copied. */
http_ratelimiter *http_ratelimiter_new(const http_rate rates[HTTP_ROLE_SLOTS]);
void http_ratelimiter_free(http_ratelimiter *limiter); /* accepts NULL */

/* Takes one token from the key's bucket. 1: allowed. 0: limited, *retry_after_seconds says
 * when the next token comes (at least 1). -1: out of memory (the caller lets it pass). */
int http_ratelimiter_take(http_ratelimiter *limiter, const char *key_id, cdp_role role,
                          unsigned *retry_after_seconds);

#endif
