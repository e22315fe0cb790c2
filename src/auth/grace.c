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

struct auth_grace {
    pthread_mutex_t lock;
    struct grace_entry *e;
    size_t n, cap;
};

struct auth_grace *auth_grace_new(void)
{
    struct auth_grace *self = xcalloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void entry_wipe(struct grace_entry *e)
{
    if (e->access) {
        auth_wipe(e->access, strlen(e->access));
        free(e->access);
    }
    auth_wipe(e, sizeof *e);
}

/* Remove entry i (order does not matter); callers hold the lock. */
static void remove_at(struct auth_grace *self, size_t i)
{
    entry_wipe(&self->e[i]);
    self->e[i] = self->e[--self->n];
    memset(&self->e[self->n], 0, sizeof self->e[self->n]);
}

void auth_grace_put(struct auth_grace *self, const char *spent_hash, const char *refresh_token,
                    const char *access_token, int64_t expires_in_s, int64_t now_ms,
                    int64_t grace_ms)
{
    if (grace_ms <= 0 || strlen(spent_hash) >= AUTH_TOKEN_HASH_LEN ||
        strlen(refresh_token) >= AUTH_TOKEN_LEN) {
        return;
    }
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n;) {
        if (self->e[i].until_ms <= now_ms || strcmp(self->e[i].spent_hash, spent_hash) == 0) {
            remove_at(self, i);
        } else {
            i++;
        }
    }
    if (self->n == MAX_ENTRIES) {
        size_t oldest = 0;
        for (size_t i = 1; i < self->n; i++) {
            if (self->e[i].until_ms < self->e[oldest].until_ms) {
                oldest = i;
            }
        }
        remove_at(self, oldest);
    }
    if (self->n == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->e = xrealloc(self->e, self->cap * sizeof *self->e);
    }
    struct grace_entry *e = &self->e[self->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->spent_hash, sizeof e->spent_hash, "%s", spent_hash);
    snprintf(e->refresh, sizeof e->refresh, "%s", refresh_token);
    e->access = xstrdup(access_token);
    e->expires_in_s = expires_in_s;
    e->until_ms = now_ms + grace_ms;
    pthread_mutex_unlock(&self->lock);
}

int auth_grace_get(struct auth_grace *self, const char *spent_hash, int64_t now_ms,
                   char *refresh_out, size_t refresh_len, char **access_out, int64_t *expires_in_s)
{
    int rc = SB_E_NOTFOUND;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++) {
        struct grace_entry *e = &self->e[i];
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
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void auth_grace_drop(struct auth_grace *self, const char *spent_hash)
{
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->e[i].spent_hash, spent_hash) == 0) {
            remove_at(self, i);
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
}

void auth_grace_free(struct auth_grace *self)
{
    if (!self) {
        return;
    }
    while (self->n) {
        remove_at(self, self->n - 1);
    }
    free(self->e);
    pthread_mutex_destroy(&self->lock);
    free(self);
}
