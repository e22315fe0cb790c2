/*
 * libFuzzer target for the JSON request body parser (src/base/json.c), the parser that
 * src/api/api.c (check_body) and the logout route run on every request body with the same
 * limits: json_parse_strict (depth JSON_MAX_DEPTH, duplicate keys rejected, any value at the
 * top), then "must be an object". The body size cap (max_body, 1 MiB by default) is enforced
 * by the HTTP layer before the parser sees the bytes; here the fuzzer's -max_len bounds it.
 *
 * Invariants (abort when broken):
 * - a failure leaves a non-empty, NUL-terminated reason in err;
 * - input the depth pre-scan refuses never parses;
 * - a parsed value nests at most JSON_MAX_DEPTH levels, and for it the pre-scan is exact:
 *   json_depth_ok(text, D) holds and json_depth_ok(text, D - 1) does not, D its real depth;
 * - compact encoding re-parses strictly to an equal value, and encoding that gives the same
 *   text again (a fixed point);
 * - the parser reads nothing past len (the input is an exact-size heap copy).
 * Replayed by tests/unit/base/test_json_body_corpus.c over fuzz/corpus/json_body/.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "fuzz.h"

/* Nesting depth of arrays and objects in v (a scalar is 0). */
static int fuzz_json_depth(const json_t *v)
{
    int max = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = fuzz_json_depth(json_array_get(v, i));
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            int d = fuzz_json_depth(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    char err[160];
    memset(err, 'x', sizeof err);
    json_t *v = json_parse_strict(text, size, err, sizeof err);
    bool depth_ok = json_depth_ok(text, size, JSON_MAX_DEPTH);
    if (!v) {
        FUZZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        free(text);
        return 0;
    }
    FUZZ_ASSERT(depth_ok);
    int depth = fuzz_json_depth(v);
    FUZZ_ASSERT(depth <= JSON_MAX_DEPTH);
    FUZZ_ASSERT(json_depth_ok(text, size, depth));
    FUZZ_ASSERT(depth == 0 || !json_depth_ok(text, size, depth - 1));

    /* What check_body then decides: only an object is a request body. */
    bool accepted = json_is_object(v);

    size_t len1 = 0, len2 = 0;
    char *enc1 = json_encode(v, &len1);
    FUZZ_ASSERT(strlen(enc1) == len1);
    json_t *again = json_parse_strict(enc1, len1, err, sizeof err);
    FUZZ_ASSERT(again != NULL);
    FUZZ_ASSERT(json_equal(v, again));
    FUZZ_ASSERT(json_is_object(again) == accepted);
    FUZZ_ASSERT(fuzz_json_depth(again) == depth);
    char *enc2 = json_encode(again, &len2);
    FUZZ_ASSERT(len1 == len2 && memcmp(enc1, enc2, len1) == 0);

    free(enc1);
    free(enc2);
    json_decref(again);
    json_decref(v);
    free(text);
    return 0;
}
