/*
 * RFC 6455 framing without I/O.
 *
 * The reader is a two-state machine: RD_HEADER collects the 2..14 header bytes into hdr[]
 * (hdr_need grows from 2 to the full length once the second byte tells whether an extended
 * length and a mask key follow), RD_PAYLOAD consumes payload_len bytes. Every check that the
 * first two bytes allow is made as soon as they arrive; the length checks (minimal encoding,
 * high bit, 1009) as soon as the header is complete, so an oversized message is refused
 * before one byte of it is buffered.
 *
 * Payload goes to one of three places:
 * - control frames (<= 125 bytes) into control[], unmasked there;
 * - a single-frame data message whose payload is entirely in the caller's input is unmasked
 *   in place and delivered pointing into the input (no copy: the common case);
 * - anything else (fragments, payloads split across feeds) is appended to message, a buf
 *   capped at max_message, and unmasked there.
 * Text is validated chunk by chunk with ws_utf8_step, so a bad byte fails the message when it
 * arrives, not when the message ends. The assembled message stays valid until the next feed:
 * it is only reset when the next message starts.
 *
 * Errors are sticky: error_code remembers the close code, the state becomes RD_FAILED.
 */
#include "net/ws/ws_codec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/err.h"

enum { RD_HEADER = 0, RD_PAYLOAD, RD_FAILED };

static const uint8_t empty_payload[1] = {0};

void ws_reader_init(struct ws_reader *self, bool server, size_t max_message)
{
    memset(self, 0, sizeof(*self));
    self->server = server;
    self->state = RD_HEADER;
    self->hdr_need = 2;
    buf_init(&self->message, max_message ? max_message : (size_t)1 << 20);
}

void ws_reader_release(struct ws_reader *self)
{
    buf_release(&self->message);
    free(self->control);
    self->control = NULL;
}

static bool is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

/* Record a fatal error: the reader stays failed and reports the same code if fed again. */
static int fail(struct ws_reader *self, uint16_t code, uint16_t *close_code)
{
    self->state = RD_FAILED;
    self->error_code = code;
    *close_code = code;
    return code == WS_CLOSE_TOO_BIG ? SB_E_TOOBIG : SB_E_PROTO;
}

/* Checks possible once the first two header bytes are known; 0 or a close code. */
static uint16_t check_first_bytes(struct ws_reader *self)
{
    uint8_t b0 = self->hdr[0], b1 = self->hdr[1];
    bool fin = (b0 & 0x80) != 0;
    uint8_t opcode = b0 & 0x0F;
    bool masked = (b1 & 0x80) != 0;
    uint8_t len7 = b1 & 0x7F;

    if (b0 & 0x70) {
        return WS_CLOSE_PROTOCOL; /* RSV1-3: no extension was negotiated */
    }
    switch (opcode) {
    case WS_OP_CONT:
        if (!self->msg_opcode) {
            return WS_CLOSE_PROTOCOL;
        }
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (self->msg_opcode) {
            return WS_CLOSE_PROTOCOL;
        }
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!fin || len7 > 125) {
            return WS_CLOSE_PROTOCOL;
        }
        if (opcode == WS_OP_CLOSE && len7 == 1) {
            return WS_CLOSE_PROTOCOL;
        }
        break;
    default:
        return WS_CLOSE_PROTOCOL;
    }
    if (masked != self->server) {
        return WS_CLOSE_PROTOCOL;
    }
    self->fin = fin;
    self->opcode = opcode;
    self->masked = masked;
    self->hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0));
    return 0;
}

/* Checks on the complete header (length encoding, size limit); 0 or a close code. */
static uint16_t check_full_header(struct ws_reader *self)
{
    uint8_t len7 = self->hdr[1] & 0x7F;
    size_t pos = 2;
    uint64_t len = len7;

    if (len7 == 126) {
        len = (uint64_t)self->hdr[2] << 8 | self->hdr[3];
        pos = 4;
        if (len < 126) {
            return WS_CLOSE_PROTOCOL;
        }
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 0; i < 8; i++) {
            len = len << 8 | self->hdr[2 + i];
        }
        pos = 10;
        if (len >> 63 || len <= 0xFFFF) {
            return WS_CLOSE_PROTOCOL;
        }
    }
    if (self->masked) {
        memcpy(self->mask, self->hdr + pos, 4);
    }
    if (!is_control(self->opcode)) {
        /* A new message starts empty; a continuation adds to what is buffered. */
        size_t have = self->opcode == WS_OP_CONT ? self->message.len : 0;
        if (len > self->message.max_len - have) {
            return WS_CLOSE_TOO_BIG;
        }
        if (self->opcode != WS_OP_CONT) {
            self->msg_opcode = self->opcode;
            self->utf8_state = 0;
            buf_reset(&self->message);
        }
    }
    self->payload_len = len;
    self->payload_done = 0;
    self->control_len = 0;
    if (is_control(self->opcode) && len && !self->control) {
        self->control = malloc(125);
        if (!self->control) {
            return WS_CLOSE_INTERNAL;
        }
    }
    return 0;
}

