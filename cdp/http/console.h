/* The web console (cdpd's /console/): its static files, compiled into the binary from console/
 * by cmake/embed_console.cmake, and the JSON routes its views use. Private to cdp/http: the
 * route table (routes.c) names these handlers. */
#ifndef CDP_HTTP_CONSOLE_H
#define CDP_HTTP_CONSOLE_H

#include "http/http.h"

/* One embedded file of console/ (generated console_assets.c). */
typedef struct http_console_asset {
    const char *name; /* "index.html", "app.js", ... */
    const unsigned char *data;
    size_t len;
} http_console_asset;

extern const http_console_asset http_console_assets[];
extern const size_t http_console_asset_count;

/* The Content-Security-Policy every console file is served with: scripts, styles, images and
 * connections from the server itself only, no inline script, no framing. */
#define HTTP_CONSOLE_CSP                                                                          \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "            \
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

/* GET /console: 308 to /console/. GET /console/ and /console/{file}: the embedded files. */
enum MHD_Result http_console_redirect(http_request *request);
enum MHD_Result http_console_index(http_request *request);
enum MHD_Result http_console_file(http_request *request);

/* GET /v1/whoami (any role): {"key_id", "role", "region", "source", "purposes"}. */
enum MHD_Result http_console_whoami(http_request *request);
/* GET /v1/dsr?region=&type=&status= (dpo): cdp_dsr_queue. */
enum MHD_Result http_console_dsr_queue(http_request *request);
/* GET /v1/dsr/timeliness (auditor, dpo, admin): cdp_dsr_timeliness. */
enum MHD_Result http_console_dsr_timeliness(http_request *request);
/* POST /v1/subjects/lookup {"identity": {"type", "value"}} (dpo): cdp_subject_view. The
 * identifier travels in the body, never in the URL. */
enum MHD_Result http_console_subject_lookup(http_request *request);
/* GET /v1/suppressions (dpo): cdp_suppression_list. */
enum MHD_Result http_console_suppressions(http_request *request);
/* POST /v1/suppressions/lift {"identity": {"type", "value"}, "reason"} (dpo). */
enum MHD_Result http_console_suppression_lift(http_request *request);

#endif
