/*
 * libFuzzer target for the Phoenix message codec (src/realtime/phx.c).
 *
 * The first input byte picks the decoder (low two bits: 0 = vsn 1 text, 1 = vsn 2 text,
 * 2 and 3 = vsn 2 binary); the rest is the frame, handed over as an exact-size heap copy so
 * AddressSanitizer sees any read past its length. Invariants (abort when broken):
 * - a failed decode leaves the message zeroed;
 * - a decoded message has a topic of 1..PHX_MAX_NAME bytes, an event (1..PHX_MAX_NAME for
 *   text frames), refs of at most PHX_MAX_NAME bytes, no NUL inside any of them, and an
 *   object payload;
 * - text round trip: phx_encode_text(decoded fields, compact payload) decodes again with the
 *   same vsn to the same fields and an equal payload (vsn 1 never carries join_ref), and
 *   equals phx_encode_prefix + payload + phx_suffix byte for byte;
 * - the pre-scan depth limit: the payload nests at most PHX_MAX_DEPTH - 1 levels;
 * - binary round trip: re-encoding a decoded kind 3 frame from its fields gives back the
 *   input bytes exactly; the kind 4 frame phx_encode_broadcast_binary makes from it holds
 *   the same topic, event, metadata and payload; the payload, sent as a vsn 2 text frame,
 *   decodes again (the binary payload limit keeps it within the text frame depth limit).
 * Replayed by tests/unit/realtime/test_phx_corpus.c over fuzz/corpus/phx/.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "fuzz.h"
#include "realtime/phx.h"

static int fuzz_phx_depth(const json_t *v)
{
    int max = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = fuzz_phx_depth(json_array_get(v, i));
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            int d = fuzz_phx_depth(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

static bool fuzz_phx_zeroed(const struct phx_msg *m)
{
    static const struct phx_msg zero;
    return memcmp(m, &zero, sizeof zero) == 0;
}

/* s is NULL or a string of at most max bytes; at least min bytes when not NULL. */
static bool fuzz_phx_name(const char *s, size_t min, size_t max)
{
    if (!s) {
        return min == 0;
    }
    size_t n = strlen(s);
    return n >= min && n <= max;
}

static bool fuzz_phx_streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Encode m as a text frame of vsn and check that it decodes to the same message. */
static void fuzz_phx_text_round_trip(int vsn, const struct phx_msg *m)
{
    size_t plen = 0;
    char *payload = json_encode(m->payload, &plen);
    size_t flen = 0;
    char *frame = phx_encode_text(vsn, m->join_ref, m->ref, m->topic, m->event, payload, &flen);
    FUZZ_ASSERT(frame != NULL && strlen(frame) == flen);

    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    int n = phx_encode_prefix(vsn, m->join_ref, m->ref, m->topic, m->event, &b);
    FUZZ_ASSERT(n > 0 && (size_t)n == b.len);
    FUZZ_ASSERT(buf_append(&b, payload, plen) == 0 && buf_puts(&b, phx_suffix(vsn)) == 0);
    FUZZ_ASSERT(b.len == flen && memcmp(b.data, frame, flen) == 0);
    buf_release(&b);

    char *exact = fuzz_copy(frame, flen);
    struct phx_msg again;
    FUZZ_ASSERT(phx_decode_text(vsn, exact, flen, &again) == 0);
    FUZZ_ASSERT(fuzz_phx_streq(again.join_ref, vsn == 2 ? m->join_ref : NULL));
    FUZZ_ASSERT(fuzz_phx_streq(again.ref, m->ref));
    FUZZ_ASSERT(fuzz_phx_streq(again.topic, m->topic));
    FUZZ_ASSERT(fuzz_phx_streq(again.event, m->event));
    FUZZ_ASSERT(json_equal(again.payload, m->payload));
    FUZZ_ASSERT(!again.binary_broadcast);
    phx_msg_release(&again);
    free(exact);
    free(frame);
    free(payload);
}

static void fuzz_phx_text(int vsn, const char *frame, size_t len)
{
    struct phx_msg m;
    memset(&m, 0xa5, sizeof m);
    if (phx_decode_text(vsn, frame, len, &m) != 0) {
        FUZZ_ASSERT(fuzz_phx_zeroed(&m));
        phx_msg_release(&m);
        return;
    }
    FUZZ_ASSERT(fuzz_phx_name(m.topic, 1, PHX_MAX_NAME));
    FUZZ_ASSERT(fuzz_phx_name(m.event, 1, PHX_MAX_NAME));
    FUZZ_ASSERT(fuzz_phx_name(m.join_ref, 0, PHX_MAX_NAME));
    FUZZ_ASSERT(fuzz_phx_name(m.ref, 0, PHX_MAX_NAME));
    FUZZ_ASSERT(json_is_object(m.payload));
    FUZZ_ASSERT(fuzz_phx_depth(m.payload) <= PHX_MAX_DEPTH - 1);
    FUZZ_ASSERT(!m.binary_broadcast && !m.bc_event && !m.bc_meta && !m.bc_payload);
    fuzz_phx_text_round_trip(vsn, &m);
    fuzz_phx_text_round_trip(vsn == 1 ? 2 : 1, &m);
    phx_msg_release(&m);
}

