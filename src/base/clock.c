/*
 * Clock helpers. Formatting uses gmtime_r on whole seconds and prints the milliseconds
 * ourselves; parsing accepts the subset of RFC 3339 that clients send.
 */
#define _POSIX_C_SOURCE 200809L
#include "base/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void clock_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0) {
        ms = 0;
    }
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(cond, mu, &ts);
}

void clock_format_ms(int64_t ms, char out[CLOCK_RFC3339_LEN])
{
    /* The date and time of the last second formatted on this thread: request logs and rows
     * format many times a second, and gmtime_r with snprintf was most of the cost. */
    static _Thread_local int64_t last_sec = INT64_MIN;
    static _Thread_local char last[20]; /* "YYYY-MM-DDTHH:MM:SS" */
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - sec * 1000);
    if (sec != last_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d", (tm.tm_year + 1900) % 10000,
                 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100);
        memcpy(last, tmp, sizeof last - 1);
        last_sec = sec;
    }
    memcpy(out, last, 19);
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int clock_parse_ms(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, se;
    size_t n = strlen(s);
    if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se)) {
        return SB_E_INVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return SB_E_INVAL;
    }
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3) {
                ms = ms * 10 + (*p - '0');
            }
            nd++;
            p++;
        }
        if (nd == 0) {
            return SB_E_INVAL;
        }
        for (; nd < 3; nd++) {
            ms *= 10;
        }
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59) {
            return SB_E_INVAL;
        }
        off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return SB_E_INVAL;
    }
    if (*p != '\0') {
        return SB_E_INVAL;
    }
    int64_t days = days_from_civil(y, mo, d);
    int64_t sec = days * 86400 + h * 3600 + mi * 60 + se - off_min * 60;
    *out_ms = sec * 1000 + ms;
    return 0;
}
