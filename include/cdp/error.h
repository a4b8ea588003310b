/* cdp status codes: one enum for every public function, with stable names.
 * The first block matches the error codes of the HTTP contract (shared/API.md) one to one;
 * the second block is for conditions the HTTP layer reports as `internal` or maps itself. */
#ifndef CDP_ERROR_H
#define CDP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdp_status {
    CDP_OK = 0,
    /* Codes of shared/API.md; cdp_status_code() returns the exact API string. */
    CDP_BAD_REQUEST = 1,        /* bad_request */
    CDP_INVALID_JSON = 2,       /* invalid_json */
    CDP_INVALID_IDENTIFIER = 3, /* invalid_identifier */
    CDP_UNAUTHORIZED = 4,       /* unauthorized */
    CDP_FORBIDDEN = 5,          /* forbidden */
    CDP_PURPOSE_REQUIRED = 6,   /* purpose_required */
    CDP_CONSENT_DENIED = 7,     /* consent_denied */
    CDP_RESTRICTED = 8,         /* restricted */
    CDP_NOT_FOUND = 9,          /* not_found */
    CDP_CONFLICT = 10,          /* conflict */
    CDP_PAYLOAD_TOO_LARGE = 11, /* payload_too_large */
    CDP_RATE_LIMITED = 12,      /* rate_limited */
    CDP_RESIDENCY_DENIED = 13,  /* residency_denied */
    CDP_SUPPRESSED = 14,        /* suppressed */
    CDP_INTERNAL = 15,          /* internal */
    /* Library conditions (HTTP reports these as `internal` unless stated). */
    CDP_NOMEM = 32,       /* an allocation failed */
    CDP_IO = 33,          /* a file or RocksDB I/O operation failed */
    CDP_CORRUPT = 34,     /* stored bytes do not decode: truncated, hostile or damaged */
    CDP_CRYPTO = 35,      /* authentication failed: wrong key, or bytes moved or changed */
    CDP_BAD_POLICY = 36,  /* the policy bundle is invalid (message: file: path: reason) */
    CDP_EXISTS = 37,      /* the thing to create exists already */
    CDP_BAD_KEY = 38,     /* the root key is missing, malformed or not the one that sealed the data */
    CDP_INSECURE = 39,    /* a secret file is readable or writable by group or others */
    CDP_MISUSE = 40,      /* the API was called wrongly (NULL handle, closed handle, bad argument) */
} cdp_status;

/* A short English description of the status ("no such profile"). Static storage; never NULL. */
const char *cdp_strerror(cdp_status status);

/* The stable machine code of the status: the API.md error code for the first block
 * ("not_found"), a snake_case name for the rest ("corrupt"). Static storage; never NULL. */
const char *cdp_status_code(cdp_status status);

#ifdef __cplusplus
}
#endif
#endif
