/*
 * Every size and time cap the server puts on what a peer can make it hold, in one place
 * (modelled on curl's DYN_* list in lib/dynbuf.h). Code uses these names, never bare
 * numbers; docs/limits.md lists the same caps for operators.
 *
 * Each entry says: the default, the config key that changes it ("fixed" when none; keys are
 * INI names, flags are --key-with-dashes, environment SWITCHBOARD_KEY), and what a peer gets
 * beyond it. A config key's default in src/app/config.c must spell the same value.
 *
 * Sizes are bytes, times milliseconds. Only libc types are used here (base/ rule).
 */
#ifndef SB_BASE_LIMITS_H
#define SB_BASE_LIMITS_H

/* ---- HTTP requests (net/http codec and net/server.c) ---- */

/* Request line. Key max_request_line; 414 beyond. */
#define SB_LIMIT_REQUEST_LINE (8 * 1024)
/* Whole request head. Key max_header_bytes; 431 beyond. */
#define SB_LIMIT_HEADER_BYTES (32 * 1024)
/* Header fields per request. Key max_header_fields (1..SB_LIMIT_HEADER_FIELDS_MAX); 431. */
#define SB_LIMIT_HEADER_FIELDS 100
#define SB_LIMIT_HEADER_FIELDS_MAX 1000
/* Request body. Key max_body; 413 before reading it. */
#define SB_LIMIT_BODY (1024 * 1024)
/* Chunked encoding: one chunk-size line, the trailer block, hex digits of a size. Fixed;
 * 400 beyond. */
#define SB_LIMIT_CHUNK_LINE 4096
#define SB_LIMIT_CHUNK_TRAILER 8192
#define SB_LIMIT_CHUNK_DIGITS 16
/* Spare input room past head + body, for the start of the next pipelined request. Fixed. */
#define SB_LIMIT_INPUT_SLACK 4096
/* Response head we build (status line, security headers, extra headers). Fixed. */
#define SB_LIMIT_RESPONSE_HEAD (64 * 1024)

/* The whole request head must arrive within this. Key header_timeout; 408 then close. */
#define SB_LIMIT_HEADER_TIMEOUT_MS 10000
/*
 * Request body time: the body must start arriving and keep arriving within body_timeout of
 * the last read, and the whole body must arrive by body_timeout plus one second for every
 * body_min_rate bytes received (Apache mod_reqtimeout's MinRate, nginx's
 * client_body_timeout), so a body trickled a byte at a time cannot hold a connection.
 * Keys body_timeout (0, the default: header_timeout) and body_min_rate (bytes per
 * second, 0: no total); 408 then close.
 */
#define SB_LIMIT_BODY_TIMEOUT_MS 10000
#define SB_LIMIT_BODY_MIN_RATE 1024
/* Keep-alive connection idle between requests, and a connection whose reading is paused for
 * output back-pressure while the peer takes none of our bytes. Key idle_timeout; closed
 * (reset when our output is stuck). */
#define SB_LIMIT_IDLE_TIMEOUT_MS 60000

/* ---- Connections (net/server.c) ---- */

/* Open connections per worker loop. Fixed; beyond it a new connection is closed at once. */
#define SB_LIMIT_CONNECTIONS_PER_WORKER 20000
/* Open connections from one peer IP address, over all workers. Key max_connections_per_ip
 * (0: no limit); 429 {"error":{"code":"too_many_connections"}} then close. */
#define SB_LIMIT_CONNECTIONS_PER_IP 4096
/*
 * Outbound bytes queued per connection (handed to the socket, not yet written). Key
 * ws_max_queue. A WebSocket send (data or control frame, pongs included) past it closes the
 * connection with 4008 (slow consumer); an HTTP connection past it stops reading requests
 * until the queue drains to half of it (back-pressure for pipelined requests).
 */
#define SB_LIMIT_OUT_QUEUE (1024 * 1024)
/*
 * Every close has a deadline: a connection we are closing whose peer takes none of our last
 * bytes for this long (nothing acknowledged: libuv's queue and the kernel's send queue do not
 * shrink) is reset (SO_LINGER 0) and freed. A slow peer that keeps reading is not cut. Key
 * close_timeout.
 */
#define SB_LIMIT_CLOSE_TIMEOUT_MS 5000
/* After our side has shut down cleanly, input is discarded this long so the peer can read
 * our answer instead of a reset. Fixed. */
#define SB_LIMIT_LINGER_MS 2000
/* listen(2) backlog. Fixed. */
#define SB_LIMIT_LISTEN_BACKLOG 1024
/* How often each worker checks its connections' deadlines (the resolution of every time cap
 * above). Fixed. */
#define SB_LIMIT_SWEEP_MS 250

/* ---- HTTP read cache (api/cache.c) ---- */

/* Encoded answers of authenticated list/get reads kept for reuse at the same commit
 * generation, shared by every worker. Entries, bytes of keys and bodies together, and one
 * body (a larger answer is not kept). Fixed. */
#define SB_LIMIT_READ_CACHE_ENTRIES 256
#define SB_LIMIT_READ_CACHE_BYTES (4 * 1024 * 1024)
#define SB_LIMIT_READ_CACHE_ENTRY_BYTES (256 * 1024)
/* An entry is used for at most this long, so that a write into the SQLite file by another
 * process (which bumps no generation of ours) shows within it, as the realtime hub's tail
 * shows it. Fixed. */
#define SB_LIMIT_READ_CACHE_AGE_MS 1000

/* The audit list's `total` counts at most this many entries ("total_capped": true when more
 * match): the count of a large log, rerun by every open viewer after each burst of changes,
 * costs no more than this many rows. */
#define SB_LIMIT_AUDIT_TOTAL 10000

/* ---- WebSocket (net/ws.c, net/ws codec) ---- */

/* One message (after reassembly). Key ws_max_message; close 1009. */
#define SB_LIMIT_WS_MESSAGE (1024 * 1024)
/* No frame from the peer for this long. Fixed (DESIGN §7: 60 s); close 1000. */
#define SB_LIMIT_WS_IDLE_TIMEOUT_MS 60000
/* Spare frame gatherers kept per worker for corking. Fixed. */
#define SB_LIMIT_WS_CORK_SPARES 32

/* ---- Realtime channels (src/realtime) ---- */

/* Channels per connection. Key max_channels; join error "too many channels". */
#define SB_LIMIT_RT_CHANNELS 100
/* postgres_changes bindings per channel. Fixed; join error "too many bindings". */
#define SB_LIMIT_RT_BINDINGS 100
/* The postgres_changes specs (compact JSON) of all channels of one connection: the parsed
 * filters cost about what their text does. Key max_subscription_bytes; join error "too many
 * subscriptions". */
#define SB_LIMIT_RT_SUBSCRIPTION_BYTES (128 * 1024)
/* One presence track payload (compact JSON); every later join gets the topic's whole state.
 * Key max_presence_bytes; reply error "presence payload too large". */
#define SB_LIMIT_RT_PRESENCE_BYTES (8 * 1024)
/* Realtime connections of one user, over all workers. Key max_user_connections (0: no
 * limit); the upgrade answers 429. */
#define SB_LIMIT_RT_USER_CONNECTIONS 100

#endif
