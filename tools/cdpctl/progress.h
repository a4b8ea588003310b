/* cdpctl: progress lines on stderr for the long verbs (import, keys rotate, erase, audit export,
 * export-subject, backup, restore). Shown only when stderr is a terminal, so a redirected or
 * piped run stays quiet; CDP_PROGRESS=1 forces it on (tests), CDP_PROGRESS=0 off. One line,
 * redrawn in place with \r at most every PROGRESS_REDRAW_MS, ended with a newline by
 * cli_progress_end. Nothing here touches stdout: a verb's stdout is its result. */
#ifndef CDPCTL_PROGRESS_H
#define CDPCTL_PROGRESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_REDRAW_MS 200

typedef struct cli_progress {
    int enabled;        /* 0: every call is a no-op */
    const char *verb;   /* "import", ...: borrowed for the progress's life */
    const char *unit;   /* what done counts ("lines", "people", ...) */
    uint64_t total;     /* of done; 0: unknown */
    uint64_t bytes_total; /* 0: no byte counts shown */
    uint64_t done, bytes_done;
    int64_t start_ms, last_draw_ms;
    int drawn;          /* a line is on screen (end writes the newline) */
    int counting;       /* cli_progress_update was called: a rate means something */
    int width;          /* of the last line drawn, to blank leftovers */
    char phase[96];     /* free text after the counts ("re-wrapping", "purging") */
    pthread_mutex_t lock;
    pthread_t ticker;
    int ticking, stop;
} cli_progress;

/* 1 when progress lines go to stderr: CDP_PROGRESS=1 / 0 decide, else isatty(stderr). */
int cli_progress_wanted(void);

/* Starts a progress report (enabled by cli_progress_wanted). total / bytes_total: 0 unknown. */
void cli_progress_begin(cli_progress *progress, const char *verb, const char *unit,
                        uint64_t total, uint64_t bytes_total);
/* Sets the counts and redraws when PROGRESS_REDRAW_MS passed since the last line. */
void cli_progress_update(cli_progress *progress, uint64_t done, uint64_t bytes_done);
/* Sets the phase text (NULL: none) and redraws now. */
void cli_progress_phase(cli_progress *progress, const char *phase);
/* For a verb that blocks in one library call: a thread redraws the line (elapsed time, phase)
 * every PROGRESS_REDRAW_MS until cli_progress_end. No-op when disabled. */
void cli_progress_tick(cli_progress *progress);
/* Draws the final line (counts as last set) and the newline; stops the ticker. Idempotent. */
void cli_progress_end(cli_progress *progress);

/* A stream that writes to out and adds every byte written to progress->bytes_done (redrawing):
 * for verbs whose output is produced inside the library (audit export, export-subject). out is
 * borrowed: closing the returned stream flushes it and leaves out open. Returns out itself when
 * progress is disabled or the wrapper cannot be made. */
FILE *cli_progress_wrap(cli_progress *progress, FILE *out);

#endif
