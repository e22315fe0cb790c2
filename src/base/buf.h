/*
 * Growable byte buffers with a size cap (curl's rule: every growable buffer is created with
 * a limit). Contents are always NUL-terminated so text can be used as a C string; the NUL
 * is not counted in len.
 */
#ifndef SB_BASE_BUF_H
#define SB_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;     /* NULL until the first append */
    size_t len;     /* bytes used, excluding the trailing NUL */
    size_t cap;     /* bytes allocated */
    size_t max_len; /* appends that would exceed this fail with SB_E_TOOBIG */
};

/* Prepare an empty buffer in caller storage that may grow to max_len bytes. */
void buf_init(struct buf *self, size_t max_len);
/* Free the memory; the buffer is empty afterwards and may be reused. */
void buf_release(struct buf *self);
/* Forget the contents but keep the memory. */
void buf_reset(struct buf *self);
/* Append bytes; 0, SB_E_TOOBIG (over max_len) or SB_E_NOMEM (buffer unchanged either way). */
int buf_append(struct buf *self, const void *data, size_t len) __attribute__((warn_unused_result));
/* The text appenders below may be used without checking when the buffer's cap is known to
 * be ample (response headers, metrics text): a failed append leaves the buffer unchanged. */
int buf_puts(struct buf *self, const char *s);
int buf_putc(struct buf *self, char c);
/* v in decimal into out (at least BUF_I64_LEN bytes, not NUL-terminated); returns the length.
 * For hot paths (JSON numbers, log fields) where printf's cost shows. */
#define BUF_I64_LEN 20
size_t buf_fmt_i64(char *out, int64_t v);
int buf_put_i64(struct buf *self, int64_t v);
int buf_printf(struct buf *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *self, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Make room for n more bytes; returns a pointer to them (commit with buf_commit), or NULL when
 * that would pass max_len or memory is exhausted. */
char *buf_reserve(struct buf *self, size_t n);
void buf_commit(struct buf *self, size_t n);
/* Drop the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *self, size_t n);
/* Hand the memory to the caller (malloc'd, NUL-terminated; NULL only when an empty buffer
 * cannot get its one byte); the buffer is empty. */
char *buf_detach(struct buf *self, size_t *len_out);

#endif
