/* cdpctl: the progress line of the long verbs (see progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int64_t monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int cli_progress_wanted(void) {
    const char *forced = getenv("CDP_PROGRESS");
    if (forced != NULL && strcmp(forced, "1") == 0)
        return 1;
    if (forced != NULL && strcmp(forced, "0") == 0)
        return 0;
    return isatty(STDERR_FILENO);
}

void cli_progress_begin(cli_progress *progress, const char *verb, const char *unit,
                        uint64_t total, uint64_t bytes_total) {
    memset(progress, 0, sizeof *progress);
    progress->enabled = cli_progress_wanted();
    progress->verb = verb;
    progress->unit = unit;
    progress->total = total;
    progress->bytes_total = bytes_total;
    progress->start_ms = monotonic_ms();
    progress->last_draw_ms = progress->start_ms;
    pthread_mutex_init(&progress->lock, NULL);
}

/* "12.3 MB" into text. */
static void format_bytes(char *text, size_t size, uint64_t bytes) {
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1000.0 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1000.0;
        unit++;
    }
    snprintf(text, size, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
}

/* Draws the line; the caller holds the lock. */
static void draw(cli_progress *progress, int64_t now_ms) {
    char line[320], part[96];
    size_t used = 0;
    double seconds = (double)(now_ms - progress->start_ms) / 1000.0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int n_ = snprintf(line + used, sizeof line - used, __VA_ARGS__);                           \
        if (n_ > 0)                                                                                \
            used = (size_t)n_ >= sizeof line - used ? sizeof line - 1 : used + (size_t)n_;         \
    } while (0)
    APPEND("cdpctl %s: ", progress->verb);
    if (progress->total > 0)
        APPEND("%llu/%llu %s", (unsigned long long)progress->done,
               (unsigned long long)progress->total, progress->unit);
    else
        APPEND("%llu %s", (unsigned long long)progress->done, progress->unit);
    if (progress->bytes_done > 0 || progress->bytes_total > 0) {
        format_bytes(part, sizeof part, progress->bytes_done);
        APPEND(", %s", part);
        if (progress->bytes_total > 0) {
            format_bytes(part, sizeof part, progress->bytes_total);
            APPEND("/%s (%.0f%%)", part,
                   100.0 * (double)progress->bytes_done / (double)progress->bytes_total);
        }
    }
    if (progress->counting && seconds > 0.05 && progress->done > 0)
        APPEND(", %.0f %s/s", (double)progress->done / seconds, progress->unit);
    /* ETA from the fraction done: bytes when known (a regular file), else the count. */
    double fraction = progress->bytes_total > 0
                          ? (double)progress->bytes_done / (double)progress->bytes_total
                      : progress->total > 0 ? (double)progress->done / (double)progress->total
                                            : 0.0;
    if (fraction > 0.0 && fraction < 1.0 && seconds > 0.5) {
        long left = (long)(seconds / fraction - seconds + 0.5);
        APPEND(", ETA %ld:%02ld", left / 60, left % 60);
    }
    APPEND(", %.1fs", seconds);
    if (progress->phase[0] != '\0')
        APPEND(" %s", progress->phase);
#undef APPEND
    int width = (int)used;
    /* Blank what is left of a longer previous line. */
    fprintf(stderr, "\r%s%*s", line, progress->width > width ? progress->width - width : 0, "");
    fflush(stderr);
    progress->width = width;
    progress->drawn = 1;
    progress->last_draw_ms = now_ms;
}

void cli_progress_update(cli_progress *progress, uint64_t done, uint64_t bytes_done) {
    if (!progress->enabled)
        return;
    pthread_mutex_lock(&progress->lock);
    progress->done = done;
    progress->bytes_done = bytes_done;
    progress->counting = 1;
    int64_t now_ms = monotonic_ms();
    if (now_ms - progress->last_draw_ms >= PROGRESS_REDRAW_MS)
        draw(progress, now_ms);
    pthread_mutex_unlock(&progress->lock);
}

void cli_progress_phase(cli_progress *progress, const char *phase) {
    if (!progress->enabled)
        return;
    pthread_mutex_lock(&progress->lock);
    snprintf(progress->phase, sizeof progress->phase, "%s", phase ? phase : "");
    draw(progress, monotonic_ms());
    pthread_mutex_unlock(&progress->lock);
}

static void *ticker_main(void *context) {
    cli_progress *progress = context;
    struct timespec pause = {0, PROGRESS_REDRAW_MS * 1000000L};
    for (;;) {
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&progress->lock);
        int stop = progress->stop;
        if (!stop)
            draw(progress, monotonic_ms());
        pthread_mutex_unlock(&progress->lock);
        if (stop)
            return NULL;
    }
}

void cli_progress_tick(cli_progress *progress) {
    if (!progress->enabled || progress->ticking)
        return;
    if (pthread_create(&progress->ticker, NULL, ticker_main, progress) == 0)
        progress->ticking = 1;
}

void cli_progress_end(cli_progress *progress) {
    if (!progress->enabled)
        return;
    if (progress->ticking) {
        pthread_mutex_lock(&progress->lock);
        progress->stop = 1;
        pthread_mutex_unlock(&progress->lock);
        pthread_join(progress->ticker, NULL);
        progress->ticking = 0;
    }
    pthread_mutex_lock(&progress->lock);
    draw(progress, monotonic_ms());
    fputc('\n', stderr);
    fflush(stderr);
    progress->enabled = 0; /* ended: later calls are no-ops */
    pthread_mutex_unlock(&progress->lock);
    pthread_mutex_destroy(&progress->lock);
}

/* ---- counting stream ----------------------------------------------------------------------- */

typedef struct counting_stream {
    cli_progress *progress;
    FILE *out;
} counting_stream;

static ssize_t counting_write(void *cookie, const char *buffer, size_t size) {
    counting_stream *stream = cookie;
    size_t written = fwrite(buffer, 1, size, stream->out);
    if (written > 0)
        cli_progress_update(stream->progress, stream->progress->done,
                            stream->progress->bytes_done + written);
    return written == 0 && size > 0 ? -1 : (ssize_t)written;
}

static int counting_close(void *cookie) {
    counting_stream *stream = cookie;
    int failed = fflush(stream->out) != 0;
    free(stream);
    return failed ? -1 : 0;
}

FILE *cli_progress_wrap(cli_progress *progress, FILE *out) {
    if (!progress->enabled)
        return out;
    counting_stream *stream = malloc(sizeof *stream);
    if (stream == NULL)
        return out;
    stream->progress = progress;
    stream->out = out;
    cookie_io_functions_t functions = {
        .read = NULL, .write = counting_write, .seek = NULL, .close = counting_close};
    FILE *wrapped = fopencookie(stream, "w", functions);
    if (wrapped == NULL) {
        free(stream);
        return out;
    }
    return wrapped;
}