/* Validate a text chunk; 0 or 1007. */
static uint16_t check_text(struct ws_reader *self, const uint8_t *p, size_t n)
{
    if (self->msg_opcode != WS_OP_TEXT) {
        return 0;
    }
    self->utf8_state = ws_utf8_step(self->utf8_state, p, n);
    return self->utf8_state == 1 ? WS_CLOSE_BAD_DATA : 0;
}

/* Payload chunk of the current frame (already known to fit); 0 or a close code. */
static uint16_t take_payload(struct ws_reader *self, const uint8_t *p, size_t n)
{
    size_t off = (size_t)self->payload_done;
    uint8_t *dst;

    if (is_control(self->opcode)) {
        memcpy(self->control + off, p, n);
        dst = self->control + off;
    } else {
        dst = (uint8_t *)buf_reserve(&self->message, n);
        if (!dst) {
            return WS_CLOSE_TOO_BIG; /* cannot happen: the header check bounds the total */
        }
        memcpy(dst, p, n);
        buf_commit(&self->message, n);
    }
    if (self->masked) {
        ws_mask(dst, n, self->mask, off);
    }
    self->payload_done += n;
    if (is_control(self->opcode)) {
        self->control_len = (uint8_t)(self->control_len + n);
        return 0;
    }
    return check_text(self, dst, n);
}

/*
 * The current frame is complete: fill ev and return 1 if it ends an event, 0 if not (a
 * non-final fragment), or a close code (as a negative number) for a bad close payload.
 */
static int finish_frame(struct ws_reader *self, struct ws_event *ev)
{
    self->state = RD_HEADER;
    self->hdr_len = 0;
    self->hdr_need = 2;
    switch (self->opcode) {
    case WS_OP_PING:
    case WS_OP_PONG:
        ev->type = self->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
        ev->data = self->control_len ? self->control : empty_payload;
        ev->len = self->control_len;
        return 1;
    case WS_OP_CLOSE:
        ev->type = WS_EV_CLOSE;
        if (self->control_len == 0) {
            ev->close_code = WS_CLOSE_NO_STATUS;
            ev->data = empty_payload;
            ev->len = 0;
            return 1;
        }
        ev->close_code = (uint16_t)(self->control[0] << 8 | self->control[1]);
        if (!ws_close_code_is_valid(ev->close_code)) {
            return -WS_CLOSE_PROTOCOL;
        }
        ev->data = self->control + 2;
        ev->len = self->control_len - 2;
        if (ws_utf8_step(0, ev->data, ev->len) != 0) {
            return -WS_CLOSE_BAD_DATA;
        }
        return 1;
    default:
        break;
    }
    if (!self->fin) {
        return 0;
    }
    if (self->msg_opcode == WS_OP_TEXT && self->utf8_state != 0) {
        return -WS_CLOSE_BAD_DATA; /* the message ends inside a sequence */
    }
    ev->type = self->msg_opcode == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
    ev->data = self->message.data ? (const uint8_t *)self->message.data : empty_payload;
    ev->len = self->message.len;
    self->msg_opcode = 0;
    return 1;
}

void ws_reader_trim(struct ws_reader *self)
{
    if (self->msg_opcode == 0 && self->message.cap) {
        buf_release(&self->message);
    }
    if (self->control && !(self->state == RD_PAYLOAD && is_control(self->opcode))) {
        free(self->control);
        self->control = NULL;
    }
}

bool ws_reader_idle(const struct ws_reader *self)
{
    return self->state == RD_HEADER && self->hdr_len == 0 && self->msg_opcode == 0 &&
           !self->control && !self->message.cap;
}

int ws_reader_feed(struct ws_reader *self, uint8_t *data, size_t len, size_t *consumed,
                   struct ws_event *ev, uint16_t *close_code)
{
    size_t pos = 0;
    uint16_t code = 0;
    int rc = 0;

