/*
 * sd_notify without libsystemd. The protocol is one datagram of newline-separated
 * VAR=value assignments to an AF_UNIX socket whose address is in $NOTIFY_SOCKET; a leading
 * '@' means the Linux abstract namespace (the '@' becomes a NUL byte). systemd only needs the
 * datagram to come from the service's main process (or NotifyAccess=all), so a fresh socket
 * per message is enough: we send READY once and STOPPING once. Writing these 40 lines saves a
 * runtime dependency on libsystemd for a server that also runs without systemd.
 */
#include "app/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/err.h"

int app_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        return 0;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
        return SB_E_INVAL;
    }
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    socklen_t salen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return SB_E_IO;
    }
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(state) ? 0 : SB_E_IO;
}
