/* The person's current consent per purpose, for the decision. */
#include "access/access_internal.h"

cdp_status cdp_access_read_consent(const cdp_identity_env *env, cdp_access_person *person,
                                   cdp_err *err) {
    (void)env;
    (void)person;
    (void)err;
    return CDP_OK; /* WIRED AT MERGE with cdp/consent (helper branch wt-consent) */
}
