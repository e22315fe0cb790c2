/*
 * Error text for the SDK's SB_ERR_* values and the library version. One table, so the
 * numbers in switchboard.h and their messages cannot drift apart.
 */
#include "sbc_int.h"

static const struct {
    int err;
    const char *msg;
} errors[] = {
    {SB_ERR_INVAL, "invalid argument"},
    {SB_ERR_NOMEM, "out of memory"},
    {SB_ERR_URL, "malformed or unsupported URL (expected http[s]://host[:port][/path])"},
    {SB_ERR_RESOLVE, "host name could not be resolved"},
    {SB_ERR_CONNECT, "connection failed"},
    {SB_ERR_TLS, "TLS handshake or certificate verification failed"},
    {SB_ERR_TIMEOUT, "timed out"},
    {SB_ERR_PROTO, "protocol error"},
    {SB_ERR_HTTP, "the server answered with an error"},
    {SB_ERR_AUTH, "authentication failed (bad credentials or token)"},
    {SB_ERR_CLOSED, "not connected or not joined"},
    {SB_ERR_TOOBIG, "message too large"},
    {SB_ERR_IO, "input/output error"},
    {SB_ERR_STATE, "not allowed in the current state"},
    {SB_ERR_REFUSED, "refused by the server"},
};

SB_API const char *sb_errstr(int err)
{
    if (err >= 0) {
        return "ok";
    }
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].err == err) {
            return errors[i].msg;
        }
    }
    return "unknown error";
}

SB_API const char *sb_version(void)
{
    return SB_VERSION_STRING;
}
