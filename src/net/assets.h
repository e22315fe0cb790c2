/*
 * Static assets embedded into the binary at build time (scripts/embed.cmake generates the
 * table from web/dist or web/placeholder).
 */
#ifndef SB_NET_ASSETS_H
#define SB_NET_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted strong ETag */
};

/* Terminated by an entry whose path is NULL. */
extern const struct asset assets_table[];

#endif
