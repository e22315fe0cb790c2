/* Watch agent status live: prints every change until Ctrl-C. Build with
 *   cc watch_agents.c $(pkg-config --cflags --libs switchboard)
 * Run: SWITCHBOARD_URL=http://127.0.0.1:8080 SWITCHBOARD_TOKEN=... ./a.out */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <switchboard.h>

static volatile sig_atomic_t done;
static void on_sigint(int sig)
{
    (void)sig;
    done = 1;
}

static void on_change(struct sb_channel *ch, const struct sb_change *e, void *user)
{
    (void)ch;
    (void)user;
    printf("%s seq=%lld %s\n", e->type, e->seq, e->record ? e->record : e->old_record);
    fflush(stdout);
}

static void on_state(struct sb_client *c, const struct sb_state_info *i, void *user)
{
    (void)c;
    (void)user;
    static const char *names[] = {"disconnected", "connecting", "connected", "reconnecting"};
    fprintf(stderr, "[%s] %s\n", names[i->state], i->reason);
}

int main(void)
{
    struct sb_options o = {0};
    o.url = getenv("SWITCHBOARD_URL") ? getenv("SWITCHBOARD_URL") : "http://127.0.0.1:8080";
    o.token = getenv("SWITCHBOARD_TOKEN");
    o.on_state = on_state;
    struct sb_client *c;
    struct sb_channel *sub;
    if (sb_client_new(&o, &c) < 0 ||
        sb_subscribe(c, "agent_status", "*", NULL, on_change, NULL, &sub) < 0) {
        return 1;
    }
    signal(SIGINT, on_sigint);
    sb_client_start(c); /* the library's own thread runs the connection */
    while (!done && sb_client_state(c) != SB_STATE_DISCONNECTED) {
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
    }
    sb_client_free(c);
    return 0;
}
