/*
 * libswitchboard: the C client of a switchboard server (DESIGN §1, §6, §7).
 *
 * A client holds the server URL and credentials, one realtime WebSocket connection
 * (Phoenix channels, serializer vsn 1.0.0) and any number of channels on it. It reconnects
 * by itself with exponential backoff and jitter, rejoins every channel and resumes
 * postgres_changes subscriptions from the last change-log position it delivered, so a
 * subscription callback sees every event exactly once and in order; when the server can no
 * longer replay the gap (answer recovered:false) the subscription's resync callback fires
 * instead and the application refetches with sb_request().
 *
 * Errors: every fallible call returns 0 (or a count) on success and a negative SB_ERR_*
 * value on failure; a call that fails never fires a callback. sb_errstr() names an error.
 *
 * Memory: the library never aborts on out-of-memory, it returns SB_ERR_NOMEM. Every
 * pointer passed in is copied unless its doc says otherwise; every pointer handed to a
 * callback is valid only during that callback.
 *
 * Threads. A client is driven in exactly one of two ways:
 *   - its own thread: sb_client_start() runs the loop until sb_client_stop();
 *   - the caller's loop: poll sb_client_fd() for sb_client_events() with a timeout of at
 *     most sb_client_timeout_ms(), then call sb_client_process(client, 0); or simply call
 *     sb_client_process(client, timeout_ms) in a loop, which polls for you.
 * Every function taking a client may be called from any thread: a recursive mutex
 * serialises them with the loop. Callbacks fire on the loop thread with that mutex held, so
 * a callback may call any sb_ function on the same client (subscribe, leave, send...)
 * except sb_client_stop() and sb_client_free(); other threads calling into the client
 * wait until the callback returns. Keep callbacks short. sb_request() and sb_login() do
 * blocking HTTP and hold the mutex only to read or store tokens.
 *
 * Transport: http:// and ws:// URLs use plain TCP; https:// and wss:// use OpenSSL with
 * certificate and host name verification (sb_options.tls_no_verify turns it off for
 * tests). Host names are resolved with getaddrinfo, which blocks the loop briefly.
 *
 * The header compiles as C99, C11 and C++.
 */
#ifndef SWITCHBOARD_H
#define SWITCHBOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SB_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define SB_API __attribute__((visibility("default")))
#else
#define SB_API
#endif

#define SB_VERSION_MAJOR 0
#define SB_VERSION_MINOR 1
#define SB_VERSION_PATCH 0
#define SB_VERSION_STRING "0.1.0"

/* Version of the library actually linked ("0.1.0"). */
SB_API const char *sb_version(void);

/* ---- errors ------------------------------------------------------------------------- */

enum sb_error {
    SB_ERR_INVAL = -1,    /* invalid argument */
    SB_ERR_NOMEM = -2,    /* out of memory */
    SB_ERR_URL = -3,      /* malformed or unsupported URL */
    SB_ERR_RESOLVE = -4,  /* host name could not be resolved */
    SB_ERR_CONNECT = -5,  /* TCP connection failed (refused, unreachable) */
    SB_ERR_TLS = -6,      /* TLS handshake or certificate verification failed */
    SB_ERR_TIMEOUT = -7,  /* the operation timed out */
    SB_ERR_PROTO = -8,    /* the server broke the HTTP, WebSocket or Phoenix protocol */
    SB_ERR_HTTP = -9,     /* the server answered an HTTP error status (see sb_response) */
    SB_ERR_AUTH = -10,    /* credentials or token refused (HTTP 401) */
    SB_ERR_CLOSED = -11,  /* not connected, or the channel is not joined */
    SB_ERR_TOOBIG = -12,  /* a message or response exceeds its size limit */
    SB_ERR_IO = -13,      /* a socket or file operation failed */
    SB_ERR_STATE = -14,   /* not allowed in the current state (e.g. already started) */
    SB_ERR_REFUSED = -15, /* the server refused a join or a push (reason in the callback) */
};

/* Human text for an SB_ERR_* value ("connection failed"); "ok" for 0; never NULL. */
SB_API const char *sb_errstr(int err);

/* ---- client --------------------------------------------------------------------------- */

struct sb_client;
struct sb_channel;

enum sb_state {
    SB_STATE_DISCONNECTED = 0, /* not connected and not trying (initial, stopped, or fatal) */
    SB_STATE_CONNECTING,       /* opening the connection (attempt counts tries) */
    SB_STATE_CONNECTED,        /* WebSocket open; channels are (re)joining */
    SB_STATE_RECONNECTING,     /* connection lost or failed; next try after delay_ms */
};

