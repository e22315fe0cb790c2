/*
 * Lookup functions for the error table in err.h. The table is the only place an error's
 * code, status and message are written down.
 */
#include "base/err.h"

struct err_info {
    const char *code;
    int status;
    const char *msg;
};

static const struct err_info err_table[] = {
#define SB_ERR_ROW(name, code, status, msg) {code, status, msg},
    SB_ERRORS(SB_ERR_ROW)
#undef SB_ERR_ROW
};

static const struct err_info *err_find(int err)
{
    if (err <= SB_E__FIRST || err >= SB_E__LAST) {
        return 0;
    }
    return &err_table[err - SB_E__FIRST - 1];
}

const char *sb_strerror(int err)
{
    if (err >= 0) {
        return "ok";
    }
    const struct err_info *e = err_find(err);
    return e ? e->msg : "unknown error";
}

const char *err_code(int err)
{
    if (err >= 0) {
        return "ok";
    }
    const struct err_info *e = err_find(err);
    return e ? e->code : "internal";
}

int err_http_status(int err)
{
    if (err >= 0) {
        return 200;
    }
    const struct err_info *e = err_find(err);
    return e ? e->status : 500;
}
