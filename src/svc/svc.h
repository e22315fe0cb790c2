/*
 * Services: the operations of the product (clients, users, agents, messages, audit, auth
 * flows, metrics) on top of the store, with policy deciding access and every state change
 * audited in the same transaction. No HTTP, no SQL.
 *
 * Every function here blocks (store I/O, password hashing): call from worker threads, never
 * from an event loop. Errors are SB_E_* values; validation problems are reported through a
 * struct svc_errors so the API can name each field.
 */
#ifndef SB_SVC_SVC_H
#define SB_SVC_SVC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "store/store.h"

struct svc;

struct svc_config {
    int64_t presence_grace_ms;
    int64_t idle_away_ms; /* connected agents without activity this long go away; 0: off */
};

/* Who is acting, and from where (for the audit log). */
struct svc_actor {
    struct policy_principal who; /* role ROLE_NONE + system=true for the server itself */
    bool system;
    char email[256];
    char ip[48];
    char user_agent[256];
    char request_id[40];
};

/* Field-level problems collected during validation. */
struct svc_errors {
    json_t *details; /* [{field, issue}] or NULL */
    json_t *current; /* for SB_E_VERSION: the current row */
    char message[256];
};

void svc_errors_release(struct svc_errors *e);
/* Add a field problem; returns SB_E_VALIDATION. */
int svc_invalid(struct svc_errors *e, const char *field, const char *issue);

int svc_new(struct store *store, const struct svc_config *cfg, struct svc **out);
void svc_free(struct svc *svc);
struct store *svc_store(struct svc *svc);
/* The server's session state (auth/session.h) that login, refresh, logout and password or
 * user changes issue tokens from and revoke in; not owned, must outlive svc. Set it before
 * serving; without it (`switchboard init`, unit tests of svc) nothing is revoked in memory and
 * no token can be issued. */
struct auth_session;
void svc_set_auth(struct svc *svc, struct auth_session *auth);

/* A system actor (timers, presence, seeding). */
void svc_actor_system(struct svc_actor *out);

/* End a write transaction: commit it when rc is 0, else roll it back. When the result is an
 * error and out is not NULL, *out is released and set to NULL. Returns the final rc. */
int svc_tx_end(struct store_tx *tx, int rc, json_t **out);

/*
 * Append one audit entry for a change made by actor inside tx (the same transaction as the
 * change). before/after are rows (borrowed, may be NULL); secrets are never in them.
 */
int svc_audit(struct store_tx *tx, const struct svc_actor *actor, const char *action,
              const char *entity_type, const char *entity_id, const json_t *before,
              const json_t *after);

/* ---- reads (policy decides the scope) ---- */

struct svc_page {
    json_t *rows;      /* array */
    char *next_cursor; /* malloc'd or NULL */
    int64_t seq;       /* change-log position the read saw */
    int64_t total;     /* rows matching the filters and q over every page; -1 when not counted */
    bool total_capped; /* more than the query's count_max matched: total is count_max */
    json_t *counts;    /* {"<value>": n} of the count_by column over the same rows, or NULL */
};
void svc_page_release(struct svc_page *p);
/* One page of table rows visible to who; q's filters/sort/limit/cursor come from the caller,
 * its scope is set here. out->total counts every matching row, in the same read as the page.
 * SB_E_FORBIDDEN when the role may not read the table. */
int svc_list(struct svc *svc, const struct policy_principal *who, enum store_table table,
             struct store_query *q, struct svc_page *out);
/* svc_list without the count (out->total -1): for readers that walk every page (an export),
 * which would otherwise count the matching rows once per page. */
int svc_list_rows(struct svc *svc, const struct policy_principal *who, enum store_table table,
                  struct store_query *q, struct svc_page *out);
/* svc_list plus out->counts grouped by column count_by (NULL: none; SB_E_INVAL when the
 * column is unknown, hidden or JSON). */
int svc_list_counted(struct svc *svc, const struct policy_principal *who, enum store_table table,
                     struct store_query *q, const char *count_by, struct svc_page *out);
/* One row visible to who, else SB_E_NOTFOUND. */
int svc_get(struct svc *svc, const struct policy_principal *who, enum store_table table,
            const char *id, json_t **out);
/*
 * For caches of read answers (api/cache.c). svc_read_view writes into out (outlen >= 64) a
 * string naming everything about who that svc_list, svc_list_counted and svc_get of table
 * depend on (the policy scope and the active-only rule): two principals with the same view
 * get the same answers to the same request at the same commit generation. SB_E_FORBIDDEN
 * when who may not read the table (svc_get then answers 403 or 404: not cacheable).
 * svc_read_generation: store_read_generation of the service's store (false: do not cache).
 */
