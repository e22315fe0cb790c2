/*
 * Shared by the auth unit tests that run a real auth_session: an admin access token for a
 * user of a client, issued by instance a.
 */
#ifndef SB_TEST_AUTH_H
#define SB_TEST_AUTH_H

#include <stdio.h>
#include <string.h>

#include "auth/session.h"

/* An admin token (malloc'd) for uid of client_id in session sid; NULL on failure. */
static inline char *issue(struct auth_session *a, const char *client_id, const char *uid,
                          const char *sid)
{
    struct policy_principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.user_id, sizeof p.user_id, "%s", uid);
    snprintf(p.client_id, sizeof p.client_id, "%s", client_id);
    snprintf(p.sid, sizeof p.sid, "%s", sid);
    p.role = ROLE_ADMIN;
    char *tok = NULL;
    int64_t exp = 0;
    return auth_session_issue(a, &p, &tok, &exp) == 0 ? tok : NULL;
}

#endif