    memset(ev, 0, sizeof(*ev));
    *consumed = 0;
    if (self->state == RD_FAILED) {
        *close_code = self->error_code;
        return self->error_code == WS_CLOSE_TOO_BIG ? SB_E_TOOBIG : SB_E_PROTO;
    }
    for (;;) {
        if (self->state == RD_HEADER) {
            if (pos == len) {
                break;
            }
            size_t n = self->hdr_need - self->hdr_len;
            if (n > len - pos) {
                n = len - pos;
            }
            memcpy(self->hdr + self->hdr_len, data + pos, n);
            self->hdr_len = (uint8_t)(self->hdr_len + n);
            pos += n;
            if (self->hdr_len == 2 && (code = check_first_bytes(self)) != 0) {
                goto out_fail;
            }
            if (self->hdr_len < self->hdr_need) {
                continue;
            }
            if ((code = check_full_header(self)) != 0) {
                goto out_fail;
            }
            self->state = RD_PAYLOAD;
        }

        uint64_t remaining = self->payload_len - self->payload_done;
        size_t avail = len - pos;
        bool whole_message = !is_control(self->opcode) && self->opcode != WS_OP_CONT && self->fin;

        if (whole_message && self->payload_done == 0 && avail >= remaining) {
            /* Zero-copy: unmask in the caller's buffer and point the event at it. */
            uint8_t *p = data + pos;
            size_t n = (size_t)remaining;
            if (self->masked) {
                ws_mask(p, n, self->mask, 0);
            }
            if ((code = check_text(self, p, n)) != 0) {
                goto out_fail;
            }
            pos += n;
            rc = finish_frame(self, ev);
            if (rc < 0) {
                code = (uint16_t)-rc;
                goto out_fail;
            }
            ev->data = n ? p : empty_payload;
            ev->len = n;
            *consumed = pos;
            return 1;
        }
        size_t n = remaining < avail ? (size_t)remaining : avail;
        if (n > 0 && (code = take_payload(self, data + pos, n)) != 0) {
            pos += n;
            goto out_fail;
        }
        pos += n;
        if (self->payload_done < self->payload_len) {
            break; /* need more input */
        }
        rc = finish_frame(self, ev);
        if (rc < 0) {
            code = (uint16_t)-rc;
            goto out_fail;
        }
        if (rc == 1) {
            *consumed = pos;
            return 1;
        }
    }
    *consumed = pos;
    return 0;

out_fail:
    *consumed = pos;
    memset(ev, 0, sizeof(*ev));
    return fail(self, code, close_code);
}

size_t ws_frame_header(uint8_t out[14], bool fin, enum ws_opcode opcode, uint64_t len,
                       const uint8_t *mask)
{
    size_t n = 2;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    out[1] = mask ? 0x80 : 0;
    if (len < 126) {
        out[1] |= (uint8_t)len;
    } else if (len <= 0xFFFF) {
        out[1] |= 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] |= 127;
        for (size_t i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        }
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < len; i++) {
        data[i] ^= mask[(offset + i) & 3];
    }
}

void ws_accept_key(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, key_len) ||
        !EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) ||
        !EVP_DigestFinal_ex(ctx, digest, &digest_len) || digest_len != 20) {
        /* Only out of memory gets here; an empty accept value fails the handshake. */
        out[0] = '\0';
        EVP_MD_CTX_free(ctx);
        return;
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    out[28] = '\0';
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

bool ws_key_is_valid(const char *key, size_t key_len)
{
    if (!key || key_len != 24 || key[22] != '=' || key[23] != '=') {
        return false;
    }
    for (size_t i = 0; i < 22; i++) {
        if (!is_base64_char(key[i])) {
            return false;
        }
    }
    return true;
}

/*
 * States: 0 accept, 1 reject, 2/3/4 need 1/2/3 more continuation bytes (80..BF), and four
 * states whose next byte has a narrower range: 5 after E0 (A0..BF: no overlong), 6 after ED
 * (80..9F: no surrogates), 7 after F0 (90..BF: no overlong), 8 after F4 (80..8F: <= U+10FFFF).
 */
uint32_t ws_utf8_step(uint32_t state, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        switch (state) {
        case 0:
            if (b < 0x80) {
                state = 0;
            } else if (b >= 0xC2 && b <= 0xDF) {
                state = 2;
            } else if (b == 0xE0) {
                state = 5;
            } else if (b == 0xED) {
                state = 6;
            } else if (b >= 0xE1 && b <= 0xEF) {
                state = 3;
            } else if (b == 0xF0) {
                state = 7;
            } else if (b >= 0xF1 && b <= 0xF3) {
                state = 4;
            } else if (b == 0xF4) {
                state = 8;
            } else {
                return 1;
            }
            break;
        case 2:
        case 3:
        case 4:
            if (b < 0x80 || b > 0xBF) {
                return 1;
            }
            state = state == 2 ? 0 : state - 1;
            break;
        case 5:
            if (b < 0xA0 || b > 0xBF) {
                return 1;
            }
            state = 2;
            break;
        case 6:
            if (b < 0x80 || b > 0x9F) {
                return 1;
            }
            state = 2;
            break;
        case 7:
            if (b < 0x90 || b > 0xBF) {
                return 1;
            }
            state = 3;
            break;
        case 8:
            if (b < 0x80 || b > 0x8F) {
                return 1;
            }
            state = 3;
            break;
        default:
            return 1;
        }
    }
    return state;
}

bool ws_close_code_is_valid(uint16_t code)
{
    if (code >= 3000 && code <= 4999) {
        return true;
    }
    /* 1004 reserved, 1005/1006 never on the wire, 1015 TLS only; 1012-1014 are registered. */
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}