int svc_read_view(const struct policy_principal *who, enum store_table table, char *out,
                  size_t outlen);
bool svc_read_generation(struct svc *svc, uint64_t *out);

/* ---- clients (super_admin) ---- */
int svc_client_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                      struct svc_errors *err);
int svc_client_update(struct svc *svc, const struct svc_actor *a, const char *id,
                      const json_t *patch, int64_t expected_version, json_t **out,
                      struct svc_errors *err);
/* Deleting a client deletes its users, agents, messages and history (cascade); its audit
 * entries stay. confirm must be the client's slug or name (SB_E_VALIDATION on "confirm":
 * required / must_match_slug_or_name otherwise; checked after the role and the view). */
int svc_client_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                      const char *confirm, struct svc_errors *err);
/* What deleting client id takes with it, for whoever may read the client:
 * {client_id, name, slug, deletes:{users, agents, messages, agent_history}}. */
int svc_client_impact(struct svc *svc, const struct policy_principal *who, const char *id,
                      json_t **out);

/* ---- users ---- */
int svc_user_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                    struct svc_errors *err);
int svc_user_update(struct svc *svc, const struct svc_actor *a, const char *id, const json_t *patch,
                    int64_t expected_version, json_t **out, struct svc_errors *err);
int svc_user_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                    struct svc_errors *err);

/* ---- authentication flows ---- */
struct svc_tokens {
    char *access_token;     /* malloc'd */
    char refresh_token[48]; /* opaque, shown once */
    int64_t expires_in;     /* seconds */
    json_t *user;
    char device[96]; /* login: a new device cookie value (auth/device.h) */
};
void svc_tokens_release(struct svc_tokens *t);
/* Login: the same SB_E_UNAUTHORIZED (and the same time) for an unknown e-mail, a wrong
 * password, a disabled user or a suspended client; SB_E_RATELIMIT with *retry_after_s. Writes
 * one audit entry either way. ctx carries ip, user agent and request id; device is the
 * device cookie the client sent (NULL: none), and a success sets out->device to a new one. */
int svc_auth_login(struct svc *svc, const struct svc_actor *ctx, const char *email,
                   const char *password, const char *device, struct svc_tokens *out,
                   int *retry_after_s);
/* Rotate a refresh token; reuse of a used one revokes its whole family (audited). */
int svc_auth_refresh(struct svc *svc, const struct svc_actor *ctx, const char *refresh_token,
                     struct svc_tokens *out);
/* Revoke the actor's session (its refresh family and access tokens), or with everywhere
 * every session of the actor's user. */
int svc_auth_logout(struct svc *svc, const struct svc_actor *a, bool everywhere);

/*
 * Change the actor's own password: current_password must match (else SB_E_VALIDATION on
 * current_password: incorrect), new_password 8..256 characters. In one transaction: the new
 * hash, every refresh token of the user revoked, audit "user.update_password" (which revokes
 * the user's access tokens on every node). Then a new session for the caller: *out as from
 * a login (its user set), audited "auth.login" with "after": "password_change". Blocks up to
 * a second (a token from the second of the revocation would be refused). Wrong current
 * passwords count as failed logins of the account from a->ip (auth/ratelimit.h): beyond the
 * limit SB_E_RATELIMIT with *retry_after_s.
 */
int svc_auth_change_password(struct svc *svc, const struct svc_actor *a, const char *current,
                             const char *new_password, struct svc_tokens *out,
                             struct svc_errors *err, int *retry_after_s);
/* Reset tokens: a random token shown once; only its hash is kept (store meta, with the user
 * and its expiry), spent by the first successful svc_auth_reset. */
#define SVC_RESET_TTL_MS (3600LL * 1000)
/*
 * Import users from CSV text (a header naming columns among email, name, role, status,
 * client_id; at most SVC_IMPORT_MAX records), all or nothing: SB_E_VALIDATION with err's
 * details [{row, field, issue}] for every problem found (row 1 is the header) and nothing
 * written, or 0 with *out {created, users:[{row, id, email, role, reset_token,
 * reset_expires_at}]}: each user has no password until its one-time token sets one. Agents
 * get their agent_status row. Audited per user and "user.import" once. default_role (may be
 * NULL) is the role of records without one (no role column, or an empty field); it is
 * checked like a role in the file.
 */
