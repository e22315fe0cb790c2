/*
 * Phoenix message codec (see phx.h for the frame shapes).
 *
 * Decoding parses a text frame with jansson (duplicate keys rejected, NUL escapes rejected,
 * UTF-8 checked) after a byte pre-scan that enforces the nesting limit: jansson has no depth
 * option of its own below 2048, and counting '[' and '{' outside strings before parsing
 * refuses a deep frame without building it. For valid JSON the scan is exact; invalid JSON
 * that slips past it is refused by the parser anyway.
 *
 * Binary kind 3 frames are length-prefixed: one header byte per field, each checked against
 * the bytes that remain before anything is read. Names become C strings, so they must be
 * valid UTF-8 without NUL bytes, the same guarantee jansson gives for text frames; the raw
 * user payload is copied so the message owns everything it points to.
 *
 * Encoding writes the frame prefix by hand (escaping strings per RFC 8259) and lets the
 * caller append a payload that was encoded once for all subscribers. vsn 1 frames order
 * their keys topic, event, ref, payload so that the suffix is a constant "}".
 */
#include "realtime/phx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/json.h"

/* Largest frame phx_encode_text builds; the WebSocket layer enforces the real limits. */
#define PHX_ENCODE_MAX ((size_t)1 << 30)

/* True when no '[' or '{' outside a string is nested deeper than max_depth. */
static bool depth_ok(const char *s, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false;
    bool esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                return false;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
static bool utf8_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c == 0) {
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        uint32_t min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n > len - i) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n;
    }
    return true;
}

void phx_msg_release(struct phx_msg *self)
{
    free(self->join_ref);
    free(self->ref);
    free(self->topic);
    free(self->event);
    json_decref(self->payload);
    free(self->bc_event);
    free(self->bc_meta);
    free(self->bc_payload);
    memset(self, 0, sizeof(*self));
}

/* A topic or event: a JSON string of 1..PHX_MAX_NAME bytes. */
static int take_name(json_t *v, char **out)
{
    if (!json_is_string(v)) {
        return SB_E_PROTO;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > PHX_MAX_NAME) {
        return SB_E_PROTO;
    }
    *out = xstrndup(json_string_value(v), n);
    return 0;
}

/* A ref: absent (v == NULL) or null gives NULL, else a string of at most PHX_MAX_NAME bytes. */
static int take_ref(json_t *v, char **out)
{
    if (!v || json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) > PHX_MAX_NAME) {
        return SB_E_PROTO;
    }
    *out = xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

/* The five fields of a vsn 1 object; any other key is refused. */
static int fields_v1(json_t *root, json_t **jr, json_t **ref, json_t **topic, json_t **event,
                     json_t **payload)
{
    if (!json_is_object(root)) {
        return SB_E_PROTO;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "join_ref") == 0) {
            *jr = v;
        } else if (strcmp(key, "ref") == 0) {
            *ref = v;
        } else if (strcmp(key, "topic") == 0) {
            *topic = v;
        } else if (strcmp(key, "event") == 0) {
            *event = v;
        } else if (strcmp(key, "payload") == 0) {
            *payload = v;
        } else {
            return SB_E_PROTO;
        }
    }
    return 0;
}

int phx_decode_text(int vsn, const char *data, size_t len, struct phx_msg *out)
{
    memset(out, 0, sizeof(*out));
    if ((vsn != 1 && vsn != 2) || !data || !depth_ok(data, len, PHX_MAX_DEPTH)) {
        return SB_E_PROTO;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return SB_E_PROTO;
    }
    json_t *jr = NULL, *ref = NULL, *topic = NULL, *event = NULL, *payload = NULL;
    int rc = SB_E_PROTO;
    if (vsn == 2) {
        if (!json_is_array(root) || json_array_size(root) != 5) {
            goto out_root;
        }
        jr = json_array_get(root, 0);
        ref = json_array_get(root, 1);
        topic = json_array_get(root, 2);
        event = json_array_get(root, 3);
        payload = json_array_get(root, 4);
    } else if (fields_v1(root, &jr, &ref, &topic, &event, &payload) < 0) {
        goto out_root;
    }
    if (!json_is_object(payload)) {
        goto out_root;
    }
    if ((rc = take_ref(jr, &out->join_ref)) < 0 || (rc = take_ref(ref, &out->ref)) < 0 ||
        (rc = take_name(topic, &out->topic)) < 0 || (rc = take_name(event, &out->event)) < 0) {
        goto out_msg;
    }
    out->payload = json_incref(payload);
    json_decref(root);
    return 0;

out_msg:
    phx_msg_release(out);
    rc = SB_E_PROTO;
out_root:
    json_decref(root);
    return rc;
}

