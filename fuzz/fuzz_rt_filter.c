/*
 * libFuzzer target for the postgres_changes filter parser and matcher (src/realtime/filter.c).
 *
 * Input: one byte choosing the binding's table (table "*", each store table, or a test table
 * with a boolean column), then the filter string up to the first NUL byte (the parser takes
 * a C string), then optionally a JSON object used as a change record.
 *
 * filter.h keeps a parsed filter opaque, and a canonical form needs its conditions, so this
 * file compiles filter.c into itself (the corpus test then does not link filter.o from
 * sb_realtime; nothing else in that library is used). Invariants (abort when broken):
 * - parse returns 0 with a filter or SB_E_INVAL without one and with a message that starts
 *   "Error parsing `filter` params: " and is valid UTF-8 whenever the input is;
 * - a parsed filter keeps the documented limits (conditions, `in` items, column names) and,
 *   for a known table, only visible, non-JSON columns whose type every value fits;
 * - canonical form: every value double-quoted and escaped re-parses to the same conditions,
 *   and rendering that gives the same text (a fixed point);
 * - matching is deterministic and the canonical filter matches exactly the same records;
 * - per condition, on each record: of eq/neq, lt/gte and gt/lte at most one holds, and
 *   either one of each pair holds or none does (the value is comparable or it is not); eq
 *   implies lte and gte; in.("v") equals eq."v"; a record holding the condition's own value
 *   (typed for the column) satisfies eq, lte, gte and in.
 * Replayed by tests/unit/realtime/test_filter_corpus.c over fuzz/corpus/rt_filter/.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "realtime/filter.c"

#define FUZZ_FILTER_PREFIX "Error parsing `filter` params: "

/* A table with a boolean column (none of ours has one), as in tests/unit/realtime. */
static const struct store_column fuzz_flags_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"enabled", COL_BOOL, "bool", true, false, false, true},
    {"secret", COL_TEXT, "text", true, true, false, false},
    {"n", COL_INT, "int8", true, false, false, true},
};
static const struct store_table_desc fuzz_flags_table = {
    STORE__NTABLES, "flags", fuzz_flags_cols, 4, "id", false, false, "id", false};

#define FUZZ_NTABLES (STORE__NTABLES + 1)

static const struct store_table_desc *fuzz_table(int i)
{
    return i == STORE__NTABLES ? &fuzz_flags_table : store_table_desc((enum store_table)i);
}

static bool fuzz_utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

/* Append v double-quoted, escaping '"' and '\\'. */
static void fuzz_put_quoted(struct buf *b, const char *s, size_t n)
{
    FUZZ_ASSERT(buf_putc(b, '"') == 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            FUZZ_ASSERT(buf_putc(b, '\\') == 0);
        }
        FUZZ_ASSERT(buf_putc(b, s[i]) == 0);
    }
    FUZZ_ASSERT(buf_putc(b, '"') == 0);
}

/* One condition in canonical form, with op and values as given. */
static void fuzz_put_cond(struct buf *b, const char *col, enum rt_op op, const struct fval *vals,
                          size_t nvals)
{
    FUZZ_ASSERT(buf_printf(b, "%s=%s.", col, op_names[op]) >= 0);
    if (op == OP_IN) {
        FUZZ_ASSERT(buf_putc(b, '(') == 0);
    }
    for (size_t k = 0; k < nvals; k++) {
        if (k) {
            FUZZ_ASSERT(buf_putc(b, ',') == 0);
        }
        fuzz_put_quoted(b, vals[k].s, vals[k].len);
    }
    if (op == OP_IN) {
        FUZZ_ASSERT(buf_putc(b, ')') == 0);
    }
}

/* The canonical text of f (malloc'd, NUL-terminated). */
static char *fuzz_canonical(const struct rt_filter *f)
{
    struct buf b;
    buf_init(&b, (size_t)64 << 20);
    FUZZ_ASSERT(buf_puts(&b, "") == 0);
    for (size_t i = 0; i < f->nconds; i++) {
        const struct cond *c = &f->conds[i];
        if (i) {
            FUZZ_ASSERT(buf_putc(&b, ',') == 0);
        }
        fuzz_put_cond(&b, c->col, c->op, c->vals, c->nvals);
    }
    return buf_detach(&b, NULL);
}

