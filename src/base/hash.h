/*
 * String hashing for the in-memory open-addressing tables (sessions, login limits, realtime
 * per-user counts): 64-bit FNV-1a. Not for secrets or for keys an attacker picks to collide
 * on purpose at scale; every table using it bounds its size.
 */
#ifndef SB_BASE_HASH_H
#define SB_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 1469598103934665603ULL

/* Continue the hash h over the bytes of s. */
static inline uint64_t hash_str_more(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

/* The hash of the n bytes at p (which may hold NULs). */
static inline uint64_t hash_mem(const void *p, size_t n)
{
    uint64_t h = HASH_FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    }
    return h;
}

static inline uint64_t hash_str(const char *s)
{
    return hash_str_more(HASH_FNV_OFFSET, s);
}

#endif