#define SVC_IMPORT_MAX 10000
int svc_user_import(struct svc *svc, const struct svc_actor *a, const char *csv, size_t len,
                    const char *default_role, json_t **out, struct svc_errors *err);
/* Create one for user_id, for an actor who may update that user (else SB_E_NOTFOUND /
 * SB_E_FORBIDDEN as for svc_user_update); audited "user.reset_token". token receives it
 * (AUTH_TOKEN_LEN bytes), *expires_ms its expiry. */
int svc_user_reset_token(struct svc *svc, const struct svc_actor *a, const char *user_id,
                         char token[48], int64_t *expires_ms, struct svc_errors *err);
/* Set a new password with a reset token: SB_E_VALIDATION on token (invalid_or_expired: unknown,
 * spent or expired; nothing changes) or new_password. Revokes every session of the user;
 * audited "user.update_password" with the user as the actor. */
int svc_auth_reset(struct svc *svc, const struct svc_actor *ctx, const char *token,
                   const char *new_password, struct svc_errors *err);

/*
 * The actor's own preferences (svc/prefs.c): the panel's notification settings, the object
 * {message, status, connection, sound} of booleans (defaults true, true, true, false). Every
 * role has its own. get: *out is the complete object (the defaults when none were saved).
 * put: in names keys of that object only, each a boolean; keys left out take their defaults.
 * An unknown key ("unknown_field"), a non-boolean ("must_be_boolean") or in_bytes (the request
 * body's size) over SVC_PREFS_MAX_BYTES ("preferences": "too_large") is SB_E_VALIDATION and
 * changes nothing. A change is audited "user.update_preferences"; *out is the stored object.
 */
#define SVC_PREFS_MAX_BYTES 1024
int svc_prefs_get(struct svc *svc, const struct policy_principal *who, json_t **out);
int svc_prefs_put(struct svc *svc, const struct svc_actor *a, const json_t *in, size_t in_bytes,
                  json_t **out, struct svc_errors *err);

/* Verify the hash chain of the audit log. */
int svc_audit_verify(struct svc *svc, const struct policy_principal *who, int64_t *checked,
                     int64_t *first_bad_seq);

/* Create the first super_admin (switchboard init). SB_E_CONFLICT if the e-mail exists. */
int svc_init_admin(struct svc *svc, const char *email, const char *password);
/* Seed the demo data of DESIGN §3 idempotently. */
int svc_seed_demo(struct svc *svc);

/* ======== domain: agents, presence, statistics, messages, dashboard (issue 5) ======== */

/*
 * Agent status. svc_agent_set_status applies in (one JSON object: "status" and/or "reason",
 * optional "expected_version") to the agent_status row id: in one transaction it updates the
 * row (status_since = now when the status changes, updated_by = the actor or null for the
 * system), closes the open history row and opens a new one, and writes one audit entry
 * "agent_status.update". The same status again with another reason only updates the reason
 * (of the row and of its open history row): no new history row. reason: string of at most
 * SVC_REASON_MAX characters or null.
 * Errors: SB_E_NOTFOUND (no such agent in the actor's view), SB_E_FORBIDDEN (visible but not
 * writable: viewers, an agent's colleague), SB_E_VALIDATION, SB_E_VERSION (err->current).
 */
#define SVC_REASON_MAX 200
#define SVC_BULK_MAX 500
int svc_agent_set_status(struct svc *svc, const struct svc_actor *a, const char *id,
                         const json_t *in, int64_t expected_version, json_t **out,
                         struct svc_errors *err);
/*
 * Bulk status: in is {ids:[...], status, reason}. All or nothing: every id is validated first
 * (1..SVC_BULK_MAX distinct uuids, each an agent the actor may set); one bad id fails the
 * whole call (SB_E_VALIDATION, SB_E_NOTFOUND or SB_E_FORBIDDEN, the id named in err) and
 * changes nothing. On success *out is the array of new rows, each agent with its own history
 * row and audit entry, all in one transaction.
 * Or in is {filter: {status?, q?, client_id?}, expected_count?, status, reason}: every agent
 * the list (GET /agents with those parameters) finds in the actor's write scope, at most
 * SVC_BULK_FILTER_MAX (more: SB_E_VALIDATION on "filter", too_many), read and changed in one
 * transaction; SB_E_FORBIDDEN when one of them is not the actor's to set; SB_E_CONFLICT with
 * err->current {count} when expected_count (the count the user confirmed) differs from what
 * matches now. Each agent gets its history row and audit entry as above, plus one audit entry
 * "agent_status.bulk_update" {count, status, reason, filter}; *out is {updated: n}.
 */
