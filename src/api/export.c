/*
 * CSV export of the list endpoints (?format=csv or Accept: text/csv).
 *
 * A list handler that is asked for CSV builds its query exactly as for JSON (filters, sort,
 * q, the policy scope applied by the service) and hands it to api_export(), which reads the
 * first page on the handler's thread: errors (403, 422) are then ordinary JSON errors. The
 * response is streamed: each page of API_EXPORT_PAGE rows is read on a thread-pool
 * thread (a read transaction of its own, keyset cursor), encoded, and written as one chunk;
 * the next page is read only once the previous chunk has left the connection's queue, so a
 * slow reader holds the export instead of the server buffering the table.
 *
 * Cells follow RFC 4180 (quoted when they hold a comma, quote, CR or LF; quotes doubled;
 * CRLF line ends) with a header row of column names. A text cell starting with = + - @ (or a
 * tab or CR) gets a leading ' so spreadsheets do not evaluate it as a formula.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "svc/svc.h"

/* Rows per page: small enough that a page of large rows stays about a megabyte. */
#define API_EXPORT_PAGE 200

struct api_export {
    enum store_table table;
    api_page_fn fn;
    struct store_query q; /* owns its filter values */
    char *cursor;         /* the next page's cursor */
    bool more;            /* another page follows */
    bool header_done;
    char *chunk; /* the encoded page waiting to be written */
    size_t chunk_len;
    int rc;
    int64_t arg[2]; /* for fn (agent history: the window) */
    uv_work_t work;
};

/* The buffer's cap (1 GiB) is far above one page, so a failed append cannot happen. */
static void put(struct buf *b, const char *p, size_t n)
{
    if (buf_append(b, p, n) < 0) {
        return;
    }
}

static int format_param(struct api_call *c, bool *csv)
{
    const char *f = api_query(c, "format");
    if (f) {
        if (!strcmp(f, "csv")) {
            *csv = true;
            return 0;
        }
        if (!strcmp(f, "json")) {
            *csv = false;
            return 0;
        }
        *csv = false;
        return api_invalid(c, "format", "must_be_json_or_csv");
    }
    char accept[512];
    *csv = api_header(c, "Accept", accept, sizeof accept) && strstr(accept, "text/csv");
    return 0;
}

bool api_wants_csv(struct api_call *c, int *rc)
{
    bool csv = false;
    if (format_param(c, &csv) < 0) {
        *rc = SB_E_VALIDATION;
    }
    return csv;
}

void api_csv_cell(struct buf *out, const char *s, size_t n, bool text)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++) {
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    }
    bool formula = text && n && strchr("=+-@\t\r", s[0]);
    if (quote) {
        put(out, "\"", 1);
    }
    if (formula) {
        put(out, "'", 1);
    }
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *q = quote ? memchr(p, '"', (size_t)(end - p)) : NULL;
        if (!q) {
            put(out, p, (size_t)(end - p));
            break;
        }
        put(out, p, (size_t)(q - p) + 1);
        put(out, "\"", 1);
        p = q + 1;
    }
    if (quote) {
        put(out, "\"", 1);
    }
}

static void csv_value(struct buf *out, const json_t *v)
{
    char num[32];
    int n;
    switch (json_typeof(v)) {
    case JSON_STRING:
        api_csv_cell(out, json_string_value(v), json_string_length(v), true);
        break;
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        put(out, num, (size_t)n);
        break;
    case JSON_REAL:
        n = snprintf(num, sizeof num, "%.17g", json_real_value(v));
        put(out, num, (size_t)n);
        break;
    case JSON_TRUE:
        put(out, "true", 4);
        break;
    case JSON_FALSE:
        put(out, "false", 5);
        break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        size_t len;
        char *s = json_encode(v, &len);
        api_csv_cell(out, s, len, true);
        free(s);
        break;
    }
    default:
        break; /* null: an empty cell */
    }
}

