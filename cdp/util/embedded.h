/* Data compiled into the binary by cmake/embed.cmake. */
#ifndef CDP_UTIL_EMBEDDED_H
#define CDP_UTIL_EMBEDDED_H

#include <stddef.h>

typedef struct cdp_embedded_schema {
    const char *name; /* file name without .avsc: "profile", "event", ... */
    const char *json; /* the schema text, NUL-terminated */
} cdp_embedded_schema;

extern const cdp_embedded_schema cdp_embedded_schemas[];
extern const size_t cdp_embedded_schema_count;

/* ISO 3166-1 alpha-2 codes from Debian's iso-codes, sorted (strcmp order). */
extern const char cdp_iso3166_alpha2[][3];
extern const size_t cdp_iso3166_alpha2_count;

#endif
