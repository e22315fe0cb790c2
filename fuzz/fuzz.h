/*
 * Shared by the fuzz targets in this directory: FUZZ_ASSERT aborts with the broken
 * invariant's text, so libFuzzer reports it as a crash and a corpus replay test fails loudly,
 * and fuzz_copy gives the code under test a heap copy of exactly the input bytes (no NUL
 * after them), so AddressSanitizer catches any read past the length it was given.
 */
#ifndef SB_FUZZ_FUZZ_H
#define SB_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd copy of data[0..size) with nothing after it (one byte when size is 0). */
static inline char *fuzz_copy(const void *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    FUZZ_ASSERT(p != NULL);
    if (size) {
        memcpy(p, data, size);
    }
    return p;
}

/* The same bytes NUL-terminated (for APIs that take C strings). */
static inline char *fuzz_cstr(const void *data, size_t size)
{
    char *p = malloc(size + 1);
    FUZZ_ASSERT(p != NULL);
    if (size) {
        memcpy(p, data, size);
    }
    p[size] = '\0';
    return p;
}

#endif
