/*
 * The /api/v1/auth routes and /api/v1/me (the user, its password and its preferences).
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "auth/device.h"
#include "base/err.h"
#include "base/json.h"
#include "svc/svc.h"

static int tokens_reply(struct api_call *c, struct svc_tokens *t)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:O}", "access_token", t->access_token,
                             "refresh_token", t->refresh_token, "token_type", "Bearer",
                             "expires_in", (json_int_t)t->expires_in, "user", t->user);
    svc_tokens_release(t);
    return api_reply(c, 200, body);
}

static int login(struct api_call *c)
{
    const json_t *email = json_object_get(c->body, "email");
    const json_t *password = json_object_get(c->body, "password");
    int rc = 0;
    if (!json_is_string(email) || !json_string_length(email)) {
        rc = api_invalid(c, "email", "required");
    } else if (json_string_length(email) > 254) {
        rc = api_invalid(c, "email", "too_long");
    }
    if (!json_is_string(password) || !json_string_length(password)) {
        rc = api_invalid(c, "password", "required");
    } else if (json_string_length(password) > 256) {
        rc = api_invalid(c, "password", "too_long");
    }
    if (rc < 0) {
        return rc;
    }
    struct svc_actor ctx;
    api_actor(c, &ctx);
    char cookies[4096], device[AUTH_DEVICE_LEN];
    const char *dev = NULL;
    if (api_header(c, "Cookie", cookies, sizeof cookies)) {
        dev = auth_cookie_get(cookies, AUTH_DEVICE_COOKIE, device, sizeof device);
    }
    struct svc_tokens t;
    rc = svc_auth_login(c->api->svc, &ctx, json_string_value(email), json_string_value(password),
                        dev, &t, &c->retry_after_s);
    if (rc == SB_E_UNAUTHORIZED) {
        return api_fail(c, rc, "invalid email or password");
    }
    if (rc == SB_E_RATELIMIT) {
        return api_fail(c, rc, "too many login attempts; retry later");
    }
    if (rc < 0) {
        return rc;
    }
    /* The device cookie only lifts the account's login delay for this browser (device.h). */
    buf_init(&c->headers, 16 * 1024); /* as api_finish would */
    (void)buf_printf(&c->headers,
                     "Set-Cookie: %s=%s; Path=/api/v1/auth/login; Max-Age=%d; HttpOnly; "
                     "SameSite=Strict%s\r\n",
                     AUTH_DEVICE_COOKIE, t.device, AUTH_DEVICE_TTL_S,
                     c->api->secure_cookies ? "; Secure" : "");
    return tokens_reply(c, &t);
}

static int refresh(struct api_call *c)
{
    const json_t *tok = json_object_get(c->body, "refresh_token");
    if (!json_is_string(tok) || !json_string_length(tok) || json_string_length(tok) > 128) {
        return api_invalid(c, "refresh_token", "required");
    }
    struct svc_actor ctx;
    api_actor(c, &ctx);
    struct svc_tokens t;
    int rc = svc_auth_refresh(c->api->svc, &ctx, json_string_value(tok), &t);
    if (rc == SB_E_UNAUTHORIZED) {
        return api_fail(c, rc, "invalid or expired refresh token");
    }
    return rc < 0 ? rc : tokens_reply(c, &t);
}

static int logout(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    /* An optional JSON body {"everywhere": true} ends every session of the user. */
    bool everywhere = false;
    if (c->req->body_len) {
        char err[160];
        json_t *body = json_parse_strict(c->req->body, c->req->body_len, err, sizeof err);
        if (!json_is_object(body)) {
            json_decref(body);
            return api_fail(c, SB_E_INVAL, "the body must be a JSON object");
        }
        everywhere = json_is_true(json_object_get(body, "everywhere"));
        json_decref(body);
    }
    int rc = svc_auth_logout(c->api->svc, &a, everywhere);
    return rc < 0 ? rc : api_reply(c, 200, json_pack("{s:b}", "ok", 1));
}

static int me(struct api_call *c)
{
    json_t *user = NULL;
    struct policy_principal self = c->who;
    /* Everyone may read their own user row, whatever the role may list. */
    self.role = ROLE_SUPER_ADMIN;
    int rc = svc_get(c->api->svc, &self, STORE_USERS, c->who.user_id, &user);
    if (rc < 0) {
        return rc;
    }
    json_t *client = NULL;
    if (c->who.client_id[0]) {
        svc_get(c->api->svc, &self, STORE_CLIENTS, c->who.client_id, &client);
    }
    return api_reply(c, 200,
                     json_pack("{s:o,s:o}", "user", user, "client", client ? client : json_null()));
}

static const char *body_str(struct api_call *c, const char *key)
{
    return json_string_value(json_object_get(c->body, key));
}

static int change_password(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    struct svc_tokens t;
    int rc = api_svc_result(
        c,
        svc_auth_change_password(c->api->svc, &a, body_str(c, "current_password"),
                                 body_str(c, "new_password"), &t, &err, &c->retry_after_s),
        &err);
    if (rc == SB_E_RATELIMIT) {
        return api_fail(c, rc, "too many wrong passwords; retry later");
    }
    return rc < 0 ? rc : tokens_reply(c, &t);
}

static int reset(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    int rc = api_svc_result(
        c, svc_auth_reset(c->api->svc, &a, body_str(c, "token"), body_str(c, "new_password"), &err),
        &err);
    return rc < 0 ? rc : api_reply(c, 200, json_pack("{s:b}", "ok", 1));
}

static int get_preferences(struct api_call *c)
{
    json_t *prefs = NULL;
    int rc = svc_prefs_get(c->api->svc, &c->who, &prefs);
    return rc < 0 ? rc : api_reply(c, 200, prefs);
}

static int put_preferences(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    json_t *prefs = NULL;
    int rc = api_svc_result(
        c, svc_prefs_put(c->api->svc, &a, c->body, c->req->body_len, &prefs, &err), &err);
    return rc < 0 ? rc : api_reply(c, 200, prefs);
}

struct api_route api_routes_auth[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/auth/login",
     .summary = "Log in with e-mail and password",
     .fn = login,
     .flags = API_BODY},
    {.method = HTTP_POST,
     .pattern = "/api/v1/auth/refresh",
     .summary = "Rotate a refresh token for new tokens",
     .fn = refresh,
     .flags = API_BODY},
    {.method = HTTP_POST,
     .pattern = "/api/v1/auth/logout",
     .summary = "Revoke this session (or every session with everywhere)",
     .fn = logout,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/me",
     .summary = "The current user and its client",
     .fn = me,
     .flags = API_AUTH},
    {.method = HTTP_POST,
     .pattern = "/api/v1/me/password",
     .summary = "Change your own password (other sessions are revoked; new tokens returned)",
     .fn = change_password,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_GET,
     .pattern = "/api/v1/me/preferences",
     .summary = "Your notification preferences (the defaults until you save some)",
     .fn = get_preferences,
     .flags = API_AUTH},
    {.method = HTTP_PUT,
     .pattern = "/api/v1/me/preferences",
     .summary = "Replace your notification preferences: message, status, connection, sound "
                "(booleans; keys left out take their defaults)",
     .fn = put_preferences,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_POST,
     .pattern = "/api/v1/auth/reset",
     .summary = "Set a new password with a one-time reset token",
     .fn = reset,
     .flags = API_BODY},
    {.pattern = NULL},
};
