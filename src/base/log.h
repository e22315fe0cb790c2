/*
 * Logging: one JSON object per line on stderr (or a short text line when stderr is a
 * terminal or the text format was chosen). Thread-safe. Never pass tokens or passwords.
 */
#ifndef SB_BASE_LOG_H
#define SB_BASE_LOG_H

#include <jansson.h>
#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Choose the minimum level and the format; defaults: info, json unless stderr is a tty. */
void log_setup(enum log_level level, bool json);
/*
 * Send the log (and everything else written to stderr) to the file path, opened for append
 * (created 0640), by putting it in place of file descriptor 2. Returns 0 or SB_E_IO.
 * log_reopen() opens the same path again (after logrotate renamed the file; SIGHUP), so the
 * lines after it go to a fresh file; a no-op returning 0 without a log file. Thread-safe: a
 * line is never split between the two files.
 */
int log_open_file(const char *path);
int log_reopen(void);
/* The path given to log_open_file, or NULL. */
const char *log_file_path(void);
/* Parse "debug|info|warn|error"; 0 or SB_E_INVAL. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);
/* A message formatted printf-style. */
void log_printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields; takes ownership of fields (may be NULL). */
void log_event(enum log_level level, const char *msg, json_t *fields);

/* A field of log_fields: a string of len bytes (str), or the number num when str is NULL. */
struct log_field {
    const char *key;
    const char *str;
    size_t len;
    long long num;
};
#define LOG_STR(k, s, n) ((struct log_field){(k), (s), (n), 0})
#define LOG_NUM(k, v) ((struct log_field){(k), NULL, 0, (v)})
/* The same as log_event with the fields in this order, written straight into the line (no
 * JSON objects): for lines written per request. Invalid UTF-8 bytes become U+FFFD. */
void log_fields(enum log_level level, const char *msg, const struct log_field *f, size_t n);

/*
 * Hold the calling thread's lines below warn in memory until log_thread_flush (or until they
 * pass 64 KiB), so that an event loop that flushes once per turn writes a burst of request
 * lines with one write instead of one each. A warning or an error flushes at once, after the
 * lines held before it. log_thread_hold(false) flushes and frees the thread's buffer.
 */
void log_thread_hold(bool on);
void log_thread_flush(void);

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_printf(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERROR, __VA_ARGS__)

#endif