struct sb_state_info {
    enum sb_state state;
    int attempt;        /* CONNECTING/RECONNECTING: failed tries since the last open (0 for
                           the very first try); RECONNECTING's delay uses it as n below */
    int delay_ms;       /* RECONNECTING: the delay before the next try */
    int error;          /* RECONNECTING/DISCONNECTED: the SB_ERR_* cause, 0 if none */
    const char *reason; /* human text for error, or "" (valid during the callback) */
};

/* Fires on the loop thread on every state change. */
typedef void (*sb_state_cb)(struct sb_client *client, const struct sb_state_info *info, void *user);

enum sb_jitter {
    SB_JITTER_FULL = 0, /* delay uniform in [min, ceiling] (the default) */
    SB_JITTER_EQUAL,    /* delay uniform in [ceiling/2, ceiling], at least min */
    SB_JITTER_NONE,     /* delay = ceiling */
};

/*
 * Options for sb_client_new(). Zero means "default" for every field, so
 * `struct sb_options o = {0}` plus a URL is a valid configuration. Strings are copied.
 *
 * Backoff: the ceiling for reconnect attempt n (1-based) is
 * min(reconnect_max_ms, reconnect_min_ms * 2^(n-1)); the delay is drawn from it according
 * to jitter. The attempt counter resets when a connection opens.
 */
struct sb_options {
    const char *url;           /* http[s]://host[:port][/prefix] of the server (required) */
    const char *token;         /* access token (JWT), or NULL */
    const char *refresh_token; /* refresh token, or NULL: used to renew the access token */
    const char *email;         /* with password: log in on connect when there is no token */
    const char *password;
    int reconnect_min_ms;   /* default 500 */
    int reconnect_max_ms;   /* default 30000 */
    enum sb_jitter jitter;  /* default SB_JITTER_FULL */
    int heartbeat_ms;       /* default 25000; a beat unanswered for this long reconnects */
    int connect_timeout_ms; /* TCP + TLS + upgrade, default 10000 */
    int request_timeout_ms; /* sb_request(), default 30000 */
    int tls_no_verify;      /* non-zero: skip certificate verification (tests only) */
    const char *ca_file;    /* PEM CA bundle instead of the system store, or NULL */
    sb_state_cb on_state;   /* connection-state callback, or NULL */
    void *user;             /* passed to on_state */
};

/*
 * Create a client (no I/O yet). Returns 0 and *out, or SB_ERR_INVAL (no URL),
 * SB_ERR_URL (malformed URL or unknown scheme) or SB_ERR_NOMEM.
 */
SB_API int sb_client_new(const struct sb_options *opts, struct sb_client **out);

/* Stop (if started), close and free the client and all its channels. NULL is a no-op.
 * Not from a callback. */
SB_API void sb_client_free(struct sb_client *client);

/* Begin connecting (non-blocking). The state callback reports progress. SB_ERR_STATE when
 * already connecting or connected. */
SB_API int sb_client_connect(struct sb_client *client);

/* Close the connection and stop reconnecting (state DISCONNECTED). Channels are kept and
 * rejoin on the next sb_client_connect(). */
SB_API void sb_client_disconnect(struct sb_client *client);

/* Start a thread that connects and runs the loop. SB_ERR_STATE if already started. */
SB_API int sb_client_start(struct sb_client *client);

/* Disconnect and join the loop thread started by sb_client_start(). Not from a callback. */
SB_API void sb_client_stop(struct sb_client *client);

/* Caller-driven loop: the socket to poll (or -1), the poll events wanted on it (POLLIN,
 * POLLOUT bits), and the longest the caller may wait before calling sb_client_process()
 * (-1: no timer). Re-read all three after every sb_ call. */
SB_API int sb_client_fd(const struct sb_client *client);
SB_API int sb_client_events(const struct sb_client *client);
SB_API int sb_client_timeout_ms(const struct sb_client *client);

/* Wait up to timeout_ms (0: do not wait) for I/O, then handle I/O and due timers, firing
 * callbacks. Returns 0, or SB_ERR_STATE when the loop runs in its own thread. */
SB_API int sb_client_process(struct sb_client *client, int timeout_ms);

/* Current state. */
SB_API enum sb_state sb_client_state(const struct sb_client *client);

/* Text of the last error the client met (connection, login, join), "" if none. The string
 * is copied into buf (NUL-terminated, truncated to len). */
SB_API void sb_client_last_error(struct sb_client *client, char *buf, size_t len);

/* ---- credentials ------------------------------------------------------------------------ */

/*
 * Log in with email and password (POST /api/v1/auth/login, blocking). On success the
 * client keeps the access and refresh tokens. SB_ERR_AUTH for bad credentials, other
 * errors for transport failures.
 */
