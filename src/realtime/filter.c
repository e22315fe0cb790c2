/*
 * postgres_changes filters (see filter.h for the syntax and semantics).
 *
 * A filter is an array of conditions; a condition is a column name, an operator and one
 * value (or up to RT_FILTER_MAX_IN for `in`). Parsing runs in two passes over the string:
 * the splitter walks it once tracking quotes and parenthesis depth to find the top-level
 * commas, then each condition is cut into column, operator and value, and quoted values are
 * unescaped into fresh strings.
 *
 * Each value is converted at parse time to every type it fits (integer, boolean, uuid,
 * instant), remembered in a bit mask. Matching then never parses filter text: it picks the
 * conversion for the column's type. For a known table the parser insists that the value
 * fits the column's type; for table "*" the column is only known per event, and a value
 * that does not fit the event's column type simply does not match. The column descriptor is
 * cached per condition for the table the filter was parsed against, so matching a typed
 * binding costs one JSON object lookup and one comparison per condition.
 */
#include "realtime/filter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

enum rt_op { OP_EQ, OP_NEQ, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_IN };

static const char *const op_names[] = {"eq", "neq", "lt", "lte", "gt", "gte", "in"};

#define FIT(type) (1u << (type))

/* One filter value and its conversions; fits has FIT(COL_x) for each type it parses as. */
struct fval {
    char *s;
    size_t len;
    unsigned fits;
    long long i;
    int64_t ms;
    bool b;
};

struct cond {
    char *col;
    enum rt_op op;
    size_t nvals;
    struct fval *vals;
    const struct store_table_desc *table; /* the table col was resolved in, or NULL */
    const struct store_column *column;
};

struct rt_filter {
    size_t nconds;
    struct cond *conds;
};

/* Drop a trailing incomplete UTF-8 sequence left by truncation, so err stays valid text. */
static void utf8_trim_tail(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && n - i < 3) {
        i--;
    }
    if (i == 0) {
        return;
    }
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (need > 1 && n - (i - 1) < need) {
        s[i - 1] = '\0';
    }
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write "Error parsing `filter` params: <message>" into err; returns SB_E_INVAL. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        int n = snprintf(err, errlen, "Error parsing `filter` params: ");
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
        utf8_trim_tail(err);
    }
    return SB_E_INVAL;
}

/* Length of s[0..n) shown in a message: at most max bytes, cut at a UTF-8 boundary. */
static int clip(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return (int)n;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
        cut--;
    }
    return (int)cut;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool parse_int(const char *s, long long *out)
{
    if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+')) {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || !(end[-1] >= '0' && end[-1] <= '9')) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "t") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(s, "false") == 0 || strcasecmp(s, "f") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool is_uuid(const char *s, size_t len)
{
    if (len != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) {
            return false;
        }
    }
    return true;
}

/* Take ownership of s (len bytes, NUL-terminated) and record every type it fits. */
static void fval_init(struct fval *v, char *s, size_t len)
{
    v->s = s;
    v->len = len;
    v->fits = FIT(COL_TEXT);
    if (strlen(s) != len) {
        return;
    }
    if (parse_int(s, &v->i)) {
        v->fits |= FIT(COL_INT);
    }
    if (parse_bool(s, &v->b)) {
        v->fits |= FIT(COL_BOOL);
    }
    if (is_uuid(s, len)) {
        v->fits |= FIT(COL_UUID);
    }
    if (clock_parse_ms(s, &v->ms) == 0) {
        v->fits |= FIT(COL_TIME);
    }
}

/*
 * Unescape a double-quoted value starting at s[0] == '"' within s[0..n). On success *used
 * is the number of bytes up to and including the closing quote.
 */
static char *unquote(const char *s, size_t n, size_t *used, size_t *len_out)
{
    char *out = xmalloc(n);
    size_t o = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            out[o++] = s[++i];
        } else if (s[i] == '"') {
            out[o] = '\0';
            *used = i + 1;
            *len_out = o;
            return out;
        } else {
            out[o++] = s[i];
        }
    }
    free(out);
    return NULL;
}

