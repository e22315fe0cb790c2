/*
 * Background jobs of the server: one thread that
 *   - every tick (about 200 ms) moves system messages scheduled -> active -> expired
 *     (svc_messages_tick) and sets agents offline whose presence grace ran out
 *     (svc_presence_tick), so both show up within a second of their time;
 *   - every second, with a message retention, deletes messages expired longer ago than it
 *     (svc_messages_purge);
 *   - every minute deletes refresh tokens expired a refresh lifetime ago (svc_auth_prune),
 *     batch after batch while there are more;
 *   - every metrics interval computes the dashboard snapshot of every client and of the
 *     all-tenants view, and hands each one that changed (ignoring its "at" timestamp) to the
 *     publish callback.
 *
 * It does not read the change log: the realtime hub is its one reader and hands each page to
 * svc_metrics_count_changes (main registers it with rt_add_consumer).
 *
 * Lifecycle: svc_jobs_start() from main after the store is migrated and svc exists;
 * svc_jobs_stop() before svc_free()/store_free(). The thread blocks on the store, never on a
 * loop, and must not outlive svc.
 */
#ifndef SB_SVC_JOBS_H
#define SB_SVC_JOBS_H

#include <stdint.h>

struct svc_jobs;
struct svc;

/*
 * A changed dashboard snapshot: client_id is the tenant (NULL: the all-tenants view that
 * super_admins see without ?client_id), json the snapshot as compact JSON text (the same
 * object GET /api/v1/dashboard returns), both borrowed for the call. Fires on the jobs
 * thread; it must not call svc_jobs_stop(). Meant for
 * rt_broadcast_tenant(rt, client_id, "realtime:dashboard", "metrics", json).
 */
typedef void (*svc_jobs_publish_fn)(void *arg, const char *client_id, const char *json);

struct svc_jobs_config {
    int64_t tick_ms;              /* messages and presence tick; <= 0: 200 */
    int64_t metrics_interval_ms;  /* dashboard snapshots; <= 0: 2000 */
    int64_t message_retention_ms; /* delete messages expired this long ago, each second; 0: never */
    int64_t history_retention_ms; /* delete status intervals ended this long ago; 0: never */
    svc_jobs_publish_fn publish;  /* may be NULL (snapshots are then only computed) */
    void *publish_arg;
};

/* Start the jobs thread. Returns 0 with *out, or SB_E_INTERNAL when no thread can be made. */
int svc_jobs_start(struct svc_jobs **out, struct svc *svc, const struct svc_jobs_config *cfg);
/* Stop and join the thread (returns within one tick plus the job in progress), then free.
 * NULL is a no-op. */
void svc_jobs_stop(struct svc_jobs *self);

#endif
