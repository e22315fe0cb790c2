/*
 * Randomness from the operating system's CSPRNG (libsodium's randombytes); never rand().
 */
#ifndef SB_BASE_RAND_H
#define SB_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

void rand_bytes(void *out, size_t len);
/* Uniform in [0, upper). */
uint32_t rand_uniform(uint32_t upper);
/* A random (version 4) UUID in lower-case canonical form. */
void uuid_v4(char out[UUID_STR_LEN]);
/* A time-ordered (version 7, RFC 9562) UUID: 48 bits of Unix milliseconds, then random bits.
 * Rows of append-only logs get these, so that their inserts land on the last pages of the id
 * index instead of a random page each. */
void uuid_v7(char out[UUID_STR_LEN]);
/* True when s is a canonical UUID string (any version, either case). */
int uuid_is_valid(const char *s);

#endif