/*
 * One value or `in` item from s[0..n): quoted (the quotes must span it all, after trimming
 * when trim is set) or raw (no quote, backslash or parenthesis when in a list). NULL and a
 * message in err when malformed.
 */
static char *take_value(const char *s, size_t n, bool in_list, size_t *len_out, char *err,
                        size_t errlen)
{
    if (in_list) {
        while (n > 0 && is_space(s[0])) {
            s++, n--;
        }
        while (n > 0 && is_space(s[n - 1])) {
            n--;
        }
    }
    if (n > 0 && s[0] == '"') {
        size_t used = 0;
        char *v = unquote(s, n, &used, len_out);
        if (!v || used != n) {
            free(v);
            fail(err, errlen, "malformed quoted value %.*s", clip(s, n, 64), s);
            return NULL;
        }
        return v;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || (in_list && (s[i] == '(' || s[i] == ')' || s[i] == '\\'))) {
            fail(err, errlen, "value '%.*s' must be double-quoted", clip(s, n, 64), s);
            return NULL;
        }
    }
    if (in_list && n == 0) {
        fail(err, errlen, "empty value in `in` list");
        return NULL;
    }
    *len_out = n;
    return xstrndup(s, n);
}

/* Split the `in` list "(a,b,c)" in s[0..n) into c->vals. */
static int take_list(struct cond *c, const char *s, size_t n, char *err, size_t errlen)
{
    if (n < 2 || s[0] != '(' || s[n - 1] != ')') {
        return fail(err, errlen, "`in` expects a list like (a,b,c) for column '%s'", c->col);
    }
    s++;
    n -= 2;
    size_t cap = 0;
    size_t start = 0;
    bool in_quote = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in_quote) {
            if (s[i] == '\\' && i + 1 < n) {
                i++;
            } else if (s[i] == '"') {
                in_quote = false;
            }
            continue;
        }
        if (i < n && s[i] == '"') {
            in_quote = true;
            continue;
        }
        if (i < n && s[i] != ',') {
            continue;
        }
        if (c->nvals == RT_FILTER_MAX_IN) {
            return fail(err, errlen, "`in` accepts at most %d values", RT_FILTER_MAX_IN);
        }
        size_t len = 0;
        char *v = take_value(s + start, i - start, true, &len, err, errlen);
        if (!v) {
            return SB_E_INVAL;
        }
        if (c->nvals == cap) {
            cap = cap ? cap * 2 : 4;
            cap = cap > RT_FILTER_MAX_IN ? RT_FILTER_MAX_IN : cap;
            c->vals = xrealloc(c->vals, cap * sizeof(*c->vals));
        }
        fval_init(&c->vals[c->nvals++], v, len);
        start = i + 1;
    }
    return 0;
}

static const char *type_name(enum store_coltype t)
{
    switch (t) {
    case COL_INT:
        return "integer";
    case COL_BOOL:
        return "boolean";
    case COL_UUID:
        return "uuid";
    case COL_TIME:
        return "timestamp";
    default:
        return "text";
    }
}

/* Resolve and type-check c against table t (known at parse time). */
static int check_column(struct cond *c, const struct store_table_desc *t, char *err, size_t errlen)
{
    const struct store_column *col = store_column_find(t, c->col);
    if (!col || col->hidden) {
        return fail(err, errlen, "unknown column '%s' in table '%s'", c->col, t->name);
    }
    if (col->type == COL_JSON) {
        return fail(err, errlen, "filters on json column '%s' are not supported", c->col);
    }
    for (size_t i = 0; i < c->nvals; i++) {
        if (!(c->vals[i].fits & FIT(col->type))) {
            const struct fval *v = &c->vals[i];
            return fail(err, errlen, "invalid %s value '%.*s' for column '%s'",
                        type_name(col->type), clip(v->s, v->len, 64), v->s, c->col);
        }
    }
    c->table = t;
    c->column = col;
    return 0;
}

