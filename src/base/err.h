/*
 * One error space for the whole server, generated from one table.
 *
 * Every fallible function returns 0 (or a non-negative count) on success and a negative
 * SB_E* value on failure. Each error has a stable machine code (used in the JSON error
 * format of DESIGN §6), an HTTP status and a human message, all from SB_ERRORS below.
 */
#ifndef SB_BASE_ERR_H
#define SB_BASE_ERR_H

/* X(NAME, machine code, HTTP status, message) */
#define SB_ERRORS(X)                                                                               \
    X(SB_E_NOMEM, "internal", 500, "out of memory")                                                \
    X(SB_E_INVAL, "bad_request", 400, "invalid request")                                           \
    X(SB_E_VALIDATION, "validation_failed", 422, "validation failed")                              \
    X(SB_E_NOTFOUND, "not_found", 404, "not found")                                                \
    X(SB_E_CONFLICT, "conflict", 409, "already exists")                                            \
    X(SB_E_VERSION, "version_conflict", 409, "the row was changed by someone else")                \
    X(SB_E_UNAUTHORIZED, "unauthorized", 401, "authentication required")                           \
    X(SB_E_FORBIDDEN, "forbidden", 403, "not allowed")                                             \
    X(SB_E_RATELIMIT, "rate_limited", 429, "too many requests")                                    \
    X(SB_E_TOOBIG, "payload_too_large", 413, "payload too large")                                  \
    X(SB_E_MEDIA, "unsupported_media_type", 415, "unsupported media type")                         \
    X(SB_E_METHOD, "method_not_allowed", 405, "method not allowed")                                \
    X(SB_E_IO, "io_error", 500, "input/output error")                                              \
    X(SB_E_DB, "database_error", 500, "database error")                                            \
    X(SB_E_UNAVAILABLE, "unavailable", 503, "service unavailable")                                 \
    X(SB_E_PROTO, "protocol_error", 400, "protocol error")                                         \
    X(SB_E_CONFIG, "config_error", 500, "configuration error")                                     \
    X(SB_E_AGAIN, "again", 503, "try again")                                                       \
    X(SB_E_INTERNAL, "internal", 500, "internal error")                                            \
    X(SB_E_SCHEMA, "schema_too_new", 500, "the database schema is newer than this switchboard")

enum sb_err {
    SB_OK = 0,
    SB_E__FIRST = -1000,
#define SB_ERR_ENUM(name, code, status, msg) name,
    SB_ERRORS(SB_ERR_ENUM)
#undef SB_ERR_ENUM
        SB_E__LAST
};

/* Human message for err (0 gives "ok"); never NULL. */
const char *sb_strerror(int err);
/* Stable machine code ("not_found") for err; "ok" for 0. */
const char *err_code(int err);
/* HTTP status for err; 200 for 0, 500 for an unknown value. */
int err_http_status(int err);

#endif