/* Parse s on t; checks the error contract. NULL when the parse failed. */
static struct rt_filter *fuzz_parse(const char *s, const struct store_table_desc *t)
{
    static struct rt_filter unset;
    struct rt_filter *f = &unset; /* the parser must overwrite it */
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = rt_filter_parse(s, t, &f, err, sizeof err);
    FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
    if (rc < 0) {
        FUZZ_ASSERT(rc == SB_E_INVAL && f == NULL);
        FUZZ_ASSERT(strncmp(err, FUZZ_FILTER_PREFIX, strlen(FUZZ_FILTER_PREFIX)) == 0);
        FUZZ_ASSERT(!fuzz_utf8(s, strlen(s)) || fuzz_utf8(err, strlen(err)));
        return NULL;
    }
    FUZZ_ASSERT(rc == 0 && f != NULL && err[0] == '\0');
    return f;
}

static void fuzz_check_filter(const struct rt_filter *f, const struct store_table_desc *t)
{
    FUZZ_ASSERT(f->nconds <= RT_FILTER_MAX_CONDS && rt_filter_count(f) == f->nconds);
    for (size_t i = 0; i < f->nconds; i++) {
        const struct cond *c = &f->conds[i];
        size_t cl = strlen(c->col);
        FUZZ_ASSERT(cl >= 1 && cl <= 63 &&
                    strspn(c->col, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                   "TUVWXYZ0123456789_") == cl);
        FUZZ_ASSERT(c->op >= OP_EQ && c->op <= OP_IN);
        FUZZ_ASSERT(c->op == OP_IN ? c->nvals >= 1 && c->nvals <= RT_FILTER_MAX_IN : c->nvals == 1);
        for (size_t k = 0; k < c->nvals; k++) {
            const struct fval *v = &c->vals[k];
            FUZZ_ASSERT(v->s[v->len] == '\0' && (v->fits & FIT(COL_TEXT)));
        }
        if (t) {
            FUZZ_ASSERT(c->table == t && c->column != NULL);
            FUZZ_ASSERT(!c->column->hidden && c->column->type != COL_JSON);
            for (size_t k = 0; k < c->nvals; k++) {
                FUZZ_ASSERT(c->vals[k].fits & FIT(c->column->type));
            }
        } else {
            FUZZ_ASSERT(c->table == NULL && c->column == NULL);
        }
    }
}

static bool fuzz_same_filter(const struct rt_filter *a, const struct rt_filter *b)
{
    if (a->nconds != b->nconds) {
        return false;
    }
    for (size_t i = 0; i < a->nconds; i++) {
        const struct cond *x = &a->conds[i], *y = &b->conds[i];
        if (strcmp(x->col, y->col) != 0 || x->op != y->op || x->nvals != y->nvals ||
            x->column != y->column) {
            return false;
        }
        for (size_t k = 0; k < x->nvals; k++) {
            const struct fval *u = &x->vals[k], *v = &y->vals[k];
            if (u->len != v->len || memcmp(u->s, v->s, u->len) != 0 || u->fits != v->fits) {
                return false;
            }
        }
    }
    return true;
}

/* Match the single condition (col, op, value) on record as table t. */
static bool fuzz_match_one(const struct store_table_desc *parse_t, const struct store_table_desc *t,
                           const char *col, enum rt_op op, const struct fval *v,
                           const json_t *record)
{
    struct buf b;
    buf_init(&b, (size_t)64 << 20);
    fuzz_put_cond(&b, col, op, v, 1);
    struct rt_filter *f = NULL;
    char err[256];
    /* Every op accepts what eq accepted; the value is the one the original filter held. */
    FUZZ_ASSERT(rt_filter_parse(b.data, parse_t, &f, err, sizeof err) == 0);
    bool m = rt_filter_match(f, t, record);
    FUZZ_ASSERT(rt_filter_match(f, t, record) == m);
    rt_filter_free(f);
    buf_release(&b);
    return m;
}

/*
 * The metamorphic checks of one condition's first value against record on table t; m gets
 * the result of each operator.
 */
static void fuzz_check_ops(const struct store_table_desc *parse_t, const struct store_table_desc *t,
                           const struct cond *c, const json_t *record, bool m[OP_IN + 1])
{
    const struct fval *v = &c->vals[0];
    for (int op = OP_EQ; op <= OP_IN; op++) {
        m[op] = fuzz_match_one(parse_t, t, c->col, (enum rt_op)op, v, record);
    }
    bool comparable = m[OP_EQ] || m[OP_NEQ];
    FUZZ_ASSERT(!(m[OP_EQ] && m[OP_NEQ]));
    FUZZ_ASSERT(!(m[OP_LT] && m[OP_GTE]) && (m[OP_LT] || m[OP_GTE]) == comparable);
    FUZZ_ASSERT(!(m[OP_GT] && m[OP_LTE]) && (m[OP_GT] || m[OP_LTE]) == comparable);
    FUZZ_ASSERT(!m[OP_EQ] || (m[OP_LTE] && m[OP_GTE] && !m[OP_LT] && !m[OP_GT]));
    FUZZ_ASSERT(m[OP_IN] == m[OP_EQ]);
}

