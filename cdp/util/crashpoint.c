/* Crash points for crash-recovery tests (see crashpoint.h). */
#include "util/crashpoint.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cdp_crash_point(const char *name) {
    const char *wanted = getenv(CDP_CRASH_ENV);
    if (wanted != NULL && name != NULL && strcmp(wanted, name) == 0)
        _exit(137); /* like SIGKILL: nothing is flushed or closed */
}
