/*
 * Opaque list cursors: base64url (no padding) of the compact JSON array
 * [sort column, last value, last id]. The sort column is part of the cursor so that a cursor
 * from one ordering is rejected (SB_E_INVAL) by another instead of silently skipping rows.
 * Cursors are not secret and not signed: they only say where a page starts, and every query
 * is still restricted by the caller's scope.
 */
#include "store/store_int.h"

#include <sodium.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"

#define CURSOR_MAX_LEN 4096

char *store_cursor_encode(const char *sort, json_t *value, const char *id)
{
    json_t *arr = json_pack("[sOs]", sort, value ? value : json_null(), id);
    char *js = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(arr);
    if (!js) {
        abort();
    }
    size_t len = strlen(js);
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = xmalloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)js, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(js);
    return out;
}

int store_cursor_decode(const char *cursor, const char *sort, json_t **value_out, char **id_out)
{
    size_t clen = strlen(cursor);
    if (clen == 0 || clen > CURSOR_MAX_LEN) {
        return SB_E_INVAL;
    }
    unsigned char *bin = xmalloc(clen + 1);
    size_t len = 0;
    if (sodium_base642bin(bin, clen, cursor, clen, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        free(bin);
        return SB_E_INVAL;
    }
    json_t *arr = json_loadb((const char *)bin, len, 0, NULL);
    free(bin);
    int rc = SB_E_INVAL;
    if (!json_is_array(arr) || json_array_size(arr) != 3) {
        goto out;
    }
    json_t *s = json_array_get(arr, 0), *v = json_array_get(arr, 1), *id = json_array_get(arr, 2);
    if (!json_is_string(s) || strcmp(json_string_value(s), sort) != 0 || !json_is_string(id) ||
        json_is_object(v) || json_is_array(v)) {
        goto out;
    }
    *value_out = json_incref(v);
    *id_out = xstrdup(json_string_value(id));
    rc = 0;
out:
    json_decref(arr);
    return rc;
}