SB_API int sb_login(struct sb_client *client, const char *email, const char *password);

/* Renew the access token with the refresh token (POST /api/v1/auth/refresh, blocking,
 * rotation). Joined channels receive the new token. SB_ERR_AUTH if refused. */
SB_API int sb_refresh(struct sb_client *client);

/* Replace the access token (e.g. obtained elsewhere). Joined channels receive it as a
 * Phoenix access_token push; the next connection uses it. */
SB_API int sb_client_set_token(struct sb_client *client, const char *token);

/* Copy the current access / refresh token into buf. Returns its length, 0 if there is none,
 * or SB_ERR_TOOBIG if len is too small. */
SB_API int sb_client_token(struct sb_client *client, char *buf, size_t len);
SB_API int sb_client_refresh_token(struct sb_client *client, char *buf, size_t len);

/* ---- REST helper ------------------------------------------------------------------------ */

/* An HTTP response. body is NUL-terminated (len excludes the NUL). For an error status the
 * server's {"error":{code,message}} is also split out (empty strings when absent). */
struct sb_response {
    int status;
    char *body;
    size_t body_len;
    char error_code[64];
    char error_message[256];
};

/*
 * Send a JSON request to the server, blocking: method "GET"/"POST"/"PATCH"/"DELETE", path
 * relative to the URL ("/api/v1/agents?status=online"), body JSON text or NULL. The access
 * token goes in Authorization: Bearer; a 401 with a refresh token available refreshes once
 * and retries. Returns 0 when a response was received (any status: check out->status),
 * or a negative transport error. Release the response with sb_response_release().
 * May be called from any thread, including callbacks (it blocks the loop meanwhile).
 */
SB_API int sb_request(struct sb_client *client, const char *method, const char *path,
                      const char *body, struct sb_response *out);

/* Same, with an If-Match: <version> header when if_match > 0. */
SB_API int sb_request_ex(struct sb_client *client, const char *method, const char *path,
                         const char *body, long long if_match, struct sb_response *out);

SB_API void sb_response_release(struct sb_response *resp);

/*
 * GET path with Accept: accept (NULL: any) and hand a 200 body to sink as it arrives, never
 * holding it whole (for exports: "/api/v1/users?format=csv"). sink returns 0, or < 0 to stop
 * (the call then returns SB_ERR_INVAL). Any other status is read whole into out as for
 * sb_request (out->status, error_code, error_message; out->status is 200 after a complete
 * body). A 401 refreshes once as sb_request does. Returns 0 or a negative transport error
 * (SB_ERR_PROTO also when the body ended early). request_timeout_ms bounds each silence, not
 * the whole download.
 */
SB_API int sb_download(struct sb_client *client, const char *path, const char *accept,
                       int (*sink)(const char *data, size_t len, void *user), void *user,
                       struct sb_response *out);

/* ---- channels ------------------------------------------------------------------------- */

/* One postgres_changes event. Strings are JSON text or NULL when absent. */
struct sb_change {
    const char *table;            /* "agent_status" */
    const char *type;             /* "INSERT" | "UPDATE" | "DELETE" */
    long long seq;                /* change-log position (data.seq), -1 if absent */
    const char *commit_timestamp; /* RFC 3339 */
    const char *record;           /* JSON object text, NULL for DELETE */
    const char *old_record;       /* JSON object text, NULL for INSERT */
    const char *json;             /* the whole data object as JSON text */
};

/* A postgres_changes event for a subscription (loop thread). */
typedef void (*sb_change_cb)(struct sb_channel *ch, const struct sb_change *change, void *user);

/* The server could not replay the gap after a reconnect (recovered:false): refetch state.
 * Later events are delivered as usual (loop thread). */
typedef void (*sb_resync_cb)(struct sb_channel *ch, void *user);

enum sb_channel_status {
    SB_CHANNEL_JOINED = 1, /* join acknowledged (after every rejoin too) */
    SB_CHANNEL_RESUMED,    /* the server finished replaying the gap (recovered:true) */
    SB_CHANNEL_ERROR,      /* join refused or channel error; message says why */
    SB_CHANNEL_CLOSED,     /* the server closed the channel (message says why) */
};

/* Channel status changes (loop thread). message is "" or the server's reason. */
typedef void (*sb_channel_status_cb)(struct sb_channel *ch, enum sb_channel_status status,
                                     const char *message, void *user);

/* A broadcast on a channel: event name and payload JSON text (loop thread). The channel's own
 * broadcasts arrive too only with broadcast_self. */
typedef void (*sb_broadcast_cb)(struct sb_channel *ch, const char *event, const char *payload,
                                void *user);

