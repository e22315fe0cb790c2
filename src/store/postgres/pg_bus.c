/*
 * The cluster bus over PostgreSQL (store.h: store_bus_publish and the bus hook): NOTIFY on
 * the channel switchboard_bus carries small messages between the nodes of one database.
 *
 * Publishing. store_bus_publish copies the message into a FIFO (struct pg_bus: a singly
 * linked list under mu) and signals the publisher thread; it never touches the database, so
 * a slow or restarting server can never block an event loop. The queue is bounded in bytes
 * (BUS_QUEUE_MAX): beyond it the oldest messages are dropped and counted, which is the
 * at-most-once contract (a lost broadcast, a presence diff that the receivers' version check
 * repairs; src/realtime/cluster.c). The publisher thread has a connection of its own; it
 * takes everything queued and packs it into NOTIFY payloads of at most BUS_PAYLOAD_MAX bytes
 * (PostgreSQL refuses 8000 and more), several messages per payload:
 *
 *     payload = <packet number> "\n" item*
 *     item    = "m" <length> ":" <length bytes of message>   (inline)
 *             | "s" <bus_spill id> ";"                        (spilled)
 *
 * The packet number makes every payload distinct (PostgreSQL folds identical payloads of one
 * transaction). A message too large for a payload goes into the bus_spill table (migration 4)
 * first and the payload carries its id; the receivers read it back, and the publisher deletes
 * rows older than a minute. Up to BUS_PACKETS_PER_STMT payloads go in one statement
 * (pg_notify over unnest of a text array: one round trip, one transaction), and PostgreSQL
 * delivers the notifications of a transaction in order and transactions in commit order, so
 * one node's messages arrive everywhere in publish order. A statement that fails loses its
 * messages (counted as dropped), never sends them twice; a lost connection is re-opened every
 * BUS_RETRY_MS while messages wait in the bounded queue.
 *
 * Receiving. The store's listener thread (pg_store.c) LISTENs on switchboard_bus too and
 * hands each payload to pg_bus_receive, which splits it, reads spilled messages on the
 * listener's connection, and calls the bus hook once per message.
 */
#include "store/postgres/pg_int.h"

#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

#define BUS_PAYLOAD_MAX 7900      /* bytes per NOTIFY payload (PostgreSQL: < 8000) */
#define BUS_INLINE_MAX 7800       /* larger messages are spilled */
#define BUS_QUEUE_MAX (16u << 20) /* queued bytes before the oldest are dropped */
#define BUS_PACKETS_PER_STMT 64   /* payloads per pg_notify statement */
#define BUS_RETRY_MS 500          /* reconnect interval of the publisher */
#define BUS_PRUNE_EVERY_MS 10000  /* how often old spill rows are deleted */

struct bus_msg {
    struct bus_msg *next;
    size_t len;
    char data[];
};

/* Owned by the store; the queue is shared (mu), db and packet_seq belong to the thread. */
struct pg_bus {
    char *conninfo;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bus_msg *head, *tail; /* FIFO, guarded by mu */
    size_t bytes;                /* queued bytes, guarded by mu */
    bool stop;                   /* guarded by mu */
    pthread_t thread;
    bool running;
    PGconn *db;
    bool lost; /* db was open and broke: the next open is a reconnect */
    uint64_t packet_seq;
    atomic_uint_fast64_t published, dropped, notifies, spilled, received, reconnects;
};

/* A batch being packed: payloads (each a malloc'd string) and the messages they carry. */
struct bus_batch {
    char *payloads[BUS_PACKETS_PER_STMT];
    size_t npayloads;
    size_t nmsgs;    /* messages in the finished payloads */
    struct buf cur;  /* the payload being filled */
    size_t cur_msgs; /* messages in cur */
};

static void msgs_free(struct bus_msg *m)
{
    while (m) {
        struct bus_msg *next = m->next;
        free(m);
        m = next;
    }
}

/* ---- publishing ---- */

