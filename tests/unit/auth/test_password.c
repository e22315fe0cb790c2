/*
 * Unit tests for src/auth/password.c. The test includes the .c so it can see the semaphore
 * (pw_active, pw_peak, pw_slot_acquire) and the dummy hash.
 */
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"

#include "auth/password.c"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The numeric value after key (e.g. "m=") in an encoded hash, or 0. */
static unsigned long param(const char *hash, const char *key)
{
    const char *p = strstr(hash, key);
    return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

static void test_roundtrip(void)
{
    char h[AUTH_PASSWORD_HASH_MAX], h2[AUTH_PASSWORD_HASH_MAX];
    const char *pw = "correct horse battery";
    CHECK_EQ_INT(auth_password_hash(pw, strlen(pw), h), 0);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(param(h, "$m=") >= 19456);
    CHECK(param(h, ",t=") >= 2);
    CHECK_EQ_INT(param(h, ",p="), 1);
    CHECK(strlen(h) < AUTH_PASSWORD_HASH_MAX);
    CHECK(auth_password_verify(h, pw, strlen(pw)));
    CHECK(!auth_password_verify(h, "correct horse batterx", strlen(pw)));
    CHECK(!auth_password_verify(h, pw, strlen(pw) - 1));
    CHECK(!auth_password_verify(h, "", 0));
    /* A fresh salt each time. */
    CHECK_EQ_INT(auth_password_hash(pw, strlen(pw), h2), 0);
    CHECK(strcmp(h, h2) != 0);
    CHECK(auth_password_verify(h2, pw, strlen(pw)));
    /* Bytes after an embedded NUL count. */
    CHECK_EQ_INT(auth_password_hash("abcdefgh\0ijk", 12, h), 0);
    CHECK(auth_password_verify(h, "abcdefgh\0ijk", 12));
    CHECK(!auth_password_verify(h, "abcdefgh", 8));
    /* Garbage stored hash. */
    CHECK(!auth_password_verify("$argon2id$garbage", pw, strlen(pw)));
    CHECK(!auth_password_verify("", pw, strlen(pw)));
}

static void test_lengths(void)
{
    char h[AUTH_PASSWORD_HASH_MAX];
    char big[AUTH_PASSWORD_MAX_LEN + 1];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(auth_password_hash("1234567", 7, h), SB_E_INVAL);
    CHECK_EQ_INT(auth_password_hash("", 0, h), SB_E_INVAL);
    CHECK_EQ_INT(auth_password_hash(NULL, 8, h), SB_E_INVAL);
    CHECK_EQ_INT(auth_password_hash(big, sizeof big, h), SB_E_INVAL);
    CHECK_EQ_INT(auth_password_hash(big, AUTH_PASSWORD_MAX_LEN, h), 0);
    CHECK(auth_password_verify(h, big, AUTH_PASSWORD_MAX_LEN));
    CHECK(!auth_password_verify(h, big, sizeof big));
    CHECK_EQ_INT(auth_password_hash("12345678", 8, h), 0);
    CHECK(auth_password_verify(h, "12345678", 8));
    /* Verification does not apply the minimum length (old hashes stay usable). */
    CHECK(!auth_password_verify(h, "1234", 4));
    CHECK(!auth_password_verify(h, NULL, 0));
}

static void test_null_hash(void)
{
    CHECK(!auth_password_verify(NULL, "whatever-password", 17));
    CHECK(strncmp(pw_dummy, "$argon2id$", 10) == 0);
    CHECK(param(pw_dummy, "$m=") >= 19456);
    CHECK(!auth_password_verify(NULL, "", 0));
    /* About as long as a real verification: compare the fastest of three runs (loose). */
    char h[AUTH_PASSWORD_HASH_MAX];
    CHECK_EQ_INT(auth_password_hash("password1", 9, h), 0);
    int64_t real_ms = INT64_MAX, dummy_ms = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t t0 = clock_mono_ms();
        CHECK(!auth_password_verify(h, "password2", 9));
        int64_t t1 = clock_mono_ms();
        CHECK(!auth_password_verify(NULL, "password2", 9));
        int64_t t2 = clock_mono_ms();
        real_ms = t1 - t0 < real_ms ? t1 - t0 : real_ms;
        dummy_ms = t2 - t1 < dummy_ms ? t2 - t1 : dummy_ms;
    }
    CHECK(dummy_ms * 4 >= real_ms);
}

