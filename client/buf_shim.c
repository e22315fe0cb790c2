/*
 * The SDK's own implementation of the base/buf.h functions that the reused codecs
 * (net/ws/ws_codec.c, net/http/http_parse.c) call. The server's base/buf.c grows through
 * xrealloc, which aborts on out-of-memory; the SDK must return errors instead, so here a
 * failed allocation makes buf_reserve() return NULL, which the codecs already treat as a
 * limit error (the WebSocket reader then fails with close code 1009 and the SDK reconnects;
 * a chunked HTTP body fails as a protocol error). Only the functions the codecs use exist.
 */
#include "base/buf.h"

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
    buf_init(self, self->max_len);
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
        char *d = realloc(self->data, cap);
        if (!d) {
            return NULL;
        }
        self->data = d;
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
        return SB_E_TOOBIG;
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