static void fuzz_phx_binary(const uint8_t *frame, size_t len)
{
    struct phx_msg m;
    memset(&m, 0xa5, sizeof m);
    if (phx_decode_binary(frame, len, &m) != 0) {
        FUZZ_ASSERT(fuzz_phx_zeroed(&m));
        phx_msg_release(&m);
        return;
    }
    FUZZ_ASSERT(m.binary_broadcast && fuzz_phx_streq(m.event, "broadcast"));
    FUZZ_ASSERT(fuzz_phx_name(m.topic, 1, PHX_MAX_NAME));
    FUZZ_ASSERT(fuzz_phx_name(m.bc_event, 0, PHX_MAX_NAME));
    FUZZ_ASSERT(m.bc_meta && strlen(m.bc_meta) <= PHX_MAX_NAME);
    /* An empty ref in a binary frame is NULL, so a present one is never empty. */
    FUZZ_ASSERT(!m.join_ref || fuzz_phx_name(m.join_ref, 1, PHX_MAX_NAME));
    FUZZ_ASSERT(!m.ref || fuzz_phx_name(m.ref, 1, PHX_MAX_NAME));
    FUZZ_ASSERT(m.bc_encoding == PHX_ENC_BINARY || m.bc_encoding == PHX_ENC_JSON);
    FUZZ_ASSERT(json_is_object(m.payload));
    FUZZ_ASSERT(fuzz_phx_streq(json_string_value(json_object_get(m.payload, "type")), "broadcast"));
    FUZZ_ASSERT(fuzz_phx_streq(json_string_value(json_object_get(m.payload, "event")), m.bc_event));
    FUZZ_ASSERT((json_object_get(m.payload, "payload") != NULL) == (m.bc_encoding == PHX_ENC_JSON));

    /* Kind 3 again from the decoded fields: the same bytes. */
    const char *fields[5] = {m.join_ref ? m.join_ref : "", m.ref ? m.ref : "", m.topic, m.bc_event,
                             m.bc_meta};
    size_t hdr = 7, total = hdr + m.bc_payload_len;
    for (int i = 0; i < 5; i++) {
        total += strlen(fields[i]);
    }
    FUZZ_ASSERT(total == len);
    uint8_t *re = malloc(total);
    FUZZ_ASSERT(re != NULL);
    re[0] = PHX_BIN_PUSH;
    re[6] = (uint8_t)m.bc_encoding;
    size_t off = hdr;
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(fields[i]);
        re[1 + i] = (uint8_t)n;
        memcpy(re + off, fields[i], n);
        off += n;
    }
    if (m.bc_payload_len) {
        memcpy(re + off, m.bc_payload, m.bc_payload_len);
    }
    FUZZ_ASSERT(memcmp(re, frame, len) == 0);
    free(re);

    /* Kind 4 for the fan-out: kind, lengths, encoding, then the same fields. */
    size_t blen = 0;
    uint8_t *bc = phx_encode_broadcast_binary(m.topic, m.bc_event, m.bc_meta, m.bc_payload,
                                              m.bc_payload_len, m.bc_encoding, &blen);
    FUZZ_ASSERT(bc != NULL);
    size_t lt = strlen(m.topic), le = strlen(m.bc_event), lm = strlen(m.bc_meta);
    FUZZ_ASSERT(blen == 5 + lt + le + lm + m.bc_payload_len);
    FUZZ_ASSERT(bc[0] == PHX_BIN_BROADCAST && bc[1] == lt && bc[2] == le && bc[3] == lm &&
                bc[4] == m.bc_encoding);
    FUZZ_ASSERT(memcmp(bc + 5, m.topic, lt) == 0 && memcmp(bc + 5 + lt, m.bc_event, le) == 0 &&
                memcmp(bc + 5 + lt + le, m.bc_meta, lm) == 0);
    FUZZ_ASSERT(m.bc_payload_len == 0 ||
                memcmp(bc + 5 + lt + le + lm, m.bc_payload, m.bc_payload_len) == 0);
    free(bc);

    /* The same broadcast as a text frame (what a vsn 1 subscriber gets). */
    FUZZ_ASSERT(fuzz_phx_depth(m.payload) <= PHX_MAX_DEPTH - 1);
    fuzz_phx_text_round_trip(2, &m);
    fuzz_phx_text_round_trip(1, &m);
    phx_msg_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    int mode = data[0] & 3;
    char *frame = fuzz_copy(data + 1, size - 1);
    if (mode < 2) {
        fuzz_phx_text(mode + 1, frame, size - 1);
    } else {
        fuzz_phx_binary((const uint8_t *)frame, size - 1);
    }
    free(frame);
    return 0;
}