/* {col: the value of v typed for column col}, or NULL when v does not fit the column. */
static json_t *fuzz_record_of(const struct store_column *col, const struct fval *v)
{
    if (!col || col->hidden || col->type == COL_JSON || !(v->fits & FIT(col->type))) {
        return NULL;
    }
    json_t *val = NULL;
    switch (col->type) {
    case COL_INT:
        val = json_integer(v->i);
        break;
    case COL_BOOL:
        val = json_boolean(v->b);
        break;
    default:
        val = json_stringn(v->s, v->len);
        break;
    }
    if (!val) {
        return NULL; /* a text value that is not UTF-8 cannot be in a record */
    }
    json_t *rec = json_object();
    json_object_set_new(rec, col->name, val);
    return rec;
}

static void fuzz_check_records(const struct rt_filter *f, const struct rt_filter *canon,
                               const struct store_table_desc *parse_t, const json_t *input_rec)
{
    for (int ti = 0; ti < FUZZ_NTABLES; ti++) {
        const struct store_table_desc *t = fuzz_table(ti);
        if (parse_t && parse_t != t) {
            continue;
        }
        if (input_rec) {
            bool m = rt_filter_match(f, t, input_rec);
            FUZZ_ASSERT(rt_filter_match(f, t, input_rec) == m);
            FUZZ_ASSERT(rt_filter_match(canon, t, input_rec) == m);
        }
        for (size_t i = 0; i < f->nconds && i < 8; i++) {
            const struct cond *c = &f->conds[i];
            json_t *own = fuzz_record_of(store_column_find(t, c->col), &c->vals[0]);
            if (own) {
                FUZZ_ASSERT(rt_filter_match(f, t, own) == rt_filter_match(canon, t, own));
                bool m[OP_IN + 1];
                fuzz_check_ops(parse_t, t, c, own, m);
                FUZZ_ASSERT(m[OP_EQ] && m[OP_LTE] && m[OP_GTE] && m[OP_IN]);
                json_decref(own);
            }
            if (input_rec) {
                bool m[OP_IN + 1];
                fuzz_check_ops(parse_t, t, c, input_rec, m);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    int ti = data[0] % (FUZZ_NTABLES + 1);
    const struct store_table_desc *t = ti == FUZZ_NTABLES ? NULL : fuzz_table(ti);
    const uint8_t *text = data + 1, *end = data + size;
    const uint8_t *sep = memchr(text, '\0', (size_t)(end - text));
    char *s = fuzz_cstr(text, (size_t)((sep ? sep : end) - text));
    json_t *record = NULL;
    if (sep) {
        record = json_loadb((const char *)sep + 1, (size_t)(end - sep - 1), JSON_REJECT_DUPLICATES,
                            NULL);
        if (!json_is_object(record)) {
            json_decref(record);
            record = NULL;
        }
    }

    struct rt_filter *f = fuzz_parse(s, t);
    struct rt_filter *f2 = fuzz_parse(s, t);
    FUZZ_ASSERT((f == NULL) == (f2 == NULL));
    if (f) {
        FUZZ_ASSERT(strlen(s) <= RT_FILTER_MAX_LEN);
        fuzz_check_filter(f, t);
        FUZZ_ASSERT(fuzz_same_filter(f, f2));
        char *canon_text = fuzz_canonical(f);
        if (strlen(canon_text) <= RT_FILTER_MAX_LEN) {
            struct rt_filter *canon = fuzz_parse(canon_text, t);
            FUZZ_ASSERT(canon != NULL);
            FUZZ_ASSERT(fuzz_same_filter(f, canon));
            char *again = fuzz_canonical(canon);
            FUZZ_ASSERT(strcmp(again, canon_text) == 0);
            free(again);
            fuzz_check_records(f, canon, t, record);
            rt_filter_free(canon);
        }
        free(canon_text);
    }
    rt_filter_free(f);
    rt_filter_free(f2);
    json_decref(record);
    free(s);
    return 0;
}