#define SVC_BULK_FILTER_MAX 10000
int svc_agent_bulk_status(struct svc *svc, const struct svc_actor *a, const json_t *in,
                          json_t **out, struct svc_errors *err);
/* History rows of agent id overlapping [from_ms, to_ms] (0: unbounded), oldest first; q carries
 * paging (limit, cursor). SB_E_NOTFOUND when the agent is not visible. */
int svc_agent_history(struct svc *svc, const struct policy_principal *who, const char *id,
                      int64_t from_ms, int64_t to_ms, struct store_query *q, struct svc_page *out);

/* Statistics: the pure arithmetic, separate from the store so tests can script timelines. */
enum svc_status { SVC_ONLINE, SVC_AWAY, SVC_BUSY, SVC_OFFLINE, SVC__NSTATUS };
/* "online" -> SVC_ONLINE; -1 when unknown. */
int svc_status_parse(const char *s);
const char *svc_status_name(int status);
struct svc_interval {
    int status;       /* enum svc_status */
    int64_t start_ms; /* started_at */
    int64_t end_ms;   /* ended_at, or < 0 while open */
};
struct svc_status_time {
    int64_t ms[SVC__NSTATUS]; /* time in each status inside the window */
};
/*
 * Add the time of n intervals clipped to the window [from_ms, to_ms] to acc. An open interval
 * ends at min(now_ms, to_ms); time after now_ms never counts; unknown statuses are ignored.
 */
void svc_stats_accumulate(struct svc_status_time *acc, const struct svc_interval *iv, size_t n,
                          int64_t from_ms, int64_t to_ms, int64_t now_ms);
/* Time covered by any status (the denominator of uptime). */
int64_t svc_stats_covered_ms(const struct svc_status_time *t);
/* {"seconds":{online,away,busy,offline}, "ms":{same, exact integers}, "covered_seconds",
 * "uptime", "occupancy"}: uptime =
 * (online + busy) / covered and occupancy = busy / (online + busy), null when the divisor
 * is 0; seconds are numbers with millisecond precision. New reference. */
json_t *svc_stats_json(const struct svc_status_time *t);
/*
 * GET /agents/stats: per agent and per client over [from_ms, to_ms] at now_ms, for the
 * agents who may see (client_id narrows super_admin to one client; others may only name
 * their own). *out = {from, to, agents:[{agent_id, user_id, client_id, display_name, ...}],
 * clients:[{client_id, agents, ...}]}. SB_E_VALIDATION when from >= to.
 */
int svc_agent_stats(struct svc *svc, const struct policy_principal *who, const char *client_id,
                    int64_t from_ms, int64_t to_ms, int64_t now_ms, json_t **out);

/*
 * Presence: which users have realtime connections, and whose last one went away. A pure,
 * mutex-protected state machine with the clock passed in (any thread):
 * connected() counts a connection (and cancels a pending grace), disconnected() counts one
 * down and, at zero, starts the grace; due() takes the users whose grace ran out
 * (disconnected_at + grace_ms <= now_ms) and forgets them.
 * With an idle time (idle_ms > 0), connected() and active() also stamp the user's last
 * activity, and idle_due() reports users whose connections have been quiet for idle_ms (once,
 * until they are active again) and then, after new activity, reports them back.
 */
struct svc_presence;
struct svc_presence *svc_presence_new(int64_t grace_ms);
void svc_presence_set_idle(struct svc_presence *p, int64_t idle_ms);
void svc_presence_active(struct svc_presence *p, const char *user_id, int64_t now_ms);
/* Up to max users that went idle (back[i] false) or came back from idle (back[i] true). */
size_t svc_presence_idle_due(struct svc_presence *p, int64_t now_ms, char (*out)[64], bool *back,
                             size_t max);
/* Report a user of idle_due() again retry_ms after now_ms (its status write failed). */
void svc_presence_idle_retry(struct svc_presence *p, const char *user_id, bool back, int64_t now_ms,
                             int64_t retry_ms);
void svc_presence_free(struct svc_presence *p);
void svc_presence_connected(struct svc_presence *p, const char *user_id, int64_t now_ms);
void svc_presence_disconnected(struct svc_presence *p, const char *user_id, int64_t now_ms);
/* Copy up to max due user ids (each < 64 bytes) into out; returns how many. Ones that do not
 * fit stay due for the next call. */
