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

/* Create the first super_admin (switchboard init). SB_E_CONFLICT if the e-mail exists. */
int svc_init_admin(struct svc *svc, const char *email, const char *password);
/* Seed the demo data of DESIGN §3 idempotently. */
int svc_seed_demo(struct svc *svc);

#endif
