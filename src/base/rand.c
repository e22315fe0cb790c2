/*
 * Random bytes and UUIDs, backed by libsodium (initialised lazily; sodium_init is
 * idempotent and thread-safe).
 */
#include "base/rand.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

static void rand_init(void)
{
    if (sodium_init() < 0) {
        abort();
    }
}

void rand_bytes(void *out, size_t len)
{
    rand_init();
    randombytes_buf(out, len);
}

uint32_t rand_uniform(uint32_t upper)
{
    rand_init();
    return randombytes_uniform(upper);
}

/*
 * UUIDs take their bytes from a per-thread pool filled by one randombytes_buf call per 64
 * UUIDs (one getrandom system call instead of one per UUID: a request id is made for every
 * HTTP request). A forked child drops the pool it inherited, so parent and child never hand
 * out the same bytes.
 */
#define UUID_POOL (64 * 16)

static atomic_uint fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The last version 7 id this process made (see uuid_v7), under v7_mu. */
static pthread_mutex_t v7_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_ms;
static unsigned char v7_tail[10];

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
    /* The child's ids start from fresh random bits, never from the parent's last one (and
     * a lock some other thread of the parent held is not held here). */
    pthread_mutex_init(&v7_mu, NULL);
    v7_ms = 0;
}

static void fork_hook(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* 16 random bytes from a per-thread pool (refilled after a fork, so parent and child never
 * share ids); each handed-out byte is wiped from the pool. */
static void uuid_random(unsigned char b[16])
{
    static _Thread_local unsigned char pool[UUID_POOL];
    static _Thread_local size_t used = UUID_POOL;
    static _Thread_local unsigned gen;
    pthread_once(&fork_once, fork_hook);
    unsigned now = atomic_load(&fork_gen);
    if (used + 16 > UUID_POOL || gen != now) {
        rand_bytes(pool, sizeof pool);
        used = 0;
        gen = now;
    }
    memcpy(b, pool + used, 16);
    sodium_memzero(pool + used, 16);
    used += 16;
}

static void uuid_format(unsigned char b[16], unsigned version, char out[UUID_STR_LEN])
{
    b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *o++ = '-';
        }
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void uuid_v4(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    uuid_random(b);
    uuid_format(b, 4, out);
}

/* Within one millisecond (or after a step back of the clock) the next id is the last one plus
 * one, so that the ids of one process sort in the order they were made, as rows written in the
 * same millisecond are then listed (RFC 9562 section 6.2, monotonic random); a new
 * millisecond starts from random bits. The increment runs over the last 56 random bits. */
void uuid_v7(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    uuid_random(b);
    uint64_t ms = (uint64_t)clock_now_ms();
    pthread_mutex_lock(&v7_mu);
    if (v7_ms && ms <= v7_ms) {
        ms = v7_ms;
        memcpy(b + 6, v7_tail, sizeof v7_tail);
        for (int i = 15; i >= 9 && ++b[i] == 0; i--) {
        }
    }
    for (int i = 0; i < 6; i++) {
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    }
    uuid_format(b, 7, out);
    v7_ms = ms;
    memcpy(v7_tail, b + 6, sizeof v7_tail);
    pthread_mutex_unlock(&v7_mu);
}

int uuid_is_valid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[36] == '\0';
}