/* A string field of a binary frame; an empty ref becomes NULL when empty_is_null. */
static int bin_string(const uint8_t *p, size_t n, bool empty_is_null, char **out)
{
    if (!utf8_ok(p, n)) {
        return SB_E_PROTO;
    }
    *out = (n == 0 && empty_is_null) ? NULL : xstrndup((const char *)p, n);
    return 0;
}

int phx_decode_binary(const uint8_t *data, size_t len, struct phx_msg *out)
{
    memset(out, 0, sizeof(*out));
    enum { HDR = 7 };
    if (!data || len < HDR || data[0] != PHX_BIN_PUSH) {
        return SB_E_PROTO;
    }
    int enc = data[6];
    if (enc != PHX_ENC_BINARY && enc != PHX_ENC_JSON) {
        return SB_E_PROTO;
    }
    /* join_ref, ref, topic, user event, metadata */
    const uint8_t *field[5];
    size_t flen[5];
    size_t off = HDR;
    for (int i = 0; i < 5; i++) {
        flen[i] = data[1 + i];
        if (flen[i] > len - off) {
            return SB_E_PROTO;
        }
        field[i] = data + off;
        off += flen[i];
    }
    if (flen[2] == 0) {
        return SB_E_PROTO;
    }
    if (bin_string(field[0], flen[0], true, &out->join_ref) < 0 ||
        bin_string(field[1], flen[1], true, &out->ref) < 0 ||
        bin_string(field[2], flen[2], false, &out->topic) < 0 ||
        bin_string(field[3], flen[3], false, &out->bc_event) < 0 ||
        bin_string(field[4], flen[4], false, &out->bc_meta) < 0) {
        goto out_proto;
    }
    if (flen[4] > 0) {
        json_error_t jerr;
        json_t *meta = NULL;
        if (depth_ok(out->bc_meta, flen[4], PHX_MAX_DEPTH)) {
            meta = json_loadb(out->bc_meta, flen[4], JSON_REJECT_DUPLICATES, &jerr);
        }
        bool is_obj = json_is_object(meta);
        json_decref(meta);
        if (!is_obj) {
            goto out_proto;
        }
    }
    const uint8_t *body = data + off;
    size_t body_len = len - off;
    json_t *user = NULL;
    if (enc == PHX_ENC_JSON) {
        /* Same limit as the equivalent text frame: [.., {"payload": <user>}] */
        json_error_t jerr;
        if (depth_ok((const char *)body, body_len, PHX_MAX_DEPTH - 2)) {
            user = json_loadb((const char *)body, body_len,
                              JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        }
        if (!user) {
            goto out_proto;
        }
    }
    out->payload = json_object();
    json_object_set_new(out->payload, "type", json_string("broadcast"));
    json_object_set_new(out->payload, "event", json_string(out->bc_event));
    if (user) {
        json_object_set_new(out->payload, "payload", user);
    }
    out->event = xstrdup("broadcast");
    out->binary_broadcast = true;
    out->bc_encoding = enc;
    out->bc_payload = xmalloc(body_len);
    if (body_len > 0) {
        memcpy(out->bc_payload, body, body_len);
    }
    out->bc_payload_len = body_len;
    return 0;

out_proto:
    phx_msg_release(out);
    return SB_E_PROTO;
}

/* Append s as a JSON string literal (quotes included). */
static int put_json_string(struct buf *b, const char *s)
{
    return json_buf_string(b, s, strlen(s));
}

/* A ref: null or a string. */
static int put_ref(struct buf *b, const char *ref)
{
    return ref ? put_json_string(b, ref) : buf_puts(b, "null");
}

int phx_encode_prefix(int vsn, const char *join_ref, const char *ref, const char *topic,
                      const char *event, struct buf *out)
{
    if ((vsn != 1 && vsn != 2) || !topic || !event) {
        return SB_E_INVAL;
    }
    size_t start = out->len;
    int rc;
    if (vsn == 2) {
        if ((rc = buf_putc(out, '[')) < 0 || (rc = put_ref(out, join_ref)) < 0 ||
            (rc = buf_putc(out, ',')) < 0 || (rc = put_ref(out, ref)) < 0 ||
            (rc = buf_putc(out, ',')) < 0 || (rc = put_json_string(out, topic)) < 0 ||
            (rc = buf_putc(out, ',')) < 0 || (rc = put_json_string(out, event)) < 0 ||
            (rc = buf_putc(out, ',')) < 0) {
            goto out_undo;
        }
    } else {
        if ((rc = buf_puts(out, "{\"topic\":")) < 0 || (rc = put_json_string(out, topic)) < 0 ||
            (rc = buf_puts(out, ",\"event\":")) < 0 || (rc = put_json_string(out, event)) < 0 ||
            (rc = buf_puts(out, ",\"ref\":")) < 0 || (rc = put_ref(out, ref)) < 0 ||
            (rc = buf_puts(out, ",\"payload\":")) < 0) {
            goto out_undo;
        }
    }
    return (int)(out->len - start);

out_undo:
    out->len = start;
    if (out->data) {
        out->data[start] = '\0';
    }
    return rc;
}

const char *phx_suffix(int vsn)
{
    return vsn == 2 ? "]" : "}";
}

char *phx_encode_text(int vsn, const char *join_ref, const char *ref, const char *topic,
                      const char *event, const char *payload_json, size_t *len_out)
{
    struct buf b;
    buf_init(&b, PHX_ENCODE_MAX);
    if (phx_encode_prefix(vsn, join_ref, ref, topic, event, &b) < 0 ||
        buf_puts(&b, payload_json ? payload_json : "{}") < 0 || buf_puts(&b, phx_suffix(vsn)) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, len_out);
}

uint8_t *phx_encode_broadcast_binary(const char *topic, const char *event, const char *meta_json,
                                     const uint8_t *payload, size_t payload_len, int encoding,
                                     size_t *len_out)
{
    if (!topic || !event || (encoding != PHX_ENC_BINARY && encoding != PHX_ENC_JSON) ||
        (!payload && payload_len > 0)) {
        return NULL;
    }
    const char *meta = meta_json ? meta_json : "";
    size_t lt = strlen(topic), le = strlen(event), lm = strlen(meta);
    if (lt > PHX_MAX_NAME || le > PHX_MAX_NAME || lm > PHX_MAX_NAME) {
        return NULL;
    }
    size_t total = 5 + lt + le + lm + payload_len;
    uint8_t *f = xmalloc(total);
    f[0] = PHX_BIN_BROADCAST;
    f[1] = (uint8_t)lt;
    f[2] = (uint8_t)le;
    f[3] = (uint8_t)lm;
    f[4] = (uint8_t)encoding;
    uint8_t *p = f + 5;
    memcpy(p, topic, lt);
    p += lt;
    memcpy(p, event, le);
    p += le;
    memcpy(p, meta, lm);
    p += lm;
    if (payload_len > 0) {
        memcpy(p, payload, payload_len);
    }
    if (len_out) {
        *len_out = total;
    }
    return f;
}

char *phx_reply_payload(const char *status, json_t *response)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "status", json_string(status));
    json_object_set_new(obj, "response", response ? json_incref(response) : json_object());
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return s;
}