size_t svc_presence_due(struct svc_presence *p, int64_t now_ms, char (*out)[64], size_t max);
/* Put users taken by due() back when their offline write failed: each is due again
 * retry_ms after now_ms, unless it reconnected meanwhile. */
void svc_presence_retry(struct svc_presence *p, char (*users)[64], size_t n, int64_t now_ms,
                        int64_t retry_ms);
/* Live connections of user_id as counted here. */
int svc_presence_count(struct svc_presence *p, const char *user_id);
/*
 * Several nodes (cluster): elsewhere(arg, user_id, gone_ms) tells whether another node is in
 * charge of user_id's offline transition, because it still has a connection of the user or
 * lost its last one after gone_ms (this node's time of losing its last one). due() then
 * forgets the user instead of reporting it: the node that saw the last connection go
 * decides. Called from due() with the table's mutex held, so fn must not call back into this
 * table. NULL (the default): one node.
 */
typedef bool (*svc_presence_elsewhere_fn)(void *arg, const char *user_id, int64_t gone_ms);
void svc_presence_set_elsewhere_fn(struct svc_presence *p, svc_presence_elsewhere_fn fn, void *arg);
/* Take over user_id from a node that died: unless the user has a connection here, its grace
 * runs from gone_ms (or from a later loss already counted here). */
void svc_presence_adopt(struct svc_presence *p, const char *user_id, int64_t gone_ms);
/* The service's presence table (grace from svc_config.presence_grace_ms, default 60 s). The
 * realtime engine calls connected/disconnected on each user's connections. */
struct svc_presence *svc_presence_of(struct svc *svc);
/* Set every agent whose grace ran out offline (actor "system", reason "disconnected"); agents
 * already offline are left alone. With idle_away_ms, an online agent idle that long becomes
 * away (reason "idle") and, at its next activity, online again (only when the away still is
 * that automatic one). Returns the number of agents changed or an error; a failed write is
 * tried again a second later. */
int svc_presence_tick(struct svc *svc, int64_t now_ms);

/* ---- system messages ---- */
/*
 * Create: title (1..200), body (1..5000), priority low|normal|high|critical (default normal),
 * starts_at (RFC 3339, default now), expires_at (null or after starts_at), client_id (null =
 * global: super_admin only; admins default to and may only name their own client). The state
 * is set from the times. One audit entry "message.create" / "message.update" /
 * "message.delete" each. SB_E_FORBIDDEN for roles that may not write messages (and for
 * admins touching global ones), SB_E_NOTFOUND for rows outside the actor's view.
 */
int svc_message_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                       struct svc_errors *err);
int svc_message_update(struct svc *svc, const struct svc_actor *a, const char *id,
                       const json_t *patch, int64_t expected_version, json_t **out,
                       struct svc_errors *err);
int svc_message_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                       struct svc_errors *err);
/* "scheduled" | "active" | "expired" for the times at now_ms (expires_ms < 0: never). */
const char *svc_message_state_at(int64_t starts_ms, int64_t expires_ms, int64_t now_ms);
/* Counts of the messages who may see (client_id narrows, may be NULL):
 * {total, by_state:{scheduled,active,expired}, by_priority:{...}, active_by_priority:{...}}. */
int svc_message_stats(struct svc *svc, const struct policy_principal *who, const char *client_id,
                      json_t **out);
/* Move due messages scheduled -> active -> expired as audited row updates (actor "system",
 * actions "message.activate" / "message.expire"). Returns the number of rows changed. */
int svc_messages_tick(struct svc *svc, int64_t now_ms);
/* Retention: delete expired messages whose expires_at is more than retention_ms before now_ms
 * (at most STORE_MAX_LIMIT a call, oldest first), each audited as the system
 * ("message.purge", the row as before). retention_ms <= 0 keeps everything. Returns the
 * number deleted. */
int svc_messages_purge(struct svc *svc, int64_t now_ms, int64_t retention_ms);
/* Delete up to SVC_REFRESH_PRUNE_BATCH refresh tokens that expired one refresh lifetime
 * before now_ms (the jobs thread, every minute): the number deleted, or SB_E_*. A rotated
 * token presented again while its row is kept still revokes its session (theft); after that
 * it is only unknown, as any expired token is refused. 0 without an auth session. */