/* Parse one condition "col=op.value" from s[0..n) into c. */
static int take_cond(struct cond *c, const char *s, size_t n, const struct store_table_desc *t,
                     char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        return fail(err, errlen, "expected column=operator.value, got '%.*s'", clip(s, n, 64), s);
    }
    const char *cb = s, *ce = eq;
    while (cb < ce && is_space(*cb)) {
        cb++;
    }
    while (ce > cb && is_space(ce[-1])) {
        ce--;
    }
    if (cb == ce) {
        return fail(err, errlen, "missing column name in '%.*s'", clip(s, n, 64), s);
    }
    for (const char *p = cb; p < ce; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok || ce - cb > 63) {
            return fail(err, errlen, "invalid column name '%.*s'", clip(cb, (size_t)(ce - cb), 64),
                        cb);
        }
    }
    c->col = xstrndup(cb, (size_t)(ce - cb));
    const char *rest = eq + 1;
    size_t rn = n - (size_t)(rest - s);
    while (rn > 0 && is_space(*rest)) {
        rest++, rn--;
    }
    const char *dot = memchr(rest, '.', rn);
    size_t opn = dot ? (size_t)(dot - rest) : rn;
    size_t nops = sizeof(op_names) / sizeof(op_names[0]);
    size_t op = 0;
    while (op < nops && !(strlen(op_names[op]) == opn && memcmp(op_names[op], rest, opn) == 0)) {
        op++;
    }
    if (op == nops) {
        return fail(err, errlen, "unknown operator '%.*s' for column '%s'", clip(rest, opn, 32),
                    rest, c->col);
    }
    if (!dot) {
        return fail(err, errlen, "missing value after '%s' for column '%s'", op_names[op], c->col);
    }
    c->op = (enum rt_op)op;
    const char *v = dot + 1;
    size_t vn = n - (size_t)(v - s);
    if (c->op == OP_IN) {
        int rc = take_list(c, v, vn, err, errlen);
        if (rc < 0) {
            return rc;
        }
    } else {
        size_t len = 0;
        char *val = take_value(v, vn, false, &len, err, errlen);
        if (!val) {
            return SB_E_INVAL;
        }
        c->vals = xcalloc(1, sizeof(*c->vals));
        c->nvals = 1;
        fval_init(&c->vals[0], val, len);
    }
    return t ? check_column(c, t, err, errlen) : 0;
}

int rt_filter_parse(const char *s, const struct store_table_desc *t, struct rt_filter **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen > 0) {
        err[0] = '\0';
    }
    if (!s) {
        s = "";
    }
    size_t n = strlen(s);
    if (n > RT_FILTER_MAX_LEN) {
        return fail(err, errlen, "filter longer than %d bytes", RT_FILTER_MAX_LEN);
    }
    struct rt_filter *f = xcalloc(1, sizeof(*f));
    size_t blank = 0;
    while (blank < n && is_space(s[blank])) {
        blank++;
    }
    if (blank == n) {
        *out = f;
        return 0;
    }
    int rc = 0;
    size_t cap = 0;
    size_t start = 0;
    int depth = 0;
    bool in_quote = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in_quote) {
            if (s[i] == '\\' && i + 1 < n) {
                i++;
            } else if (s[i] == '"') {
                in_quote = false;
            }
            continue;
        }
        if (i < n && s[i] == '"') {
            in_quote = true;
        } else if (i < n && s[i] == '(') {
            depth++;
        } else if (i < n && s[i] == ')' && --depth < 0) {
            rc = fail(err, errlen, "unbalanced parentheses");
            goto out_free;
        }
        if (i < n && (s[i] != ',' || depth > 0)) {
            continue;
        }
        if (depth > 0) {
            rc = fail(err, errlen, "unbalanced parentheses");
            goto out_free;
        }
        if (f->nconds == RT_FILTER_MAX_CONDS) {
            rc = fail(err, errlen, "more than %d conditions", RT_FILTER_MAX_CONDS);
            goto out_free;
        }
        if (f->nconds == cap) {
            cap = cap ? cap * 2 : 2;
            cap = cap > RT_FILTER_MAX_CONDS ? RT_FILTER_MAX_CONDS : cap;
            f->conds = xrealloc(f->conds, cap * sizeof(*f->conds));
        }
        memset(&f->conds[f->nconds], 0, sizeof(f->conds[0]));
        rc = take_cond(&f->conds[f->nconds++], s + start, i - start, t, err, errlen);
        if (rc < 0) {
            goto out_free;
        }
        start = i + 1;
    }
    if (in_quote) {
        rc = fail(err, errlen, "unterminated quoted value");
        goto out_free;
    }
    *out = f;
    return 0;

