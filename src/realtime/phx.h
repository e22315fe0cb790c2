/*
 * The Phoenix channel message codec spoken by @supabase/realtime-js (reference
 * realtime-protocol.md §2.2, §2.3): bytes in, struct phx_msg out, and back. I/O-free, no
 * globals, no server types; every function may be called from any thread.
 *
 * Serializer vsn 1 ("1.0.0") frames are JSON objects {topic,event,payload,ref,join_ref};
 * vsn 2 ("2.0.0") text frames are JSON arrays [join_ref, ref, topic, event, payload] and
 * client broadcasts arrive as binary kind 3 frames; the server may answer broadcasts with
 * binary kind 4 frames.
 *
 * Decoding is strict: a frame that does not have exactly the shape above is SB_E_PROTO and
 * the caller closes the connection. Limits: topic, event, join_ref, ref at most
 * PHX_MAX_NAME bytes (topic and event also at least one byte); JSON nesting at most
 * PHX_MAX_DEPTH levels, counting the frame's own array/object as level 1; duplicate object
 * keys rejected anywhere; the payload of every text frame is a JSON object.
 *
 * Encoding takes the payload as already-encoded JSON text, so a fan-out encodes an event's
 * data once: phx_encode_prefix() + shared payload + phx_suffix() is a complete frame, and
 * phx_encode_text() is exactly that concatenation.
 */
#ifndef SB_REALTIME_PHX_H
#define SB_REALTIME_PHX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PHX_MAX_NAME 255 /* topic, event, refs: one length byte in binary frames */
#define PHX_MAX_DEPTH 64 /* DESIGN §8: JSON depth 64 */

#define PHX_BIN_PUSH 3      /* user_broadcast_push, client -> server */
#define PHX_BIN_BROADCAST 4 /* user_broadcast, server -> client */

enum phx_encoding {
    PHX_ENC_BINARY = 0, /* raw bytes (an ArrayBuffer on the client) */
    PHX_ENC_JSON = 1,   /* JSON text */
};

/*
 * One decoded message. Every pointer is owned by the message (phx_msg_release frees them).
 * join_ref and ref are NULL when the frame carried null (or, in vsn 1, no such key; in a
 * binary frame, an empty string). payload is always a JSON object after a successful decode.
 *
 * For a binary kind 3 push, binary_broadcast is true, event is "broadcast" and payload is
 * {"type":"broadcast","event":<bc_event>,"payload":<parsed JSON>} when bc_encoding is
 * PHX_ENC_JSON, or {"type":"broadcast","event":<bc_event>} without a "payload" key when it
 * is PHX_ENC_BINARY (the bytes cannot be JSON). bc_payload holds a copy of the raw user
 * payload bytes in both cases, so a kind 4 fan-out can reuse them without re-encoding;
 * bc_meta is the metadata text ("" when empty, else a JSON object).
 */
struct phx_msg {
    char *join_ref;
    char *ref;
    char *topic;
    char *event;
    json_t *payload;
    bool binary_broadcast;
    char *bc_event;
    char *bc_meta;
    uint8_t *bc_payload;
    size_t bc_payload_len;
    int bc_encoding; /* enum phx_encoding */
};

/*
 * Decode a text frame of serializer vsn (1 or 2) into out (caller storage; overwritten).
 * Returns 0, or SB_E_PROTO (out then holds nothing to release, but releasing it is safe).
 */
int phx_decode_text(int vsn, const char *data, size_t len, struct phx_msg *out)
    __attribute__((warn_unused_result));

/*
 * Decode a vsn 2 binary frame. Only kind 3 (user_broadcast_push) is accepted; every length
 * byte is checked against len, names must be valid UTF-8 without NUL bytes, a JSON payload
 * must parse (any JSON value, depth limit applies) and metadata must be empty or a JSON
 * object. Returns 0 or SB_E_PROTO, like phx_decode_text.
 */
int phx_decode_binary(const uint8_t *data, size_t len, struct phx_msg *out)
    __attribute__((warn_unused_result));

/* Free everything the message owns and zero it; safe on a zeroed or failed message. */
void phx_msg_release(struct phx_msg *self);

/*
 * Append to out the part of a text frame before the payload:
 *   vsn 2: [join_ref,ref,"topic","event",
 *   vsn 1: {"topic":"topic","event":"event","ref":ref,"payload":
 * (NULL join_ref/ref become null; vsn 1 never carries join_ref, per the V1 serializer).
 * Strings are JSON-escaped; they must be valid UTF-8 (they come from decoded frames or
 * from the server itself). Returns the number of bytes appended, or SB_E_TOOBIG (out
 * unchanged) or SB_E_INVAL (vsn not 1 or 2, topic or event NULL).
 */
int phx_encode_prefix(int vsn, const char *join_ref, const char *ref, const char *topic,
                      const char *event, struct buf *out) __attribute__((warn_unused_result));

/* What follows the payload to close the frame: "]" for vsn 2, "}" for vsn 1. */
const char *phx_suffix(int vsn);

/*
 * The whole frame in one call: prefix + payload_json + suffix. payload_json is JSON text
 * (NULL means "{}"), copied verbatim. Returns an xmalloc'd NUL-terminated string (caller
 * frees) with its length in *len_out (if not NULL), or NULL when vsn is not 1 or 2 or
 * topic/event is NULL.
 */
char *phx_encode_text(int vsn, const char *join_ref, const char *ref, const char *topic,
                      const char *event, const char *payload_json, size_t *len_out);

/*
 * A vsn 2 binary kind 4 broadcast: kind, len(topic), len(event), len(meta), encoding,
 * topic, event, meta, payload. meta_json may be NULL (empty). Returns an xmalloc'd buffer
 * (caller frees) with its length in *len_out, or NULL when topic, event or meta is longer
 * than PHX_MAX_NAME bytes or encoding is not 0 or 1.
 */
uint8_t *phx_encode_broadcast_binary(const char *topic, const char *event, const char *meta_json,
                                     const uint8_t *payload, size_t payload_len, int encoding,
                                     size_t *len_out);

/*
 * The payload of a phx_reply: {"status":<status>,"response":<response>} as compact JSON.
 * status is a non-NULL ASCII string ("ok", "error"); response is borrowed (NULL means {}).
 * Returns a string the caller frees with free(); NULL only when out of memory.
 */
char *phx_reply_payload(const char *status, json_t *response);

#endif
