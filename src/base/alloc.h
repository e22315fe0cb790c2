/*
 * Allocation that cannot fail: the server aborts on out-of-memory through xmalloc and
 * friends (DESIGN/STYLE: one place). The SDK and CLI do not use these.
 */
#ifndef SB_BASE_ALLOC_H
#define SB_BASE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Like xmalloc but for a formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
