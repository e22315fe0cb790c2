/*
 * Log output. A mutex keeps lines from different threads whole; each line, or each batch of
 * lines a thread held (log_thread_hold: an event loop writes its request lines once per
 * turn), is written with one fwrite. JSON lines carry ts, level, msg and the caller's fields.
 *
 * A log file (--log-file) replaces file descriptor 2 through dup2, so stderr output from
 * anywhere lands in it too; reopening (SIGHUP, for logrotate) opens the path again and
 * swaps it in under the same mutex, so no line is split between the old and the new file.
 */
#define _POSIX_C_SOURCE 200809L
#include "base/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"

static enum log_level log_min = LOG_INFO;
static int log_json = -1; /* -1: decide from isatty on first use */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static char *log_path; /* --log-file, or NULL: stderr as inherited */

/* Open path and put it in place of stderr. Caller holds log_lock (or runs single-threaded). */
static int open_onto_stderr(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        return SB_E_IO;
    }
    fflush(stderr);
    int rc = dup2(fd, STDERR_FILENO) < 0 ? SB_E_IO : 0;
    close(fd);
    return rc;
}

int log_open_file(const char *path)
{
    pthread_mutex_lock(&log_lock);
    int rc = open_onto_stderr(path);
    if (rc == 0) {
        free(log_path);
        log_path = strdup(path);
        rc = log_path ? 0 : SB_E_NOMEM;
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

int log_reopen(void)
{
    pthread_mutex_lock(&log_lock);
    int rc = log_path ? open_onto_stderr(log_path) : 0;
    pthread_mutex_unlock(&log_lock);
    return rc;
}

const char *log_file_path(void)
{
    return log_path;
}

void log_setup(enum log_level level, bool json)
{
    log_min = level;
    log_json = json;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return SB_E_INVAL;
}

bool log_enabled(enum log_level level)
{
    return level >= log_min;
}

/* ---- lines ---- */

#define LOG_HELD_MAX (64u * 1024u)       /* a holding thread writes once its lines pass this */
#define LOG_BUF_MAX (4u * 1024u * 1024u) /* one thread's pending bytes, the line included */

/* The calling thread's held lines (log_thread_hold). */
static _Thread_local struct {
    struct buf lines;
    bool on;
} held;

static void emit(const char *p, size_t n)
{
    pthread_mutex_lock(&log_lock);
    fwrite(p, 1, n, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

static bool json_lines(void)
{
    if (log_json < 0) {
        log_json = !isatty(STDERR_FILENO);
    }
    return log_json;
}

/* Start a line in b: JSON up to the message ({"ts":..,"level":..,"msg":..), or the text
 * format's "ts level msg". */
static void line_begin(struct buf *b, enum log_level level, const char *msg)
{
    char ts[CLOCK_RFC3339_LEN];
    clock_format_ms(clock_now_ms(), ts);
    if (json_lines()) {
        (void)buf_puts(b, "{\"ts\":\"");
        (void)buf_puts(b, ts);
        (void)buf_puts(b, "\",\"level\":\"");
        (void)buf_puts(b, level_names[level]);
        (void)buf_puts(b, "\",\"msg\":");
        (void)json_buf_string(b, msg, strlen(msg));
    } else {
        (void)buf_printf(b, "%s %-5s %s", ts, level_names[level], msg);
    }
}

/* The buffer a line is built in: the thread's held lines, or a fresh one. */
static struct buf *line_buf(struct buf *own)
{
    if (held.on) {
        if (!held.lines.max_len) {
            buf_init(&held.lines, LOG_BUF_MAX);
        }
        return &held.lines;
    }
    buf_init(own, LOG_BUF_MAX);
    return own;
}

/* The line that began at start in b is complete: write it, or keep it with the held lines. */
static void line_end(struct buf *b, size_t start, enum log_level level)
{
    if (buf_putc(b, '\n') < 0) {
        /* Over the bound (a huge field): drop this line, keep the ones before it. */
        b->len = start;
        if (b->data) {
            b->data[start] = '\0';
        }
        return;
    }
    if (b == &held.lines && level < LOG_WARN && b->len < LOG_HELD_MAX) {
        return;
    }
    emit(b->data, b->len);
    if (b == &held.lines) {
        buf_reset(b);
    } else {
        buf_release(b);
    }
}

void log_thread_flush(void)
{
    if (held.lines.len) {
        emit(held.lines.data, held.lines.len);
        buf_reset(&held.lines);
    }
}

void log_thread_hold(bool on)
{
    if (!on) {
        log_thread_flush();
        buf_release(&held.lines);
    }
    held.on = on;
}

void log_event(enum log_level level, const char *msg, json_t *fields)
{
    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    struct buf own;
    struct buf *b = line_buf(&own);
    size_t start = b->len;
    line_begin(b, level, msg);
    size_t n = 0;
    char *extra = fields && json_object_size(fields) ? json_encode(fields, &n) : NULL;
    if (json_lines() && extra) {
        /* The fields' members after msg: their object without its opening brace. */
        size_t mark = b->len;
        if (buf_putc(b, ',') < 0 || buf_append(b, extra + 1, n - 1) < 0) {
            b->len = mark; /* too big: the line without its fields */
            (void)buf_putc(b, '}');
        }
    } else if (json_lines()) {
        (void)buf_putc(b, '}');
    } else if (extra) {
        (void)buf_putc(b, ' ');
        (void)buf_puts(b, extra);
    }
    free(extra);
    json_decref(fields);
    line_end(b, start, level);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *f, size_t n)
{
    if (!log_enabled(level)) {
        return;
    }
    struct buf own;
    struct buf *b = line_buf(&own);
    size_t start = b->len;
    line_begin(b, level, msg);
    bool json = json_lines();
    if (!json && n) {
        (void)buf_puts(b, " {");
    }
    for (size_t i = 0; i < n; i++) {
        if (json || i) {
            (void)buf_putc(b, ',');
        }
        (void)json_buf_string(b, f[i].key, strlen(f[i].key));
        (void)buf_putc(b, ':');
        if (f[i].str) {
            (void)json_buf_string(b, f[i].str, f[i].len);
        } else {
            (void)buf_put_i64(b, f[i].num);
        }
    }
    if (json || n) {
        (void)buf_putc(b, '}');
    }
    line_end(b, start, level);
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_event(level, msg, NULL);
}
