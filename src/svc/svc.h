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

/* A system actor (timers, presence, seeding). */
void svc_actor_system(struct svc_actor *out);

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
};
void svc_page_release(struct svc_page *p);
/* One page of table rows visible to who; q's filters/sort/limit/cursor come from the caller,
 * its scope is set here. SB_E_FORBIDDEN when the role may not read the table. */
int svc_list(struct svc *svc, const struct policy_principal *who, enum store_table table,
             struct store_query *q, struct svc_page *out);
/* One row visible to who, else SB_E_NOTFOUND. */
int svc_get(struct svc *svc, const struct policy_principal *who, enum store_table table,
            const char *id, json_t **out);

/* ---- clients (super_admin) ---- */
int svc_client_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                      struct svc_errors *err);
int svc_client_update(struct svc *svc, const struct svc_actor *a, const char *id,
                      const json_t *patch, int64_t expected_version, json_t **out,
                      struct svc_errors *err);
/* Deleting a client deletes its users, agents, messages and history (cascade); its audit
 * entries stay. */
int svc_client_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                      struct svc_errors *err);

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
};
void svc_tokens_release(struct svc_tokens *t);
/* Login: the same SB_E_UNAUTHORIZED (and the same time) for an unknown e-mail, a wrong
 * password, a disabled user or a suspended client; SB_E_RATELIMIT with *retry_after_s. Writes
 * one audit entry either way. ctx carries ip, user agent and request id. */
int svc_auth_login(struct svc *svc, const struct svc_actor *ctx, const char *email,
                   const char *password, struct svc_tokens *out, int *retry_after_s);
/* Rotate a refresh token; reuse of a used one revokes its whole family (audited). */
int svc_auth_refresh(struct svc *svc, const struct svc_actor *ctx, const char *refresh_token,
                     struct svc_tokens *out);
/* Revoke the actor's session (its refresh family and access tokens). */
int svc_auth_logout(struct svc *svc, const struct svc_actor *a);

/* Verify the hash chain of the audit log. */
int svc_audit_verify(struct svc *svc, const struct policy_principal *who, int64_t *checked,
                     int64_t *first_bad_seq);

/* Create the first super_admin (switchboard init). SB_E_CONFLICT if the e-mail exists. */
int svc_init_admin(struct svc *svc, const char *email, const char *password);
/* Seed the demo data of DESIGN §3 idempotently. */
int svc_seed_demo(struct svc *svc);

#endif
