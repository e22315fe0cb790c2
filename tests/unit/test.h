/*
 * A minimal unit-test harness: CHECK records a failure and goes on; test_done prints the
 * plain closing line "N passed, N failed" and returns the exit status.
 */
#ifndef SB_TEST_H
#define SB_TEST_H

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int test_passed, test_failed;

/* A test that crashes prints where (the stack of the crashing thread, as binary(+offset) for
 * addr2line -e), so that a rare crash in CI can be read from its log alone. Not under
 * AddressSanitizer, which reports crashes itself. */
#if !defined(__SANITIZE_ADDRESS__)
static void test_on_crash(int sig)
{
    static const char msg[] = "test crashed; stack:\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    void *frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((constructor)) static void test_catch_crashes(void)
{
    void *frames[1];
    backtrace(frames, 1); /* loads libgcc's unwinder now, not inside the handler */
    signal(SIGSEGV, test_on_crash);
    signal(SIGBUS, test_on_crash);
    signal(SIGFPE, test_on_crash);
}
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ == vb_) {                                                                          \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ && sb_ && strcmp(sa_, sb_) == 0) {                                                 \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                               \
        }                                                                                          \
    } while (0)

static inline int test_done(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
