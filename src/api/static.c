/*
 * The web panel's files: from the table embedded at build time (net/assets.h), or from
 * --web-dir on disk while developing. "/" is index.html. Strong ETags (content hashes for
 * embedded files, size+mtime on disk) and 304 on If-None-Match. Paths with ".." or hidden
 * segments are refused.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "net/assets.h"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

static bool path_is_safe(const char *p)
{
    if (p[0] != '/' || strstr(p, "/.") || strchr(p, '\\')) {
        return false;
    }
    return true;
}

static int not_modified(struct api_call *c, const char *etag)
{
    char inm[256];
    const char *v = api_header(c, "If-None-Match", inm, sizeof inm);
    return v && (strstr(v, etag) || strcmp(v, "*") == 0);
}

static int serve_disk(struct api_call *c, const char *path)
{
    char full[4096];
    int flen = snprintf(full, sizeof full, "%s%s", c->api->web_dir, path);
    if (flen < 0 || (size_t)flen >= sizeof full) {
        return api_fail(c, SB_E_NOTFOUND, "no such file");
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return api_fail(c, SB_E_NOTFOUND, "no such file");
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 64 * 1024 * 1024) {
        close(fd);
        return api_fail(c, SB_E_NOTFOUND, "no such file");
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    buf_init(&c->headers, 4096);
    (void)buf_printf(&c->headers, "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
    if (not_modified(c, etag)) {
        close(fd);
        c->status = 304;
        return 0;
    }
    char *data = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    c->status = 200;
    c->raw = data;
    c->raw_len = got;
    c->raw_type = content_type(path);
    return 0;
}

int api_static(struct api_call *c, const char *path)
{
    if (strcmp(path, "/") == 0) {
        path = "/index.html";
    }
    if (!path_is_safe(path)) {
        return api_fail(c, SB_E_NOTFOUND, "no such file");
    }
    if (c->api->web_dir) {
        return serve_disk(c, path);
    }
    for (const struct asset *a = assets_table; a->path; a++) {
        if (strcmp(a->path, path) != 0) {
            continue;
        }
        buf_init(&c->headers, 4096);
        (void)buf_printf(&c->headers, "ETag: %s\r\nCache-Control: no-cache\r\n", a->etag);
        if (not_modified(c, a->etag)) {
            c->status = 304;
            return 0;
        }
        c->status = 200;
        c->raw = (char *)a->data;
        c->raw_len = a->len;
        c->raw_static = true;
        c->raw_type = content_type(path);
        return 0;
    }
    return api_fail(c, SB_E_NOTFOUND, "no such file");
}