/*
 * Presence on a channel (loop thread), json being the server's payload as JSON text:
 *   kind "state": once after every (re)join, the whole map
 *                 {"<key>":{"metas":[{"phx_ref":"...", <tracked fields>}, ...]}, ...};
 *   kind "diff":  on every track, untrack, leave or disconnect in the channel, this client's
 *                 own included: {"joins":{<same map>},"leaves":{<same map>}}.
 * Apply the diffs to the last state, matching metas by phx_ref (as phoenix.js does).
 */
typedef void (*sb_presence_cb)(struct sb_channel *ch, const char *kind, const char *json,
                               void *user);

struct sb_subscribe_options {
    const char *event;              /* "*" (NULL), "INSERT", "UPDATE" or "DELETE" */
    const char *filter;             /* "col=op.value[,...]" or NULL */
    long long since;                /* resume from this seq on the first join; 0: not set */
    sb_change_cb on_change;         /* required */
    sb_resync_cb on_resync;         /* or NULL */
    sb_channel_status_cb on_status; /* or NULL */
    void *user;
};

/*
 * Subscribe to changes of table ("agent_status", "system_messages", "clients", "users",
 * "audit_logs" or "*") on a channel of its own. The join is sent now if connected,
 * otherwise on connect. Returns 0 and *out (owned by the client until sb_unsubscribe() or
 * sb_client_free()).
 */
SB_API int sb_subscribe(struct sb_client *client, const char *table, const char *event,
                        const char *filter, sb_change_cb cb, void *user, struct sb_channel **out);
SB_API int sb_subscribe_ex(struct sb_client *client, const char *table,
                           const struct sb_subscribe_options *opts, struct sb_channel **out);

/* Leave and free a subscription or channel. No callback fires for it afterwards. From inside
 * a callback ch stays valid until the callback returns (see sb_channel_leave()); leaving it
 * again there returns SB_ERR_CLOSED. */
SB_API int sb_unsubscribe(struct sb_channel *ch);

/* Position of the last event delivered to a subscription (0 if none yet, or ch is NULL). */
SB_API long long sb_channel_last_seq(const struct sb_channel *ch);

/*
 * Presence is on when presence_key or on_presence is set: the server then sends the state
 * after every join. The key names this client in the presence map; NULL or "" lets the server
 * pick one (a UUID) at the first track.
 */
struct sb_channel_options {
    int broadcast_self;       /* receive own broadcasts */
    int broadcast_ack;        /* ask the server to acknowledge each broadcast */
    const char *presence_key; /* this client's presence key, or NULL */
    sb_broadcast_cb on_broadcast;
    sb_presence_cb on_presence;
    sb_channel_status_cb on_status;
    void *user;
};

/* Join topic "realtime:<name>" for broadcast and presence. The join is sent now if
 * connected, otherwise on connect; on_status reports SB_CHANNEL_JOINED. Returns 0 and *out
 * (owned by the client until sb_channel_leave() or sb_client_free()), SB_ERR_INVAL or
 * SB_ERR_NOMEM. */
SB_API int sb_channel_join(struct sb_client *client, const char *name,
                           const struct sb_channel_options *opts, struct sb_channel **out);

/* Same as sb_unsubscribe(): ch is freed. Inside a callback, a channel left there stays valid
 * until the callback returns, and sb_channel_send/track/untrack/leave on it then return
 * SB_ERR_CLOSED without reaching the server. Other presences see this client leave. */
SB_API int sb_channel_leave(struct sb_channel *ch);

/* Broadcast event with payload (JSON object text, NULL for {}) to the channel. SB_ERR_CLOSED
 * when the channel is not joined (not yet, not connected, closed by the server, or left);
 * SB_ERR_INVAL for payload that is not a JSON object. 0 means queued; a broadcast the server
 * refuses is not reported. */
SB_API int sb_channel_send(struct sb_channel *ch, const char *event, const char *payload);

/*
 * Track this client's presence with meta (JSON object text), replacing any earlier meta; sent
 * now if joined, otherwise at the next join, and re-tracked after every rejoin until
 * sb_channel_untrack(). SB_ERR_INVAL for meta that is not a JSON object; SB_ERR_CLOSED once
 * the channel was left or closed by the server (SB_CHANNEL_CLOSED), as it never rejoins.
 */
SB_API int sb_channel_track(struct sb_channel *ch, const char *meta);
/* Stop tracking (others see a leave). 0 also when nothing was tracked; SB_ERR_CLOSED once
 * the channel was left. */
SB_API int sb_channel_untrack(struct sb_channel *ch);

/* The client a channel belongs to. */
SB_API struct sb_client *sb_channel_client(const struct sb_channel *ch);

#ifdef __cplusplus
}
#endif

#endif
