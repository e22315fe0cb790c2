/*
 * sd_notify readiness (src/app/notify.c) against the real server: this test plays systemd.
 * It binds an AF_UNIX datagram socket, starts `switchboard serve` on port 0 with
 * NOTIFY_SOCKET pointing at it, and expects "READY=1" only once the port accepts TCP
 * connections (the STATUS line names the URL, which we connect to), then "STOPPING=1" after
 * SIGTERM, and exit status 0. Once with a socket path, once in the abstract namespace ("@").
 * Every wait is bounded (poll timeouts, a deadline on waitpid).
 *   test_notify /path/to/switchboard
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000

/* One datagram within timeout_ms into out (NUL-terminated); its length or -1. */
static ssize_t recv_within(int fd, char *out, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1) {
        return -1;
    }
    ssize_t n = recv(fd, out, cap - 1, 0);
    if (n >= 0) {
        out[n] = '\0';
    }
    return n;
}

/* Exit status of pid within timeout_ms, or -1 (the child is then killed). */
static int wait_within(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static bool tcp_connects(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void run(const char *bin, const char *dir, bool abstract)
{
    char path[200], env[220], db[220];
    snprintf(path, sizeof path, "%s/notify-%d.sock", dir, abstract);
    snprintf(db, sizeof db, "sqlite:%s/db-%d.sqlite", dir, abstract);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t salen;
    if (abstract) {
        /* "@" + path, as NOTIFY_SOCKET spells it; the kernel name starts with a NUL. */
        snprintf(env, sizeof env, "@%s", path);
        memcpy(sa.sun_path + 1, path, strlen(path));
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
    } else {
        snprintf(env, sizeof env, "%s", path);
        memcpy(sa.sun_path, path, strlen(path));
        salen = sizeof sa;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa, salen), 0);

    pid_t pid = fork();
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", env, 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        execl(bin, bin, "serve", "--listen", "127.0.0.1:0", "--db", db, "--workers", "1",
              "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    char msg[512] = "";
    CHECK(recv_within(fd, msg, sizeof msg, WAIT_MS) > 0);
    CHECK(strstr(msg, "READY=1") != NULL);
    const char *url = strstr(msg, "STATUS=listening on http://127.0.0.1:");
    CHECK(url != NULL);
    int port = url ? atoi(url + strlen("STATUS=listening on http://127.0.0.1:")) : 0;
    CHECK(port > 0);
    /* READY means listening: the port takes connections the moment the message arrives. */
    CHECK(port > 0 && tcp_connects(port));
    CHECK_EQ_INT(kill(pid, SIGTERM), 0);
    msg[0] = '\0';
    CHECK(recv_within(fd, msg, sizeof msg, WAIT_MS) > 0);
    CHECK(strstr(msg, "STOPPING=1") != NULL);
    CHECK_EQ_INT(wait_within(pid, WAIT_MS), 0);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_notify SWITCHBOARD\n");
        return 2;
    }
    char dir[] = "/tmp/sb-notify.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    run(argv[1], dir, false);
    run(argv[1], dir, true);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return test_done();
}
