/*
 * JSON helpers on top of jansson: strict parsing with a nesting limit (jansson itself has
 * none below 2048), and compact dumping.
 */
#ifndef SB_BASE_JSON_H
#define SB_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 64

/* True when the nesting of arrays and objects in text[0..len) never exceeds max_depth
 * (strings are skipped). Does not validate the JSON otherwise. */
bool json_depth_ok(const char *text, size_t len, int max_depth);
/*
 * Parse text[0..len): duplicate keys rejected, depth limited to JSON_MAX_DEPTH, any JSON value
 * allowed at the top. Returns NULL on error with a short reason in err (errlen bytes).
 */
json_t *json_parse_strict(const char *text, size_t len, char *err, size_t errlen);
/* Compact encoding (malloc'd) preserving key order; never NULL for valid values. */
char *json_encode(const json_t *v, size_t *len_out);
/* The same with every object's members in key order: json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY)'s bytes (the audit chain's canonical form). */
char *json_encode_sorted(const json_t *v, size_t *len_out);
/* json_encode_sorted of the object made of obj's members named keys[0..n) (a missing one as
 * null), without building that object: keys must be in ascending byte order (else the object
 * is built and encoded, same bytes). */
char *json_encode_sorted_pick(const json_t *obj, const char *const *keys, size_t n,
                              size_t *len_out);

struct buf;
/* Append s[0..n) to b as a JSON string literal (quotes included; invalid UTF-8 bytes become
 * U+FFFD): 0, or SB_E_TOOBIG when b's cap does not allow the worst case (6 bytes per byte). */
int json_buf_string(struct buf *b, const char *s, size_t n);

#endif
