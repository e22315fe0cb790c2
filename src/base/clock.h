/*
 * Time: wall clock in milliseconds since the epoch, a monotonic clock, and RFC 3339 UTC with
 * milliseconds ("2026-11-25T10:00:00.000Z"), the only time format of the API.
 */
#ifndef SB_BASE_CLOCK_H
#define SB_BASE_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#define CLOCK_RFC3339_LEN 25 /* 24 characters and the NUL */

/* Milliseconds since the Unix epoch (wall clock). */
int64_t clock_now_ms(void);
/* Milliseconds from an arbitrary origin, never going backwards. */
int64_t clock_mono_ms(void);
/* A condition variable whose timed waits run on the monotonic clock, so a step of the wall
 * clock (NTP at boot, an operator's date) neither stalls nor hurries a waiting thread. */
void clock_cond_init(pthread_cond_t *cond);
/* Wait on cond (initialised by clock_cond_init, mu held) for at most ms milliseconds; wakes
 * early on a signal or spuriously, like pthread_cond_timedwait. */
void clock_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);
/* Format ms as RFC 3339 UTC with milliseconds into out (CLOCK_RFC3339_LEN bytes). */
void clock_format_ms(int64_t ms, char out[CLOCK_RFC3339_LEN]);
/* Parse RFC 3339 (Z or +hh:mm offset, optional fraction); 0 or SB_E_INVAL. */
int clock_parse_ms(const char *s, int64_t *out_ms);

#endif
