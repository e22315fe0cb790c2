/*
 * libFuzzer target for the WebSocket reader (src/net/ws/ws_codec.c).
 *
 * The input is one byte of options followed by a byte stream. The stream is run through a
 * server-mode and a client-mode reader, each twice: fed whole, and in chunks whose sizes
 * come from the option byte (1..16 bytes). Both feedings must produce the same events and
 * the same final error; the reader must never claim to consume more than it was given, and
 * every delivered text message must be valid UTF-8. A violation traps, so the fuzzer reports
 * it; the corpus replay test (tests/unit/ws/test_ws_corpus.c) calls fuzz_ws_reader_run and
 * checks its result instead.
 *
 * Build: clang -g -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_ws_reader.c
 *        src/net/ws/ws_codec.c src/base/buf.c src/base/alloc.c -lcrypto
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A rolling digest of everything a feeding produced. */
struct fuzz_ws_digest {
    uint64_t hash;
    size_t events;
    int final_rc;
    uint16_t close_code;
    bool bad; /* an invariant was broken */
};

static void fuzz_ws_mix(struct fuzz_ws_digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        d->hash = (d->hash ^ b[i]) * 1099511628211ULL;
    }
}

static void fuzz_ws_feed(const uint8_t *in, size_t len, bool server, size_t chunk,
                         struct fuzz_ws_digest *d)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        d->bad = true;
        return;
    }
    if (len) {
        memcpy(copy, in, len);
    }
    struct ws_reader r;
    ws_reader_init(&r, server, 4096);
    memset(d, 0, sizeof(*d));
    d->hash = 14695981039346656037ULL;
    size_t pos = 0;
    while (pos < len && d->final_rc >= 0) {
        size_t end = chunk && len - pos > chunk ? pos + chunk : len;
        while (pos < end) {
            size_t used = 0;
            struct ws_event ev;
            uint16_t code = 0;
            int rc = ws_reader_feed(&r, copy + pos, end - pos, &used, &ev, &code);
            if (used > end - pos) {
                d->bad = true;
                goto out;
            }
            pos += used;
            if (rc < 0) {
                d->final_rc = rc;
                d->close_code = code;
                if (code != 1002 && code != 1007 && code != 1009) {
                    d->bad = true;
                }
                break;
            }
            if (rc == 0) {
                if (pos != end) {
                    d->bad = true;
                    goto out;
                }
                break;
            }
            if (!ev.data || (ev.type == WS_EV_TEXT && ws_utf8_step(0, ev.data, ev.len) != 0)) {
                d->bad = true;
            }
            d->events++;
            fuzz_ws_mix(d, &ev.type, sizeof(ev.type));
            fuzz_ws_mix(d, &ev.len, sizeof(ev.len));
            fuzz_ws_mix(d, &ev.close_code, sizeof(ev.close_code));
            fuzz_ws_mix(d, ev.data, ev.len);
        }
    }
out:
    ws_reader_release(&r);
    free(copy);
}

/* Returns 0 when every invariant held, -1 otherwise. */
static int fuzz_ws_reader_run(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t chunk = (size_t)(data[0] & 0x0F) + 1;
    for (int server = 0; server < 2; server++) {
        struct fuzz_ws_digest whole, pieces;
        fuzz_ws_feed(data + 1, size - 1, server, 0, &whole);
        fuzz_ws_feed(data + 1, size - 1, server, chunk, &pieces);
        if (whole.bad || pieces.bad || whole.hash != pieces.hash || whole.events != pieces.events ||
            whole.final_rc != pieces.final_rc || whole.close_code != pieces.close_code) {
            return -1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_ws_reader_run(data, size) != 0) {
        __builtin_trap();
    }
    return 0;
}