/* Read the next page and encode it (a thread-pool thread, or the handler's). */
static int export_page(struct api_call *c)
{
    struct api_export *ex = c->export;
    const struct store_table_desc *t = store_table_desc(ex->table);
    ex->q.cursor = ex->cursor;
    ex->q.limit = API_EXPORT_PAGE;
    struct svc_page page;
    int rc = ex->fn(c, ex->table, &ex->q, &page);
    if (rc < 0) {
        return rc;
    }
    struct buf out;
    buf_init(&out, (size_t)1 << 30);
    if (!ex->header_done) {
        bool first = true;
        for (size_t i = 0; i < t->ncols; i++) {
            if (!t->cols[i].hidden) {
                if (!first) {
                    put(&out, ",", 1);
                }
                api_csv_cell(&out, t->cols[i].name, strlen(t->cols[i].name), false);
                first = false;
            }
        }
        put(&out, "\r\n", 2);
        ex->header_done = true;
    }
    size_t idx;
    json_t *row;
    json_array_foreach(page.rows, idx, row)
    {
        bool first = true;
        for (size_t i = 0; i < t->ncols; i++) {
            if (t->cols[i].hidden) {
                continue;
            }
            if (!first) {
                put(&out, ",", 1);
            }
            first = false;
            const json_t *v = json_object_get(row, t->cols[i].name);
            if (v) {
                csv_value(&out, v);
            }
        }
        put(&out, "\r\n", 2);
    }
    free(ex->cursor);
    ex->cursor = page.next_cursor;
    page.next_cursor = NULL;
    ex->more = ex->cursor != NULL && json_array_size(page.rows) > 0;
    svc_page_release(&page);
    free(ex->chunk);
    ex->chunk_len = out.len;
    ex->chunk = buf_detach(&out, NULL);
    return 0;
}

void api_export_free(struct api_export *ex)
{
    if (!ex) {
        return;
    }
    api_list_query_release(&ex->q);
    free(ex->cursor);
    free(ex->chunk);
    free(ex);
}

int api_export(struct api_call *c, enum store_table t, struct store_query *q, api_page_fn fn,
               const int64_t *arg)
{
    struct api_export *ex = xcalloc(1, sizeof *ex);
    ex->table = t;
    ex->fn = fn;
    ex->q = *q;
    q->nfilters = 0; /* the export owns the filter values now */
    if (arg) {
        ex->arg[0] = arg[0];
        ex->arg[1] = arg[1];
    }
    c->export = ex;
    int rc = export_page(c);
    if (rc < 0) {
        c->export = NULL;
        api_export_free(ex);
        return rc;
    }
    c->status = 200;
    return 0;
}

const int64_t *api_export_arg(struct api_call *c)
{
    return c->export->arg;
}

/* ---- the loop side ---- */

static void export_send(struct api_call *c);

static void export_finish(struct api_call *c, bool ok)
{
    api_call_record(c, 200);
    net_stream_end(c->req, ok);
    api_call_release(c);
}

static void export_work(uv_work_t *w)
{
    struct api_call *c = w->data;
    c->export->rc = export_page(c);
}

static void export_after(uv_work_t *w, int status)
{
    struct api_call *c = w->data;
    if (status < 0 || c->export->rc < 0) {
        log_event(LOG_ERROR, "export failed",
                  json_pack("{s:s,s:s}", "request_id", c->req->request_id, "error",
                            err_code(status < 0 ? SB_E_INTERNAL : c->export->rc)));
        export_finish(c, false);
        return;
    }
    export_send(c);
}

static void export_next(void *arg)
{
    struct api_call *c = arg;
    c->export->work.data = c;
    if (uv_queue_work(net_request_loop(c->req), &c->export->work, export_work, export_after) < 0) {
        export_finish(c, false);
    }
}

static void export_send(struct api_call *c)
{
    struct api_export *ex = c->export;
    char *chunk = ex->chunk;
    ex->chunk = NULL;
    if (net_stream_write(c->req, chunk, ex->chunk_len) < 0) {
        export_finish(c, false);
        return;
    }
    if (!ex->more) {
        export_finish(c, true);
        return;
    }
    if (net_stream_queued(c->req)) {
        net_stream_on_drain(c->req, export_next, c);
    } else {
        export_next(c);
    }
}

void api_export_start(struct api_call *c)
{
    api_common_headers(c, true);
    const char *name = store_table_desc(c->export->table)->name;
    (void)buf_printf(&c->headers, "Content-Disposition: attachment; filename=\"%s.csv\"\r\n", name);
    struct net_response head = {
        .status = 200,
        .content_type = "text/csv; charset=utf-8",
        .headers = c->headers.data,
        .close = atomic_load(&c->api->draining),
    };
    net_stream_begin(c->req, &head);
    export_send(c);
}
