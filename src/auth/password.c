/*
 * Password hashing with argon2id (libsodium crypto_pwhash_str_alg) at t = 2, m = 19 MiB,
 * p = 1: the OWASP minimum for argon2id. Stored hashes carry their own parameters, so raising
 * them later keeps old hashes verifiable.
 *
 * Concurrency: each hash needs 19 MiB and tens of milliseconds of CPU. A process-wide
 * counting semaphore (mutex + condition variable; pw_active of pw_cap slots taken) bounds the
 * number of hashes in flight so that a burst of logins queues here instead of taking every
 * worker thread and a few hundred megabytes. pw_peak records the highest pw_active seen (a
 * test hook; reading it needs pw_mu).
 *
 * Unknown users: auth_password_verify(NULL, ...) verifies against a dummy hash of a random
 * password, made once (pthread_once) with the same parameters, so the caller's "no such user"
 * path costs the same as a wrong password.
 *
 * libsodium takes (pointer, length) for the password, so no copies of it are made here; the
 * output buffer is wiped when hashing fails.
 */
#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"

_Static_assert(AUTH_PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");

#define PW_MEMLIMIT ((size_t)19 * 1024 * 1024)
#define PW_OPSLIMIT                                                                                \
    (crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE >= 2                                              \
         ? (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE                         \
         : 2ULL)

static pthread_once_t pw_sodium_once = PTHREAD_ONCE_INIT;
static pthread_once_t pw_dummy_once = PTHREAD_ONCE_INIT;
static char pw_dummy[crypto_pwhash_STRBYTES]; /* "" when it could not be made */

static pthread_mutex_t pw_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pw_cond = PTHREAD_COND_INITIALIZER;
static unsigned pw_cap = 2;
static unsigned pw_active;
static unsigned pw_peak;

static void pw_sodium_init(void)
{
    if (sodium_init() < 0) {
        abort();
    }
}

/* Hash with the module's parameters; 0 or -1 (libsodium: out of memory). */
static int pw_hash_raw(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str_alg(out, pw, len, PW_OPSLIMIT, PW_MEMLIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

static void pw_dummy_init(void)
{
    unsigned char secret[24];
    char pw[2 * sizeof secret + 1];
    rand_bytes(secret, sizeof secret);
    sodium_bin2hex(pw, sizeof pw, secret, sizeof secret);
    if (pw_hash_raw(pw, strlen(pw), pw_dummy) != 0) {
        pw_dummy[0] = '\0';
        log_error("password: cannot make the dummy hash (out of memory)");
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(pw, sizeof pw);
}

/* Take one of the pw_cap slots, waiting while all are taken. */
static void pw_slot_acquire(void)
{
    pthread_mutex_lock(&pw_mu);
    while (pw_active >= pw_cap) {
        pthread_cond_wait(&pw_cond, &pw_mu);
    }
    pw_active++;
    if (pw_active > pw_peak) {
        pw_peak = pw_active;
    }
    pthread_mutex_unlock(&pw_mu);
}

static void pw_slot_release(void)
{
    pthread_mutex_lock(&pw_mu);
    pw_active--;
    pthread_cond_signal(&pw_cond);
    pthread_mutex_unlock(&pw_mu);
}

void auth_password_set_concurrency(unsigned n)
{
    pthread_mutex_lock(&pw_mu);
    pw_cap = n ? n : 1;
    pthread_cond_broadcast(&pw_cond);
    pthread_mutex_unlock(&pw_mu);
}

int auth_password_hash(const char *pw, size_t len, char out[AUTH_PASSWORD_HASH_MAX])
{
    if (!pw || len < AUTH_PASSWORD_MIN_LEN || len > AUTH_PASSWORD_MAX_LEN) {
        return SB_E_INVAL;
    }
    pthread_once(&pw_sodium_once, pw_sodium_init);
    pw_slot_acquire();
    int rc = pw_hash_raw(pw, len, out);
    pw_slot_release();
    if (rc != 0) {
        sodium_memzero(out, AUTH_PASSWORD_HASH_MAX);
        return SB_E_NOMEM;
    }
    return 0;
}

bool auth_password_verify(const char *hash, const char *pw, size_t len)
{
    if (!pw || len > AUTH_PASSWORD_MAX_LEN) {
        return false;
    }
    pthread_once(&pw_sodium_once, pw_sodium_init);
    pw_slot_acquire();
    if (!hash) {
        /* Made inside a slot so that this one-off hash also counts against the cap. */
        pthread_once(&pw_dummy_once, pw_dummy_init);
    }
    int rc;
    if (hash || pw_dummy[0] != '\0') {
        rc = crypto_pwhash_str_verify(hash ? hash : pw_dummy, pw, len);
    } else {
        /* No dummy hash: burn the same time by hashing instead. */
        char scratch[crypto_pwhash_STRBYTES];
        rc = pw_hash_raw(pw, len, scratch);
        sodium_memzero(scratch, sizeof scratch);
    }
    bool ok = hash && rc == 0;
    pw_slot_release();
    return ok;
}
