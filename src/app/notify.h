/*
 * The service manager's readiness protocol (sd_notify(3)), for a systemd unit with
 * Type=notify: a state string such as "READY=1" sent as one datagram to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Without
 * NOTIFY_SOCKET (not run by systemd) every call is a no-op that returns 0.
 */
#ifndef SB_APP_NOTIFY_H
#define SB_APP_NOTIFY_H

/*
 * Send state (for example "READY=1\nSTATUS=listening on ...") to $NOTIFY_SOCKET. Returns 0
 * when sent or when there is no socket to send to, a negative error when the variable is
 * malformed or the send fails. Thread-safe (no shared state); blocking for at most one
 * datagram to a local socket.
 */
int app_notify(const char *state);

#endif
