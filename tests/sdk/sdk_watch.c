/*
 * Integration driver for tests/integration/sdk_*.test.mjs: subscribes to TABLE with the
 * SDK and prints one line per event to stdout ("EV <seq> <type> <id>"), per resync
 * ("RESYNC"), per channel status ("CH <status>") and per connection state to stderr
 * ("STATE <name> <attempt> <delay_ms> <error> <reason>"). Exits 0 after SIGTERM/SIGINT, or 3
 * when the client gives up (fatal). Usage: sdk_watch URL TOKEN TABLE [SINCE [MIN_MS MAX_MS]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchboard.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_change(struct sb_channel *ch, const struct sb_change *e, void *user)
{
    (void)ch;
    (void)user;
    const char *rec = e->record ? e->record : e->old_record ? e->old_record : "";
    const char *id = strstr(rec, "\"id\":\"");
    printf("EV %lld %s %.36s\n", e->seq, e->type, id ? id + 6 : "-");
    fflush(stdout);
}

static void on_resync(struct sb_channel *ch, void *user)
{
    (void)ch;
    (void)user;
    printf("RESYNC\n");
    fflush(stdout);
}

static void on_status(struct sb_channel *ch, enum sb_channel_status st, const char *msg, void *user)
{
    (void)ch;
    (void)user;
    printf("CH %d %s\n", (int)st, msg);
    fflush(stdout);
}

static int fatal;

static void on_state(struct sb_client *c, const struct sb_state_info *i, void *user)
{
    (void)c;
    (void)user;
    static const char *names[] = {"disconnected", "connecting", "connected", "reconnecting"};
    fprintf(stderr, "STATE %s %d %d %d %s\n", names[i->state], i->attempt, i->delay_ms, i->error,
            i->reason);
    fflush(stderr);
    if (i->state == SB_STATE_DISCONNECTED && i->error < 0) {
        fatal = 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sdk_watch URL TOKEN TABLE [SINCE [MIN_MS MAX_MS]]\n");
        return 2;
    }
    struct sb_options o = {0};
    o.url = argv[1];
    o.token = strcmp(argv[2], "-") ? argv[2] : NULL;
    o.reconnect_min_ms = argc > 6 ? (int)strtol(argv[5], NULL, 10) : 200;
    o.reconnect_max_ms = argc > 6 ? (int)strtol(argv[6], NULL, 10) : 2000;
    o.heartbeat_ms = 5000;
    o.on_state = on_state;
    struct sb_client *c;
    int rc = sb_client_new(&o, &c);
    if (rc < 0) {
        fprintf(stderr, "ERROR %d %s\n", rc, sb_errstr(rc));
        return 2;
    }
    struct sb_subscribe_options so = {0};
    so.since = argc > 4 ? strtoll(argv[4], NULL, 10) : 0;
    so.on_change = on_change;
    so.on_resync = on_resync;
    so.on_status = on_status;
    struct sb_channel *ch;
    if (sb_subscribe_ex(c, argv[3], &so, &ch) < 0) {
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    sb_client_connect(c);
    while (!stop && !fatal) {
        sb_client_process(c, 200);
    }
    sb_client_free(c);
    return fatal ? 3 : 0;
}
