/*
 * postgres_changes binding filters (DESIGN §7, realtime-protocol.md §4.3): the string
 * "col=op.value[,col=op.value...]" parsed once at join time and evaluated against each
 * change record. I/O-free; a parsed filter is immutable, so any thread may match with it.
 *
 * Syntax
 *   - Conditions are joined by ',' (AND). Commas inside "(...)" or inside double quotes do
 *     not separate conditions. Whitespace around a column name, before the operator and
 *     around unquoted `in` items is ignored; any other value is taken byte for byte.
 *   - op is one of eq neq lt lte gt gte in. `in` takes "(a,b,c)": 1..RT_FILTER_MAX_IN items.
 *   - A value (or an `in` item) may be double-quoted PostgREST-style, with \" and \\ (any
 *     backslash-escaped byte) inside; it must be quoted when it contains , ( ) " or \.
 *   - An empty or all-whitespace filter has no conditions and matches every record.
 *   - At most RT_FILTER_MAX_CONDS conditions.
 *
 * Types (from the column's store_coltype)
 *   - COL_INT: the value must be a base-10 64-bit integer; compared numerically.
 *   - COL_BOOL: true/false/t/f (any case); false < true.
 *   - COL_UUID: 8-4-4-4-12 hex; compared case-insensitively.
 *   - COL_TIME: RFC 3339 (clock_parse_ms); compared as instants, so "...Z" and "...+01:00"
 *     and different fraction widths compare correctly.
 *   - COL_TEXT: any string; compared byte-wise (memcmp order, PostgreSQL's "C" collation).
 *   - COL_JSON: filters on JSON columns are refused (PostgreSQL would compare jsonb values;
 *     we do not emulate that).
 *   Hidden columns (password_hash) cannot be filtered on.
 *
 * NULL semantics follow SQL: a condition on a column whose value is null or absent in the
 * record is never true, for every operator including neq.
 */
#ifndef SB_REALTIME_FILTER_H
#define SB_REALTIME_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/schema.h"

#define RT_FILTER_MAX_IN 100    /* values in one `in` list (Supabase's documented limit) */
#define RT_FILTER_MAX_CONDS 100 /* conditions in one filter */
#define RT_FILTER_MAX_LEN 65536 /* bytes in a filter string */

struct rt_filter;

/*
 * Parse s (NUL-terminated) into *out (caller frees with rt_filter_free; never NULL on
 * success, possibly with zero conditions).
 *
 * t is the binding's table, or NULL for table "*": then columns are resolved per event at
 * match time, and a condition on a column the event's table lacks (or hides, or whose type
 * the value does not fit) does not match.
 *
 * Returns 0, or SB_E_INVAL with a message for the `system` error in err (always
 * NUL-terminated when errlen > 0), for example
 *   "Error parsing `filter` params: unknown column 'foo'".
 */
int rt_filter_parse(const char *s, const struct store_table_desc *t, struct rt_filter **out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * True when record (a JSON object as the change log writes it: integers, strings, booleans,
 * null) of table t satisfies every condition of f. A NULL filter matches everything. For
 * UPDATE events the caller passes the new record, for DELETE the old record.
 */
bool rt_filter_match(const struct rt_filter *f, const struct store_table_desc *t,
                     const json_t *record);

/* Number of conditions (0 for an empty filter). */
size_t rt_filter_count(const struct rt_filter *f);

void rt_filter_free(struct rt_filter *f);

#endif