static int waiter_done;
static pthread_mutex_t waiter_mu = PTHREAD_MUTEX_INITIALIZER;

static int waiter_get(void)
{
    pthread_mutex_lock(&waiter_mu);
    int v = waiter_done;
    pthread_mutex_unlock(&waiter_mu);
    return v;
}

static void *waiter_main(void *arg)
{
    (void)arg;
    pw_slot_acquire();
    pthread_mutex_lock(&waiter_mu);
    waiter_done = 1;
    pthread_mutex_unlock(&waiter_mu);
    pw_slot_release();
    return NULL;
}

static unsigned active_now(void)
{
    pthread_mutex_lock(&pw_mu);
    unsigned v = pw_active;
    pthread_mutex_unlock(&pw_mu);
    return v;
}

/* With every slot taken, a third caller waits until one is given back. */
static void test_semaphore_blocks(void)
{
    auth_password_set_concurrency(2);
    pw_slot_acquire();
    pw_slot_acquire();
    CHECK_EQ_INT(active_now(), 2);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, waiter_main, NULL), 0);
    sleep_ms(150);
    CHECK_EQ_INT(waiter_get(), 0);
    CHECK_EQ_INT(active_now(), 2);
    pw_slot_release();
    for (int i = 0; i < 500 && !waiter_get(); i++) {
        sleep_ms(10);
    }
    CHECK_EQ_INT(waiter_get(), 1);
    pthread_join(t, NULL);
    pw_slot_release();
    CHECK_EQ_INT(active_now(), 0);

    /* Raising the cap wakes a waiter. */
    waiter_done = 0;
    auth_password_set_concurrency(1);
    pw_slot_acquire();
    CHECK_EQ_INT(pthread_create(&t, NULL, waiter_main, NULL), 0);
    sleep_ms(100);
    CHECK_EQ_INT(waiter_get(), 0);
    auth_password_set_concurrency(2);
    for (int i = 0; i < 500 && !waiter_get(); i++) {
        sleep_ms(10);
    }
    CHECK_EQ_INT(waiter_get(), 1);
    pthread_join(t, NULL);
    pw_slot_release();

    auth_password_set_concurrency(0); /* clamps to 1 */
    pthread_mutex_lock(&pw_mu);
    CHECK_EQ_INT(pw_cap, 1);
    pthread_mutex_unlock(&pw_mu);
}

static void *hasher_main(void *arg)
{
    int *rc = arg;
    char h[AUTH_PASSWORD_HASH_MAX];
    *rc = auth_password_hash("parallel-password", 17, h);
    if (*rc == 0 && !auth_password_verify(h, "parallel-password", 17)) {
        *rc = -1;
    }
    return NULL;
}

/* Real hashes from several threads never exceed the cap. */
static void run_hashers(unsigned cap, unsigned nthreads, unsigned *peak)
{
    pthread_t t[4];
    int rc[4] = {1, 1, 1, 1};
    auth_password_set_concurrency(cap);
    pthread_mutex_lock(&pw_mu);
    pw_peak = 0;
    pthread_mutex_unlock(&pw_mu);
    for (unsigned i = 0; i < nthreads; i++) {
        CHECK_EQ_INT(pthread_create(&t[i], NULL, hasher_main, &rc[i]), 0);
    }
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(rc[i], 0);
    }
    pthread_mutex_lock(&pw_mu);
    *peak = pw_peak;
    pthread_mutex_unlock(&pw_mu);
}

static void test_concurrency_cap(void)
{
    unsigned peak = 0;
    run_hashers(1, 4, &peak);
    CHECK_EQ_INT(peak, 1);
    run_hashers(2, 4, &peak);
    CHECK(peak >= 1 && peak <= 2);
    CHECK_EQ_INT(active_now(), 0);
    auth_password_set_concurrency(2);
}

int main(void)
{
    test_roundtrip();
    test_lengths();
    test_null_hash();
    test_semaphore_blocks();
    test_concurrency_cap();
    return test_done();
}
