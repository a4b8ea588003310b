/* Test-only crash points: when the environment variable CDP_TEST_CRASH_AT names this point, the
 * process ends at once with _exit(137), as after kill -9: no destructor, no flush, no close.
 * Crash-recovery tests run a command in a child process with the variable set, then reopen the
 * data directory and check that the operation was completed, never half-applied. Outside tests
 * the variable is unset and a crash point costs one getenv. */
#ifndef CDP_UTIL_CRASHPOINT_H
#define CDP_UTIL_CRASHPOINT_H

#define CDP_CRASH_ENV "CDP_TEST_CRASH_AT"

void cdp_crash_point(const char *name);

#endif