int pg_bus_publish(struct store *base, const char *msg, size_t len)
{
    struct pg_bus *b = ((struct pg_store *)base)->bus;
    if (!b) {
        return 0;
    }
    struct bus_msg *m = xmalloc(sizeof *m + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->data, msg, len);
    pthread_mutex_lock(&b->mu);
    if (b->tail) {
        b->tail->next = m;
    } else {
        b->head = m;
    }
    b->tail = m;
    b->bytes += len;
    uint64_t dropped = 0;
    while (b->bytes > BUS_QUEUE_MAX && b->head != m) {
        struct bus_msg *old = b->head;
        b->head = old->next;
        b->bytes -= old->len;
        free(old);
        dropped++;
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    atomic_fetch_add(&b->published, 1);
    if (dropped) {
        atomic_fetch_add(&b->dropped, dropped);
    }
    return 0;
}

void pg_bus_stats(struct store *base, struct store_bus_stats *out)
{
    struct pg_bus *b = ((struct pg_store *)base)->bus;
    if (!b) {
        return;
    }
    out->published = atomic_load(&b->published);
    out->dropped = atomic_load(&b->dropped);
    out->notifies = atomic_load(&b->notifies);
    out->spilled = atomic_load(&b->spilled);
    out->received = atomic_load(&b->received);
    out->reconnects = atomic_load(&b->reconnects);
    pthread_mutex_lock(&b->mu);
    out->queue_bytes = b->bytes;
    pthread_mutex_unlock(&b->mu);
}

void pg_bus_count_reconnect(struct store *base)
{
    struct pg_bus *b = ((struct pg_store *)base)->bus;
    if (b) {
        atomic_fetch_add(&b->reconnects, 1);
    }
}

/* Whether the publisher's connection is usable, (re)opening it when not. */
static bool bus_connected(struct pg_bus *b)
{
    if (b->db && PQstatus(b->db) == CONNECTION_OK) {
        return true;
    }
    b->lost = b->lost || b->db != NULL;
    PQfinish(b->db);
    b->db = pg_connect_aux(b->conninfo, "switchboard-bus");
    if (!b->db || PQstatus(b->db) != CONNECTION_OK) {
        PQfinish(b->db);
        b->db = NULL;
        return false;
    }
    if (b->lost) {
        b->lost = false;
        atomic_fetch_add(&b->reconnects, 1);
        log_info("postgres: bus publisher reconnected");
    }
    return true;
}

/* After a failed statement: forget a broken connection (the next round reconnects). */
static void bus_failed(struct pg_bus *b, PGresult *res, const char *what)
{
    if (PQstatus(b->db) != CONNECTION_OK) {
        log_warn("postgres: bus %s failed, connection lost: %s", what, PQerrorMessage(b->db));
        PQfinish(b->db);
        b->db = NULL;
        b->lost = true;
    } else {
        log_warn("postgres: bus %s failed: %s", what, PQresultErrorMessage(res));
    }
}

/* Store an oversized message in bus_spill; its id, or -1 when that failed. */
static long long bus_spill(struct pg_bus *b, const struct bus_msg *m)
{
    if (!b->db) {
        return -1;
    }
    char *text = xmalloc(m->len + 1);
    memcpy(text, m->data, m->len);
    text[m->len] = '\0';
    const char *vals[1] = {text};
    PGresult *res = PQexecParams(b->db, "INSERT INTO bus_spill (payload) VALUES ($1) RETURNING id",
                                 1, NULL, vals, NULL, NULL, 0);
    free(text);
    long long id = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        atomic_fetch_add(&b->spilled, 1);
    } else {
        bus_failed(b, res, "spill");
    }
    PQclear(res);
    return id;
}