#define SVC_REFRESH_PRUNE_BATCH 2000
int svc_auth_prune(struct svc *svc, int64_t now_ms);
/* Delete up to SVC_HISTORY_PRUNE_BATCH agent status intervals that ended more than
 * retention_ms before now_ms, in one write transaction (the jobs thread with
 * --history-retention, every minute, and at once again while batches come back full): the
 * number deleted, or SB_E_*. An agent's current (open) interval is never deleted; statistics
 * and history windows reaching further back than the retention find nothing there. The batch
 * is small because it holds the writer: catching up a million rows took the PATCH p99 (c4)
 * to 96 ms with 2,000 a batch, 21 ms with 500 (about 7 minutes then). */
#define SVC_HISTORY_PRUNE_BATCH 500
int svc_agent_history_prune(struct svc *svc, int64_t now_ms, int64_t retention_ms);

/* ---- dashboard metrics ---- */
/* Live realtime connections of a tenant (client_id NULL: all). Called from any thread. */
typedef int64_t (*svc_connections_cb)(void *arg, const char *client_id);
/* Set before other threads use svc; the default counts 0. */
void svc_metrics_set_connections_fn(struct svc *svc, svc_connections_cb fn, void *arg);
/* Feed change-log events for events_per_minute (the realtime hub does, as a consumer of
 * the change log). Thread-safe. */
void svc_metrics_count_changes(struct svc *svc, const struct store_change *c, size_t n);
/*
 * The dashboard snapshot of tenant client_id (NULL: every tenant) at now_ms:
 * {client_id, agents_by_status:{online,away,busy,offline,total},
 *  active_messages_by_priority:{low,normal,high,critical}, active_messages, users,
 *  clients (only for NULL), connections, events_per_minute,
 *  significant:{online_agents_drop, critical_message_active}, at}.
 * online_agents_drop: online agents now at least 20% below the most seen in the last minute.
 * SB_E_NOTFOUND for an unknown client.
 */
int svc_dashboard_snapshot(struct svc *svc, const char *client_id, int64_t now_ms, json_t **out);
/* GET /dashboard: super_admin all or ?client_id=; admins their own client; others 403. */
int svc_dashboard(struct svc *svc, const struct policy_principal *who, const char *client_id,
                  json_t **out);

/*
 * Dashboard history (history.c): the series of snapshots per tenant (client_id NULL: the
 * all-tenants view), one point per metrics interval, 24 h at most (and at most
 * SVC_HISTORY_MAX_POINTS points) per tenant, SVC_HISTORY_MAX_TENANTS tenants; in memory and
 * in the store, so it outlives a restart. The jobs thread records every snapshot it computes
 * and calls svc_history_flush() after each round (and with force when it stops): the points
 * recorded since the last write go to the store in one transaction at most every
 * SVC_HISTORY_FLUSH_MS, with the deletion of forgotten (deleted) tenants' points, and about
 * once a minute the points older than 24 h are pruned; it returns the points written or an
 * error (logged; those points stay in memory only). svc_history_load() fills the series from
 * the store's last 24 h (call it once at start, after svc_history_set_interval and before the
 * first record); it returns the points loaded or an error (logged; the series starts empty).
 */
#define SVC_HISTORY_MAX_POINTS 86401
#define SVC_HISTORY_MAX_TENANTS 2000
#define SVC_HISTORY_FLUSH_MS 10000
void svc_history_set_interval(struct svc *svc, int64_t interval_ms);
void svc_history_record(struct svc *svc, const char *client_id, const json_t *snapshot,
                        int64_t now_ms);
void svc_history_forget(struct svc *svc, const char *client_id);
int svc_history_flush(struct svc *svc, int64_t now_ms, bool force);
int svc_history_load(struct svc *svc, int64_t now_ms);
/*
 * GET /dashboard/history: the points of [from_ms, to_ms] (policy as svc_dashboard: super_admin
 * every tenant or ?client_id, admins their own, others SB_E_FORBIDDEN; an unknown client
 * SB_E_NOTFOUND). More than max_points (0: no limit) are thinned to every k-th, the newest
 * kept. *out = {client_id, from, to, interval_ms (between returned points), points:[{at,
 * online, away, busy, offline, total, active_messages, critical_messages, connections,
 * events_per_minute}]}, oldest first.
 */
int svc_dashboard_history(struct svc *svc, const struct policy_principal *who,
                          const char *client_id, int64_t from_ms, int64_t to_ms, size_t max_points,
                          json_t **out);

/* ======== end of domain section ======== */

#endif
