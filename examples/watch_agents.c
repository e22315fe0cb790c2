/* Watch agent status live until Ctrl-C:
 *   cc watch_agents.c $(pkg-config --cflags --libs switchboard)
 *   SWITCHBOARD_URL=http://127.0.0.1:8080 SWITCHBOARD_TOKEN=... ./a.out */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <switchboard.h>

static volatile sig_atomic_t done;
static void on_sigint(int sig)
{
    done = sig;
}

static void on_change(struct sb_channel *ch, const struct sb_change *e, void *user)
{
    printf("%s seq=%lld %s\n", e->type, e->seq, e->record ? e->record : e->old_record);
    fflush(stdout);
    (void)ch, (void)user;
}

int main(void)
{
    struct sb_options o = {.url = getenv("SWITCHBOARD_URL"), .token = getenv("SWITCHBOARD_TOKEN")};
    struct sb_client *c;
    struct sb_channel *sub;
    if (sb_client_new(&o, &c) < 0 ||
        sb_subscribe(c, "agent_status", "*", NULL, on_change, NULL, &sub) < 0 ||
        sb_client_connect(c) < 0) {
        return 1;
    }
    signal(SIGINT, on_sigint); /* until then the client reconnects and resumes by itself */
    while (!done && sb_client_process(c, 500) == 0 && sb_client_state(c) != SB_STATE_DISCONNECTED) {
    }
    sb_client_free(c);
    return 0;
}