/* Send the finished payloads in one statement; their messages count as dropped on failure. */
static void batch_flush(struct pg_bus *b, struct bus_batch *bt)
{
    if (bt->npayloads == 0) {
        return;
    }
    struct buf arr;
    buf_init(&arr, (size_t)BUS_PACKETS_PER_STMT * BUS_PAYLOAD_MAX * 2 + 64);
    bool ok = buf_putc(&arr, '{') == 0;
    for (size_t i = 0; i < bt->npayloads && ok; i++) {
        ok = (i == 0 || buf_putc(&arr, ',') == 0) && buf_putc(&arr, '"') == 0;
        /* Runs without a quote or backslash are copied whole (a byte at a time was 30 % of
         * this thread's time at 20,000 messages/s); each quote or backslash gets a backslash. */
        for (const char *p = bt->payloads[i]; *p && ok;) {
            size_t run = strcspn(p, "\"\\");
            ok = run == 0 || buf_append(&arr, p, run) == 0;
            p += run;
            if (*p && ok) {
                ok = buf_putc(&arr, '\\') == 0 && buf_putc(&arr, *p) == 0;
                p++;
            }
        }
        ok = ok && buf_putc(&arr, '"') == 0;
    }
    ok = ok && buf_putc(&arr, '}') == 0 && buf_putc(&arr, '\0') == 0;
    bool sent = false;
    if (ok && b->db) {
        const char *vals[1] = {arr.data};
        PGresult *res =
            PQexecParams(b->db, "SELECT pg_notify('switchboard_bus', p) FROM unnest($1::text[]) p",
                         1, NULL, vals, NULL, NULL, 0);
        sent = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!sent) {
            bus_failed(b, res, "notify");
        }
        PQclear(res);
    }
    if (sent) {
        atomic_fetch_add(&b->notifies, bt->npayloads);
    } else {
        atomic_fetch_add(&b->dropped, bt->nmsgs);
    }
    buf_release(&arr);
    for (size_t i = 0; i < bt->npayloads; i++) {
        free(bt->payloads[i]);
    }
    bt->npayloads = 0;
    bt->nmsgs = 0;
}

/* Close the payload being filled (flushing the batch when it is full). */
static void batch_finish(struct pg_bus *b, struct bus_batch *bt)
{
    if (bt->cur.len == 0) {
        return;
    }
    if (bt->npayloads == BUS_PACKETS_PER_STMT) {
        batch_flush(b, bt);
    }
    bt->payloads[bt->npayloads++] = xstrndup(bt->cur.data, bt->cur.len);
    bt->nmsgs += bt->cur_msgs;
    buf_reset(&bt->cur);
    bt->cur_msgs = 0;
}

/* Append one item (of at most BUS_INLINE_MAX + header bytes) to the batch. */
static void batch_add(struct pg_bus *b, struct bus_batch *bt, const char *head, size_t hlen,
                      const char *body, size_t blen)
{
    if (bt->cur.len && bt->cur.len + hlen + blen > BUS_PAYLOAD_MAX) {
        batch_finish(b, bt);
    }
    if (bt->cur.len == 0) {
        (void)buf_printf(&bt->cur, "%llu\n", (unsigned long long)++b->packet_seq);
    }
    if (buf_append(&bt->cur, head, hlen) < 0 || buf_append(&bt->cur, body, blen) < 0) {
        atomic_fetch_add(&b->dropped, 1); /* cannot happen: items are bounded */
        return;
    }
    bt->cur_msgs++;
}

/* Pack and send list (taken from the queue), then free it. */
static void bus_send(struct pg_bus *b, struct bus_msg *list)
{
    struct bus_batch bt = {0};
    buf_init(&bt.cur, BUS_PAYLOAD_MAX + 64);
    for (struct bus_msg *m = list; m; m = m->next) {
        char head[32];
        int hl;
        if (m->len > BUS_INLINE_MAX) {
            long long id = bus_spill(b, m);
            if (id < 0) {
                atomic_fetch_add(&b->dropped, 1);
                continue;
            }
            hl = snprintf(head, sizeof head, "s%lld;", id);
            batch_add(b, &bt, head, (size_t)hl, "", 0);
        } else {
            hl = snprintf(head, sizeof head, "m%zu:", m->len);
            batch_add(b, &bt, head, (size_t)hl, m->data, m->len);
        }
    }
    batch_finish(b, &bt);
    batch_flush(b, &bt);
    buf_release(&bt.cur);
    msgs_free(list);
}

static void bus_prune(struct pg_bus *b)
{
    PGresult *res =
        PQexec(b->db, "DELETE FROM bus_spill WHERE created_at < now() - interval '1 minute'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        bus_failed(b, res, "spill prune");
    }
    PQclear(res);
}

