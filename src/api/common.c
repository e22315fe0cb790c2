/*
 * Helpers shared by the route files: actors, service errors, optimistic-concurrency input,
 * list queries and list replies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "auth/proxy.h"
#include "base/clock.h"
#include "base/err.h"
#include "store/store.h"
#include "svc/svc.h"

void api_actor(struct api_call *c, struct svc_actor *out)
{
    memset(out, 0, sizeof *out);
    out->who = c->who;
    api_client_ip(c, out->ip, sizeof out->ip);
    snprintf(out->request_id, sizeof out->request_id, "%s", c->req->request_id);
    char ua[256];
    if (api_header(c, "User-Agent", ua, sizeof ua)) {
        snprintf(out->user_agent, sizeof out->user_agent, "%s", ua);
    }
}

/* Append p[0..n) to dst[0..*len) (cap bytes with the NUL); when it does not fit, keep the
 * tail, cut after a comma, so the right-most whole hops survive. */
static void append_tail(char *dst, size_t *len, size_t cap, const char *p, size_t n)
{
    if (*len + n < cap) {
        memcpy(dst + *len, p, n);
        *len += n;
        return;
    }
    if (n >= cap) {
        p += n - (cap - 1);
        n = cap - 1;
        *len = 0;
    } else {
        size_t drop = *len + n - (cap - 1);
        memmove(dst, dst + drop, *len - drop);
        *len -= drop;
    }
    memcpy(dst + *len, p, n);
    *len += n;
    const char *comma = memchr(dst, ',', *len);
    size_t skip = comma ? (size_t)(comma - dst) + 1 : *len;
    memmove(dst, dst + skip, *len - skip);
    *len -= skip;
}

void api_client_ip(struct api_call *c, char *out, size_t outlen)
{
    /* Every X-Forwarded-For field, joined in order (RFC 9110 list semantics). */
    char xff[1024];
    size_t len = 0;
    bool any = false;
    const struct http_head *h = &c->req->head;
    for (size_t i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        if (f->name.len != 15 || strncasecmp(f->name.ptr, "X-Forwarded-For", 15) != 0) {
            continue;
        }
        if (any) {
            append_tail(xff, &len, sizeof xff, ",", 1);
        }
        append_tail(xff, &len, sizeof xff, f->value.ptr, f->value.len);
        any = true;
    }
    xff[len] = '\0';
    auth_client_ip(c->api->proxies, c->req->ip, any ? xff : NULL, out, outlen);
}

int api_svc_result(struct api_call *c, int rc, struct svc_errors *err)
{
    if (rc < 0) {
        if (err->details) {
            json_decref(c->err_details);
            c->err_details = json_incref(err->details);
        }
        if (err->current) {
            json_decref(c->err_current);
            c->err_current = json_incref(err->current);
        }
        if (err->message[0]) {
            snprintf(c->err_msg, sizeof c->err_msg, "%s", err->message);
        }
    }
    svc_errors_release(err);
    return rc;
}

int64_t api_expected_version(struct api_call *c, int *rc)
{
    *rc = 0;
    char v[64];
    const char *h = api_header(c, "If-Match", v, sizeof v);
    if (h) {
        const char *p = h;
        if (!strncmp(p, "W/", 2)) {
            p += 2;
        }
        if (*p == '"') {
            p++;
        }
        char *end;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (errno || end == p || n < 1 || (*end && !(*end == '"' && !end[1]))) {
            *rc = api_invalid(c, "If-Match", "must_be_version_number");
            return 0;
        }
        return n;
    }
    const json_t *ev = c->body ? json_object_get(c->body, "expected_version") : NULL;
    if (ev) {
        if (!json_is_integer(ev) || json_integer_value(ev) < 1) {
            *rc = api_invalid(c, "expected_version", "must_be_positive_integer");
            return 0;
        }
        return json_integer_value(ev);
    }
    return 0;
}

static json_t *typed_value(const struct store_column *col, const char *s)
{
    if (col->type == COL_INT) {
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        return (errno || end == s || *end) ? NULL : json_integer(n);
    }
    if (col->type == COL_BOOL) {
        if (!strcmp(s, "true")) {
            return json_true();
        }
        return !strcmp(s, "false") ? json_false() : NULL;
    }
    if (col->type == COL_TIME) {
        int64_t ms;
        return clock_parse_ms(s, &ms) < 0 ? NULL : json_string(s);
    }
    return json_string(s);
}

