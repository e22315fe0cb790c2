/*
 * struct buf: one contiguous allocation that doubles as it grows, capped at max_len.
 * It uses plain realloc and reports failure instead of aborting, so the SDK (which must
 * never abort) shares this file with the server.
 */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void buf_init(struct buf *self, size_t max_len)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
    self->max_len = max_len;
}

void buf_release(struct buf *self)
{
    free(self->data);
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void buf_reset(struct buf *self)
{
    self->len = 0;
    if (self->data) {
        self->data[0] = '\0';
    }
}

char *buf_reserve(struct buf *self, size_t n)
{
    if (n > self->max_len || self->len > self->max_len - n) {
        return NULL;
    }
    size_t need = self->len + n + 1;
    if (need > self->cap) {
        size_t cap = self->cap ? self->cap : 64;
        while (cap < need) {
            cap *= 2;
        }
        char *p = realloc(self->data, cap);
        if (!p) {
            return NULL;
        }
        self->data = p;
        self->cap = cap;
    }
    return self->data + self->len;
}

void buf_commit(struct buf *self, size_t n)
{
    self->len += n;
    self->data[self->len] = '\0';
}

int buf_append(struct buf *self, const void *data, size_t len)
{
    char *p = buf_reserve(self, len);
    if (!p) {
        return len > self->max_len || self->len > self->max_len - len ? SB_E_TOOBIG : SB_E_NOMEM;
    }
    if (len) {
        memcpy(p, data, len);
    }
    buf_commit(self, len);
    return 0;
}

int buf_puts(struct buf *self, const char *s)
{
    return buf_append(self, s, strlen(s));
}

int buf_putc(struct buf *self, char c)
{
    return buf_append(self, &c, 1);
}

size_t buf_fmt_i64(char *out, int64_t v)
{
    char tmp[BUF_I64_LEN];
    size_t n = 0;
    /* Digits of the magnitude as unsigned, so INT64_MIN needs no special case. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) {
        out[len++] = '-';
    }
    while (n) {
        out[len++] = tmp[--n];
    }
    return len;
}

int buf_put_i64(struct buf *self, int64_t v)
{
    char tmp[BUF_I64_LEN];
    return buf_append(self, tmp, buf_fmt_i64(tmp, v));
}

int buf_vprintf(struct buf *self, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return SB_E_INVAL;
    }
    char *p = buf_reserve(self, (size_t)n);
    if (!p) {
        return (size_t)n > self->max_len || self->len > self->max_len - (size_t)n ? SB_E_TOOBIG
                                                                                  : SB_E_NOMEM;
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    buf_commit(self, (size_t)n);
    return 0;
}

int buf_printf(struct buf *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(self, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(struct buf *self, size_t n)
{
    if (n >= self->len) {
        buf_reset(self);
        return;
    }
    memmove(self->data, self->data + n, self->len - n);
    self->len -= n;
    self->data[self->len] = '\0';
}

char *buf_detach(struct buf *self, size_t *len_out)
{
    char *p = self->data ? self->data : calloc(1, 1);
    if (len_out) {
        *len_out = self->len;
    }
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
    return p;
}
