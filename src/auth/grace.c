/*
 * Refresh reuse grace (contract in grace.h). A small array of entries, pruned of expired
 * ones on every put and bounded by MAX_ENTRIES (the oldest goes first): it only holds the
 * rotations of the last few seconds, so a linear scan is cheap.
 */
#include "auth/grace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "base/alloc.h"
#include "base/err.h"

#define MAX_ENTRIES 4096

struct grace_entry {
    char spent_hash[AUTH_TOKEN_HASH_LEN];
    char refresh[AUTH_TOKEN_LEN];
    char *access;
    int64_t expires_in_s;
    int64_t until_ms;
};

static struct {
    pthread_mutex_t lock;
    struct grace_entry *e;
    size_t n, cap;
} G = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void entry_wipe(struct grace_entry *e)
{
    if (e->access) {
        auth_wipe(e->access, strlen(e->access));
        free(e->access);
    }
    auth_wipe(e, sizeof *e);
}

/* Remove entry i (order does not matter); callers hold the lock. */
static void remove_at(size_t i)
{
    entry_wipe(&G.e[i]);
    G.e[i] = G.e[--G.n];
    memset(&G.e[G.n], 0, sizeof G.e[G.n]);
}

void auth_grace_put(const char *spent_hash, const char *refresh_token, const char *access_token,
                    int64_t expires_in_s, int64_t now_ms, int64_t grace_ms)
{
    if (grace_ms <= 0 || strlen(spent_hash) >= AUTH_TOKEN_HASH_LEN ||
        strlen(refresh_token) >= AUTH_TOKEN_LEN) {
        return;
    }
    pthread_mutex_lock(&G.lock);
    for (size_t i = 0; i < G.n;) {
        if (G.e[i].until_ms <= now_ms || strcmp(G.e[i].spent_hash, spent_hash) == 0) {
            remove_at(i);
        } else {
            i++;
        }
    }
    if (G.n == MAX_ENTRIES) {
        size_t oldest = 0;
        for (size_t i = 1; i < G.n; i++) {
            if (G.e[i].until_ms < G.e[oldest].until_ms) {
                oldest = i;
            }
        }
        remove_at(oldest);
    }
    if (G.n == G.cap) {
        G.cap = G.cap ? G.cap * 2 : 16;
        G.e = xrealloc(G.e, G.cap * sizeof *G.e);
    }
    struct grace_entry *e = &G.e[G.n++];
    memset(e, 0, sizeof *e);
    snprintf(e->spent_hash, sizeof e->spent_hash, "%s", spent_hash);
    snprintf(e->refresh, sizeof e->refresh, "%s", refresh_token);
    e->access = xstrdup(access_token);
    e->expires_in_s = expires_in_s;
    e->until_ms = now_ms + grace_ms;
    pthread_mutex_unlock(&G.lock);
}

int auth_grace_get(const char *spent_hash, int64_t now_ms, char *refresh_out, size_t refresh_len,
                   char **access_out, int64_t *expires_in_s)
{
    int rc = SB_E_NOTFOUND;
    pthread_mutex_lock(&G.lock);
    for (size_t i = 0; i < G.n; i++) {
        struct grace_entry *e = &G.e[i];
        if (strcmp(e->spent_hash, spent_hash) != 0) {
            continue;
        }
        if (e->until_ms > now_ms && strlen(e->refresh) < refresh_len) {
            memcpy(refresh_out, e->refresh, strlen(e->refresh) + 1);
            *access_out = xstrdup(e->access);
            *expires_in_s = e->expires_in_s;
            rc = 0;
        }
        break;
    }
    pthread_mutex_unlock(&G.lock);
    return rc;
}

void auth_grace_drop(const char *spent_hash)
{
    pthread_mutex_lock(&G.lock);
    for (size_t i = 0; i < G.n; i++) {
        if (strcmp(G.e[i].spent_hash, spent_hash) == 0) {
            remove_at(i);
            break;
        }
    }
    pthread_mutex_unlock(&G.lock);
}

void auth_grace_clear(void)
{
    pthread_mutex_lock(&G.lock);
    while (G.n) {
        remove_at(G.n - 1);
    }
    free(G.e);
    G.e = NULL;
    G.cap = 0;
    pthread_mutex_unlock(&G.lock);
}