static void *bus_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-pg-bus");
    struct pg_bus *b = arg;
    int64_t next_prune = clock_mono_ms() + BUS_PRUNE_EVERY_MS;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        if (!b->stop && !b->head) {
            clock_cond_wait_ms(&b->cv, &b->mu, 1000);
        }
        if (b->stop) {
            /* One last send of what is queued (a goodbye), only on a working connection. */
            struct bus_msg *rest = b->head;
            b->head = b->tail = NULL;
            b->bytes = 0;
            pthread_mutex_unlock(&b->mu);
            if (rest && b->db && PQstatus(b->db) == CONNECTION_OK) {
                bus_send(b, rest);
            } else {
                msgs_free(rest);
            }
            break;
        }
        pthread_mutex_unlock(&b->mu);
        if (!bus_connected(b)) {
            /* Messages wait (bounded) until the database is back. */
            pthread_mutex_lock(&b->mu);
            if (!b->stop) {
                clock_cond_wait_ms(&b->cv, &b->mu, BUS_RETRY_MS);
            }
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        pthread_mutex_lock(&b->mu);
        struct bus_msg *list = b->head;
        b->head = b->tail = NULL;
        b->bytes = 0;
        pthread_mutex_unlock(&b->mu);
        if (list) {
            bus_send(b, list);
        }
        if (b->db && clock_mono_ms() >= next_prune) {
            next_prune = clock_mono_ms() + BUS_PRUNE_EVERY_MS;
            bus_prune(b);
        }
    }
    return NULL;
}

int pg_bus_start(struct pg_store *s)
{
    struct pg_bus *b = xcalloc(1, sizeof *b);
    b->conninfo = xstrdup(s->conninfo);
    pthread_mutex_init(&b->mu, NULL);
    clock_cond_init(&b->cv);
    s->bus = b;
    if (pthread_create(&b->thread, NULL, bus_main, b) != 0) {
        return SB_E_INTERNAL;
    }
    b->running = true;
    return 0;
}

void pg_bus_stop(struct pg_store *s)
{
    struct pg_bus *b = s->bus;
    if (!b) {
        return;
    }
    if (b->running) {
        pthread_mutex_lock(&b->mu);
        b->stop = true;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
    }
    msgs_free(b->head);
    PQfinish(b->db);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->conninfo);
    free(b);
    s->bus = NULL;
}

/* ---- receiving (the listener thread) ---- */

/* Read spilled message id on db and deliver it. */
static void deliver_spilled(struct pg_store *s, PGconn *db, const char *id)
{
    const char *vals[1] = {id};
    PGresult *res = PQexecParams(db, "SELECT payload FROM bus_spill WHERE id = $1", 1, NULL, vals,
                                 NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        atomic_fetch_add(&s->bus->received, 1);
        store_bus_deliver(&s->base, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("postgres: reading bus_spill %s failed: %s", id, PQresultErrorMessage(res));
    }
    PQclear(res);
}

void pg_bus_receive(struct pg_store *s, PGconn *db, const char *payload)
{
    if (!s->bus) {
        return;
    }
    const char *p = strchr(payload, '\n');
    if (!p) {
        return; /* not ours (a NOTIFY made by hand) */
    }
    p++;
    const char *end = payload + strlen(payload);
    while (p < end) {
        char kind = *p++;
        char *num_end = NULL;
        errno = 0;
        unsigned long long n = strtoull(p, &num_end, 10);
        if (num_end == p || errno) {
            return;
        }
        if (kind == 'm' && *num_end == ':' && n <= (size_t)(end - num_end - 1)) {
            atomic_fetch_add(&s->bus->received, 1);
            store_bus_deliver(&s->base, num_end + 1, (size_t)n);
            p = num_end + 1 + n;
        } else if (kind == 's' && *num_end == ';') {
            char id[24];
            snprintf(id, sizeof id, "%llu", n);
            deliver_spilled(s, db, id);
            p = num_end + 1;
        } else {
            return; /* malformed: ignore the rest */
        }
    }
}
