/*
 * RFC 4180 reading (see csv.h). One pass over the text with a field buffer; a record is a
 * JSON array of its fields, so callers index fields by position and the header row names
 * them.
 */
#include "base/csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"

static bool blank(const json_t *rec)
{
    return json_array_size(rec) == 1 && json_string_length(json_array_get(rec, 0)) == 0;
}

int csv_parse(const char *text, size_t len, size_t max_rows, size_t max_fields, json_t **rows_out,
              char *err, size_t errlen)
{
    *rows_out = NULL;
    size_t i = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    json_t *rows = json_array();
    json_t *rec = json_array();
    struct buf f;
    buf_init(&f, len + 1);
    size_t line = 1;
    const char *why = NULL;
    while (i <= len && !why) {
        buf_reset(&f);
        bool quoted = i < len && text[i] == '"';
        if (quoted) {
            i++;
            for (;;) {
                if (i >= len) {
                    why = "unterminated quoted field";
                    break;
                }
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        if (buf_append(&f, "\"", 1) < 0) {
                            why = "field too long";
                            break;
                        }
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (text[i] == '\n') {
                    line++;
                }
                if (text[i] == '\0') {
                    why = "NUL byte";
                    break;
                }
                if (buf_append(&f, &text[i++], 1) < 0) {
                    why = "field too long";
                    break;
                }
            }
            if (!why && i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                why = "text after a closing quote";
            }
        } else {
            while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                if (text[i] == '"') {
                    why = "a quote inside an unquoted field";
                    break;
                }
                if (text[i] == '\0') {
                    why = "NUL byte";
                    break;
                }
                if (buf_append(&f, &text[i++], 1) < 0) {
                    why = "field too long";
                    break;
                }
            }
        }
        if (why) {
            break;
        }
        if (json_array_size(rec) >= max_fields) {
            why = "too many fields";
            break;
        }
        json_array_append_new(rec, json_stringn(f.data ? f.data : "", f.len));
        if (i < len && text[i] == ',') {
            i++;
            continue;
        }
        /* End of a record: CRLF, LF, a lone CR, or the end of the text. */
        if (i < len && text[i] == '\r') {
            i++;
        }
        if (i < len && text[i] == '\n') {
            i++;
        }
        if (!blank(rec)) {
            if (json_array_size(rows) >= max_rows) {
                why = "too many records";
                break;
            }
            json_array_append(rows, rec);
        }
        json_decref(rec);
        rec = json_array();
        line++;
        if (i >= len) {
            break;
        }
    }
    json_decref(rec);
    buf_release(&f);
    if (why) {
        snprintf(err, errlen, "line %zu: %s", line, why);
        json_decref(rows);
        return -1;
    }
    *rows_out = rows;
    return 0;
}
