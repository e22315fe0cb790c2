/*
 * A small RFC 4180 reader: text in, rows of string fields out. Fields may be quoted ("a,b",
 * "say ""hi"""), records end with CRLF or LF, a final line ending is optional, a UTF-8 BOM
 * at the start is skipped, and blank lines are ignored. I/O-free and bounded: at most
 * max_rows records of at most max_fields fields.
 */
#ifndef SB_BASE_CSV_H
#define SB_BASE_CSV_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parse text[0..len) into *rows_out, a new JSON array of arrays of strings. 0, or -1 with a
 * short reason naming the record in err (errlen bytes): a quote inside an unquoted field,
 * an unterminated quoted field, text after a closing quote, a NUL byte, or a limit.
 */
int csv_parse(const char *text, size_t len, size_t max_rows, size_t max_fields, json_t **rows_out,
              char *err, size_t errlen);

#endif
