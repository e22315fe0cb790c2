/*
 * Random bytes and UUIDs, backed by libsodium (initialised lazily; sodium_init is
 * idempotent and thread-safe).
 */
#include "base/rand.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

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

void uuid_v4(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    rand_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
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
