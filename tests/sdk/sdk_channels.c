/*
 * Integration driver for tests/integration/sdk_channels.test.mjs: joins one broadcast and
 * presence channel with the SDK, prints what arrives on stdout and takes commands on stdin,
 * so the node test can play it against a real @supabase/realtime-js client.
 *
 * Usage: sdk_channels URL TOKEN CHANNEL MODE [PRESENCE_KEY]
 *   MODE is "self" (receive own broadcasts) or "noself"; PRESENCE_KEY defaults to "sdk", and
 *   "-" passes NULL (no key: presence is still on because an on_presence callback is set).
 *
 * Output, one line each (stdout, flushed):
 *   STATE <connecting|connected|reconnecting|disconnected> <error> <reason>
 *   CH <joined|resumed|error|closed> <message>
 *   BC <event> <payload JSON>
 *   PRESENCE_STATE <payload JSON>            raw presence_state from the SDK callback
 *   PRESENCE_DIFF <payload JSON>             raw presence_diff
 *   PRESENCE_JOIN <key> <meta JSON>          one per meta that appeared
 *   PRESENCE_LEAVE <key> <meta JSON>         one per meta that went away
 *   PRESENCE_SYNC <state JSON>               the driver's map {key:[metas]} after a state/diff
 *   PRESENCE_BAD <kind>                      the callback's JSON was not an object
 *   RC <command> <rc> <sb_errstr(rc)>        the return code of every command's SDK call
 *
 * Commands (stdin, one per line):
 *   send EVENT JSON | track JSON | untrack | leave | join | disconnect | connect | quit
 *   leave_on EVENT   when a broadcast EVENT next arrives, the callback leaves the channel and
 *                    then calls send, track, untrack and leave on it (RC cb_leave, cb_send,
 *                    cb_track, cb_untrack, cb_leave_again)
 * "leave" forgets the handle (sb_channel_leave frees it), so a later "send" passes NULL.
 *
 * The loop is the caller-driven one documented in switchboard.h: poll the client's fd for its
 * events (and stdin) for at most sb_client_timeout_ms(), then sb_client_process(c, 0).
 * Exits 0 on "quit", end of input or SIGTERM/SIGINT, 3 when the client gives up (fatal).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <switchboard.h>

#define LINE_MAX_BYTES 65536

static volatile sig_atomic_t stop;

struct driver {
    struct sb_client *client;
    struct sb_channel *ch;
    struct sb_channel_options opts;
    char name[256];
    json_t *pres; /* key -> [metas], as realtime-js' presenceState() keeps it */
    char leave_on[128];
    int fatal;
    int quit;
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void print_rc(const char *cmd, int rc)
{
    printf("RC %s %d %s\n", cmd, rc, sb_errstr(rc));
    fflush(stdout);
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void print_meta(const char *what, const char *key, const json_t *meta)
{
    char *m = dump(meta);
    printf("%s %s %s\n", what, key, m ? m : "null");
    free(m);
}

/* Index of the meta with phx_ref ref in metas, or -1. */
static long meta_index(const json_t *metas, const char *ref)
{
    size_t i;
    json_t *m;
    json_array_foreach(metas, i, m)
    {
        const char *r = json_string_value(json_object_get(m, "phx_ref"));
        if (ref && r && strcmp(r, ref) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Replace the map with a full state: print a leave for every meta gone, a join for every new
 * one (phoenix.js syncState). */
static void presence_state(struct driver *d, json_t *state)
{
    const char *key;
    json_t *entry;
    json_object_foreach(d->pres, key, entry)
    {
        json_t *now = json_object_get(json_object_get(state, key), "metas");
        size_t i;
        json_t *m;
        json_array_foreach(entry, i, m)
        {
            if (meta_index(now, json_string_value(json_object_get(m, "phx_ref"))) < 0) {
                print_meta("PRESENCE_LEAVE", key, m);
            }
        }
    }
    json_t *next = json_object();
    json_object_foreach(state, key, entry)
    {
        json_t *metas = json_object_get(entry, "metas");
        json_t *before = json_object_get(d->pres, key);
        size_t i;
        json_t *m;
        json_array_foreach(metas, i, m)
        {
            if (meta_index(before, json_string_value(json_object_get(m, "phx_ref"))) < 0) {
                print_meta("PRESENCE_JOIN", key, m);
            }
        }
        if (json_is_array(metas) && json_array_size(metas) > 0) {
            json_object_set(next, key, metas);
        }
    }
    json_decref(d->pres);
    d->pres = next;
}

/* Apply {joins, leaves} (phoenix.js syncDiff). */
static void presence_diff(struct driver *d, json_t *diff)
{
    const char *key;
    json_t *entry;
    json_object_foreach(json_object_get(diff, "joins"), key, entry)
    {
        json_t *metas = json_object_get(d->pres, key);
        if (!metas) {
            metas = json_array();
            json_object_set_new(d->pres, key, metas);
        }
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(entry, "metas"), i, m)
        {
            long at = meta_index(metas, json_string_value(json_object_get(m, "phx_ref")));
            if (at >= 0) {
                json_array_set(metas, (size_t)at, m);
            } else {
                json_array_append(metas, m);
            }
            print_meta("PRESENCE_JOIN", key, m);
        }
    }
    json_object_foreach(json_object_get(diff, "leaves"), key, entry)
    {
        json_t *metas = json_object_get(d->pres, key);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(entry, "metas"), i, m)
        {
            long at = meta_index(metas, json_string_value(json_object_get(m, "phx_ref")));
            if (at >= 0) {
                json_array_remove(metas, (size_t)at);
            }
            print_meta("PRESENCE_LEAVE", key, m);
        }
        if (metas && json_array_size(metas) == 0) {
            json_object_del(d->pres, key);
        }
    }
}

static void on_presence(struct sb_channel *ch, const char *kind, const char *json, void *user)
{
    (void)ch;
    struct driver *d = user;
    int is_state = strcmp(kind, "state") == 0;
    printf("PRESENCE_%s %s\n", is_state ? "STATE" : "DIFF", json);
    json_t *j = json_loads(json, 0, NULL);
    if (!json_is_object(j)) {
        printf("PRESENCE_BAD %s\n", kind);
    } else if (is_state) {
        presence_state(d, j);
    } else {
        presence_diff(d, j);
    }
    json_decref(j);
    char *s = dump(d->pres);
    printf("PRESENCE_SYNC %s\n", s ? s : "{}");
    free(s);
    fflush(stdout);
}

static void on_broadcast(struct sb_channel *ch, const char *event, const char *payload, void *user)
{
    struct driver *d = user;
    printf("BC %s %s\n", event, payload);
    fflush(stdout);
    if (d->leave_on[0] && strcmp(d->leave_on, event) == 0 && ch == d->ch) {
        /* Leaving from a callback is allowed; the handle stays valid until it returns, and
         * every call on it must now fail cleanly instead of reaching the server. */
        d->leave_on[0] = '\0';
        print_rc("cb_leave", sb_channel_leave(ch));
        d->ch = NULL;
        print_rc("cb_send", sb_channel_send(ch, "after-leave", "{\"n\":1}"));
        print_rc("cb_track", sb_channel_track(ch, "{\"after\":\"leave\"}"));
        print_rc("cb_untrack", sb_channel_untrack(ch));
        print_rc("cb_leave_again", sb_channel_leave(ch));
    }
}

static void on_status(struct sb_channel *ch, enum sb_channel_status st, const char *msg, void *user)
{
    (void)ch;
    (void)user;
    static const char *names[] = {"?", "joined", "resumed", "error", "closed"};
    printf("CH %s %s\n", st >= 1 && st <= 4 ? names[st] : "?", msg);
    fflush(stdout);
}

static void on_state(struct sb_client *c, const struct sb_state_info *i, void *user)
{
    (void)c;
    struct driver *d = user;
    static const char *names[] = {"disconnected", "connecting", "connected", "reconnecting"};
    printf("STATE %s %d %s\n", names[i->state], i->error, i->reason);
    fflush(stdout);
    if (i->state == SB_STATE_DISCONNECTED && i->error < 0) {
        d->fatal = 1;
    }
}

static int join(struct driver *d)
{
    if (d->ch) {
        return SB_ERR_STATE;
    }
    json_decref(d->pres);
    d->pres = json_object();
    return sb_channel_join(d->client, d->name, &d->opts, &d->ch);
}

/* Run one command line (NUL-terminated, without the newline). */
static void command(struct driver *d, char *line)
{
    char *arg = strchr(line, ' ');
    if (arg) {
        *arg++ = '\0';
    }
    if (strcmp(line, "send") == 0) {
        char *payload = arg ? strchr(arg, ' ') : NULL;
        if (payload) {
            *payload++ = '\0';
        }
        print_rc("send", sb_channel_send(d->ch, arg ? arg : "", payload));
    } else if (strcmp(line, "track") == 0) {
        print_rc("track", sb_channel_track(d->ch, arg ? arg : "{}"));
    } else if (strcmp(line, "untrack") == 0) {
        print_rc("untrack", sb_channel_untrack(d->ch));
    } else if (strcmp(line, "leave") == 0) {
        print_rc("leave", sb_channel_leave(d->ch));
        d->ch = NULL; /* freed by the SDK: a real application forgets it too */
    } else if (strcmp(line, "join") == 0) {
        print_rc("join", join(d));
    } else if (strcmp(line, "leave_on") == 0) {
        snprintf(d->leave_on, sizeof(d->leave_on), "%s", arg ? arg : "");
        print_rc("leave_on", 0);
    } else if (strcmp(line, "disconnect") == 0) {
        sb_client_disconnect(d->client);
        print_rc("disconnect", 0);
    } else if (strcmp(line, "connect") == 0) {
        print_rc("connect", sb_client_connect(d->client));
    } else if (strcmp(line, "quit") == 0) {
        d->quit = 1;
        print_rc("quit", 0);
    } else if (line[0]) {
        print_rc("unknown", SB_ERR_INVAL);
    }
}

/* Read what stdin has and run every complete line; 0 at end of input. */
static int read_commands(struct driver *d, char *buf, size_t *len)
{
    ssize_t n = read(STDIN_FILENO, buf + *len, LINE_MAX_BYTES - *len);
    if (n < 0) {
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    }
    if (n == 0) {
        return 0;
    }
    *len += (size_t)n;
    char *start = buf, *nl;
    while (!d->quit && (nl = memchr(start, '\n', *len - (size_t)(start - buf))) != NULL) {
        *nl = '\0';
        command(d, start);
        start = nl + 1;
    }
    *len -= (size_t)(start - buf);
    memmove(buf, start, *len);
    if (*len == LINE_MAX_BYTES) {
        *len = 0; /* a line longer than the buffer: drop it */
        print_rc("toolong", SB_ERR_TOOBIG);
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[4], "self") != 0 && strcmp(argv[4], "noself") != 0)) {
        fprintf(stderr, "usage: sdk_channels URL TOKEN CHANNEL self|noself [PRESENCE_KEY]\n");
        return 2;
    }
    static struct driver d;
    snprintf(d.name, sizeof(d.name), "%s", argv[3]);
    d.opts.broadcast_self = strcmp(argv[4], "self") == 0;
    d.opts.presence_key = argc <= 5 ? "sdk" : strcmp(argv[5], "-") ? argv[5] : NULL;
    d.opts.on_broadcast = on_broadcast;
    d.opts.on_presence = on_presence;
    d.opts.on_status = on_status;
    d.opts.user = &d;

    struct sb_options o = {0};
    o.url = argv[1];
    o.token = argv[2];
    o.reconnect_min_ms = 200;
    o.reconnect_max_ms = 2000;
    o.heartbeat_ms = 5000;
    o.on_state = on_state;
    o.user = &d;
    int rc = sb_client_new(&o, &d.client);
    if (rc < 0) {
        fprintf(stderr, "ERROR %d %s\n", rc, sb_errstr(rc));
        return 2;
    }
    rc = join(&d);
    if (rc < 0) {
        fprintf(stderr, "ERROR %d %s\n", rc, sb_errstr(rc));
        sb_client_free(d.client);
        json_decref(d.pres);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    sb_client_connect(d.client);

    static char buf[LINE_MAX_BYTES];
    size_t len = 0;
    int input = 1;
    while (!stop && !d.fatal && !d.quit && input) {
        int fd = sb_client_fd(d.client);
        int t = sb_client_timeout_ms(d.client);
        if (t < 0 || t > 1000) {
            t = 1000; /* also bounds how long a signal may go unnoticed */
        }
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = fd, .events = (short)sb_client_events(d.client)}};
        int n = poll(p, fd >= 0 ? 2 : 1, t);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
            input = read_commands(&d, buf, &len);
        }
        sb_client_process(d.client, 0);
    }
    sb_client_free(d.client);
    json_decref(d.pres);
    return d.fatal ? 3 : 0;
}