int api_list_query(struct api_call *c, const char *table_name, const char *const *eq_params,
                   struct store_query *q)
{
    memset(q, 0, sizeof *q);
    int rc = 0;
    const struct store_table_desc *t = store_table_by_name(table_name);
    const char *limit = api_query(c, "limit");
    if (limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end || end == limit || n < 1 || n > STORE_MAX_LIMIT) {
            rc = api_invalid(c, "limit", "must_be_1_to_500");
        } else {
            q->limit = (size_t)n;
        }
    }
    q->cursor = api_query(c, "cursor");
    q->q = api_query(c, "q");
    if (q->q && !*q->q) {
        q->q = NULL;
    }
    const char *sort = api_query(c, "sort");
    if (sort && *sort) {
        const struct store_column *col = store_column_find(t, sort[0] == '-' ? sort + 1 : sort);
        if (!col || !col->sortable || col->hidden) {
            rc = api_invalid(c, "sort", "unknown_or_unsortable_column");
        } else {
            q->sort = sort;
        }
    }
    for (const char *const *p = eq_params; p && *p; p++) {
        const char *v = api_query(c, *p);
        if (!v) {
            continue;
        }
        const struct store_column *col = store_column_find(t, *p);
        json_t *val = col ? typed_value(col, v) : NULL;
        if (!val || q->nfilters >= STORE_MAX_FILTERS - 1) {
            json_decref(val);
            rc = api_invalid(c, *p, "invalid");
            continue;
        }
        q->filters[q->nfilters++] = (struct store_filter){*p, STORE_EQ, val};
    }
    return rc;
}

void api_list_query_release(struct store_query *q)
{
    for (size_t i = 0; i < q->nfilters; i++) {
        json_decref(q->filters[i].value);
    }
    q->nfilters = 0;
}

int api_reply_page(struct api_call *c, struct svc_page *page)
{
    json_t *body = json_pack("{s:O,s:o,s:I}", "data", page->rows, "next_cursor",
                             page->next_cursor ? json_string(page->next_cursor) : json_null(),
                             "seq", (json_int_t)page->seq);
    if (page->total >= 0) {
        json_object_set_new(body, "total", json_integer(page->total));
    }
    if (page->total_capped) {
        json_object_set_new(body, "total_capped", json_true());
    }
    if (page->counts) {
        json_object_set(body, "counts", page->counts);
    }
    svc_page_release(page);
    return api_reply(c, 200, body);
}

/* ---- generic collection handlers (one place for the shape of list/get/create/...) ---- */

/* ?count_by= names one of the list's enumerated filters (a text column that is not searched:
 * status, role, state, priority): the reply carries "counts": {value: n} over the same rows as
 * "total". Only those, so the answer stays small (never one key per row as with e-mail). */
static int count_by_param(struct api_call *c, enum store_table t, const char *const *eq,
                          const char **out)
{
    *out = NULL;
    const char *v = api_query(c, "count_by");
    if (!v || !*v) {
        return 0;
    }
    for (const char *const *p = eq; p && *p; p++) {
        const struct store_column *col = store_column_find(store_table_desc(t), *p);
        if (!strcmp(*p, v) && col && col->type == COL_TEXT && !col->searchable) {
            *out = *p;
            return 0;
        }
    }
    return api_invalid(c, "count_by", "must_be_a_text_filter_of_the_list");
}

int api_list_page(struct api_call *c, enum store_table t, struct store_query *q,
                  struct svc_page *out)
{
    int rc = svc_list_rows(c->api->svc, &c->who, t, q, out);
    return rc == SB_E_INVAL ? api_fail(c, SB_E_VALIDATION, "invalid cursor or filter") : rc;
}

int api_list_table(struct api_call *c, enum store_table t, const char *const *eq)
{
    struct store_query q;
    const char *count_by = NULL;
    int rc = api_list_query(c, store_table_desc(t)->name, eq, &q);
    if (count_by_param(c, t, eq, &count_by) < 0) {
        rc = SB_E_VALIDATION;
    }
    bool csv = api_wants_csv(c, &rc);
    if (rc == 0 && csv) {
        rc = api_export(c, t, &q, api_list_page, NULL);
    } else if (rc == 0) {
        struct svc_page page;
        rc = svc_list_counted(c->api->svc, &c->who, t, &q, count_by, &page);
        if (rc == SB_E_INVAL) {
            rc = api_fail(c, SB_E_VALIDATION, "invalid cursor or filter");
        }
        if (rc == 0) {
            rc = api_reply_page(c, &page);
        }
    }
    api_list_query_release(&q);
    return rc;
}

int api_get_row(struct api_call *c, enum store_table t)
{
    json_t *row = NULL;
    int rc = svc_get(c->api->svc, &c->who, t, c->params[0], &row);
    return rc < 0 ? rc : api_reply(c, 200, row);
}

int api_create_row(struct api_call *c, api_create_fn fn)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    json_t *out = NULL;
    int rc = api_svc_result(c, fn(c->api->svc, &a, c->body, &out, &err), &err);
    return rc < 0 ? rc : api_reply(c, 201, out);
}

int api_update_row(struct api_call *c, api_update_fn fn)
{
    int rc = 0;
    int64_t version = api_expected_version(c, &rc);
    if (rc < 0) {
        return rc;
    }
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    json_t *out = NULL;
    rc = api_svc_result(c, fn(c->api->svc, &a, c->params[0], c->body, version, &out, &err), &err);
    return rc < 0 ? rc : api_reply(c, 200, out);
}

int api_delete_row(struct api_call *c, api_delete_fn fn)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    int rc = api_svc_result(c, fn(c->api->svc, &a, c->params[0], &err), &err);
    return rc < 0 ? rc : api_reply(c, 200, json_pack("{s:b}", "deleted", 1));
}
