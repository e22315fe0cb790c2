/*
 * Log output. A mutex keeps lines from different threads whole; each line is written with
 * one fwrite. JSON lines carry ts, level, msg and the caller's fields.
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

#include "base/clock.h"
#include "base/err.h"

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

void log_event(enum log_level level, const char *msg, json_t *fields)
{
    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    if (log_json < 0) {
        log_json = !isatty(STDERR_FILENO);
    }
    char ts[CLOCK_RFC3339_LEN];
    clock_format_ms(clock_now_ms(), ts);
    char *line = NULL;
    if (log_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "level", json_string(level_names[level]));
        json_object_set_new(o, "msg", json_string(msg));
        if (fields) {
            json_object_update(o, fields);
        }
        char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (body) {
            size_t n = strlen(body);
            line = malloc(n + 2);
            if (line) {
                memcpy(line, body, n);
                line[n] = '\n';
                line[n + 1] = '\0';
            }
            free(body);
        }
    } else {
        char *extra = fields ? json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        size_t n = strlen(ts) + strlen(msg) + (extra ? strlen(extra) : 0) + 16;
        line = malloc(n);
        if (line) {
            snprintf(line, n, "%s %-5s %s%s%s\n", ts, level_names[level], msg, extra ? " " : "",
                     extra ? extra : "");
        }
        free(extra);
    }
    json_decref(fields);
    if (line) {
        pthread_mutex_lock(&log_lock);
        fwrite(line, 1, strlen(line), stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_lock);
        free(line);
    }
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