out_free:
    rt_filter_free(f);
    return rc;
}

void rt_filter_free(struct rt_filter *f)
{
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->nconds; i++) {
        struct cond *c = &f->conds[i];
        for (size_t k = 0; k < c->nvals; k++) {
            free(c->vals[k].s);
        }
        free(c->vals);
        free(c->col);
    }
    free(f->conds);
    free(f);
}

size_t rt_filter_count(const struct rt_filter *f)
{
    return f ? f->nconds : 0;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn, bool fold)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (fold) {
            x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
            y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        }
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/*
 * Compare the record's value v with filter value fv as type `type`: *out < 0, 0, > 0 for
 * v < fv, v == fv, v > fv. False when they are not comparable (wrong JSON type, value that
 * does not fit the column type), which never matches.
 */
static bool compare(enum store_coltype type, const json_t *v, const struct fval *fv, int *out)
{
    if (!(fv->fits & FIT(type))) {
        return false;
    }
    switch (type) {
    case COL_INT: {
        if (!json_is_integer(v)) {
            return false;
        }
        long long a = (long long)json_integer_value(v);
        *out = a < fv->i ? -1 : a > fv->i ? 1 : 0;
        return true;
    }
    case COL_BOOL: {
        if (!json_is_boolean(v)) {
            return false;
        }
        int a = json_is_true(v), b = fv->b;
        *out = a - b;
        return true;
    }
    case COL_TIME: {
        int64_t ms;
        if (!json_is_string(v) || clock_parse_ms(json_string_value(v), &ms) < 0) {
            return false;
        }
        *out = ms < fv->ms ? -1 : ms > fv->ms ? 1 : 0;
        return true;
    }
    case COL_UUID:
    case COL_TEXT:
        if (!json_is_string(v)) {
            return false;
        }
        *out = cmp_bytes(json_string_value(v), json_string_length(v), fv->s, fv->len,
                         type == COL_UUID);
        return true;
    default:
        return false;
    }
}

static bool cond_match(const struct cond *c, const struct store_table_desc *t, const json_t *record)
{
    const struct store_column *col = c->column;
    if (c->table != t) {
        col = store_column_find(t, c->col);
    }
    if (!col || col->hidden || col->type == COL_JSON) {
        return false;
    }
    const json_t *v = json_object_get(record, c->col);
    if (!v || json_is_null(v)) {
        return false;
    }
    int r = 0;
    if (c->op == OP_IN) {
        for (size_t i = 0; i < c->nvals; i++) {
            if (compare(col->type, v, &c->vals[i], &r) && r == 0) {
                return true;
            }
        }
        return false;
    }
    if (!compare(col->type, v, &c->vals[0], &r)) {
        return false;
    }
    switch (c->op) {
    case OP_EQ:
        return r == 0;
    case OP_NEQ:
        return r != 0;
    case OP_LT:
        return r < 0;
    case OP_LTE:
        return r <= 0;
    case OP_GT:
        return r > 0;
    case OP_GTE:
        return r >= 0;
    default:
        return false;
    }
}

bool rt_filter_match(const struct rt_filter *f, const struct store_table_desc *t,
                     const json_t *record)
{
    if (!f || f->nconds == 0) {
        return true;
    }
    if (!t || !json_is_object(record)) {
        return false;
    }
    for (size_t i = 0; i < f->nconds; i++) {
        if (!cond_match(&f->conds[i], t, record)) {
            return false;
        }
    }
    return true;
}
