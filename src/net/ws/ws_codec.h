/*
 * WebSocket (RFC 6455) framing, I/O-free: bytes in, messages and control events out; and
 * frame headers out for the sender. No globals, no server types, so the SDK (client side,
 * unmasked frames in, masked out) reuses it and fuzzers drive it.
 *
 * The reader enforces: reserved bits clear (no extensions are negotiated), known opcodes,
 * control frames with FIN set and payload <= 125 bytes, masking (server mode requires every
 * frame masked, client mode requires none), continuation frames only inside a fragmented
 * message and data frames not inside one, the 64-bit length's high bit clear and minimal
 * length encoding, UTF-8 validity of text messages (checked incrementally, so a bad sequence
 * fails fast even across fragments), close payloads (length 1 is invalid, codes must be
 * valid to send, reason must be UTF-8), and the message size limit (1009).
 */
#ifndef SB_NET_WS_CODEC_H
#define SB_NET_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes we send. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never sent; reported when a close frame had no code */
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013,
    /* Application codes (4000-4999), documented in docs/realtime.md. */
    WS_CLOSE_SLOW_CONSUMER = 4008, /* outbound queue exceeded its cap; reconnect and resume */
    WS_CLOSE_AUTH = 4001,          /* token expired or revoked */
};

enum ws_event_type {
    WS_EV_NONE = 0,
    WS_EV_TEXT,   /* a complete, UTF-8 valid text message */
    WS_EV_BINARY, /* a complete binary message */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE, /* peer's close frame: code (WS_CLOSE_NO_STATUS if none) and reason */
};

struct ws_event {
    enum ws_event_type type;
    const uint8_t *data; /* message payload or control payload; valid until the next feed */
    size_t len;
    uint16_t close_code; /* WS_EV_CLOSE only */
};

struct ws_reader {
    /* All private; ordered to pack (one reader per connection). */
    struct buf message; /* assembled data message; max_len is the message limit */
    uint64_t payload_len;
    uint64_t payload_done;
    uint8_t *control; /* 125 bytes, allocated for a control frame with a payload; freed by
                       * ws_reader_trim and ws_reader_release */
    uint32_t utf8_state;
    uint16_t error_code; /* close code of the error that stopped the reader, 0 if none */
    uint8_t hdr[14];
    uint8_t hdr_len;
    uint8_t hdr_need;
    uint8_t state;
    uint8_t opcode;
    uint8_t msg_opcode; /* opcode of the fragmented message in progress, 0 if none */
    uint8_t control_len;
    uint8_t mask[4];
    bool server : 1; /* true: frames must be masked */
    bool fin : 1;
    bool masked : 1;
};

void ws_reader_init(struct ws_reader *self, bool server, size_t max_message);
void ws_reader_release(struct ws_reader *self);

/*
 * Feed data[0..len). Stops at the first complete event: returns 1 with *ev filled and
 * *consumed set to the bytes used (call again with the rest), 0 when all input was consumed
 * without completing an event, or a negative SB_E_PROTO / SB_E_TOOBIG with *close_code set to
 * the code to close with (1002, 1007 or 1009). After an error the reader must not be fed
 * (if it is, it repeats the error and consumes nothing).
 *
 * data is writable because the reader unmasks in place: a single-frame message whose payload
 * is wholly inside data is delivered without a copy, ev->data pointing into data. Bytes
 * before *consumed may therefore have been changed; bytes after it are untouched. ev->data is
 * never NULL (an empty payload points at an empty string).
 */
int ws_reader_feed(struct ws_reader *self, uint8_t *data, size_t len, size_t *consumed,
                   struct ws_event *ev, uint16_t *close_code);

/* Free the buffers of the last assembled message and control frame when none is in progress
 * (an idle connection then holds no message memory). Events already returned become
 * invalid. */
void ws_reader_trim(struct ws_reader *self);

/* True when the reader is between messages and holds no memory (after ws_reader_trim): its
 * state is then that of ws_reader_init, so a connection may drop it and read the next
 * message with a fresh one. */
bool ws_reader_idle(const struct ws_reader *self);

/*
 * Write a frame header for a payload of len bytes into out (at most 14 bytes); returns the
 * header length. mask is NULL for a server frame, or 4 bytes (client frames); the caller
 * then masks the payload with ws_mask().
 */
size_t ws_frame_header(uint8_t out[14], bool fin, enum ws_opcode opcode, uint64_t len,
                       const uint8_t *mask);

/* XOR data with mask, starting at mask position offset % 4. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (SHA-1, base64): 28 chars and NUL. */
void ws_accept_key(const char *key, size_t key_len, char out[29]);

/* True when key is 24 base64 characters that decode to 16 bytes. */
bool ws_key_is_valid(const char *key, size_t key_len);

/* Incremental UTF-8 validation (Hoehrmann's DFA style). state starts at 0; returns the new
 * state: 0 = accept (complete), 1 = reject, other = inside a sequence. */
uint32_t ws_utf8_step(uint32_t state, const uint8_t *data, size_t len);

/* True when code may appear in a close frame received from a peer: 1000-1003, 1007-1014
 * (1012-1014 are IANA-registered; we send 1013 ourselves) and 3000-4999. */
bool ws_close_code_is_valid(uint16_t code);

#endif
