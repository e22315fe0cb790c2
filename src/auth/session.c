/*
 * Session state: the HS256 key and the user/client cache (the login limiter is ratelimit.c).
 * One struct auth_session per server, created by the app; nothing here is a process global,
 * so two servers in one process keep separate caches.
 *
 * Cache: two small open hash tables (users by id, clients by id) of fixed-size entries,
 * guarded by one rwlock. Revoked sessions are a third table of sid -> expiry, pruned as
 * entries age past the refresh lifetime. Per-user `valid_after_s` rejects tokens issued
 * before a password change. The tables grow by doubling; entries are never removed from a
 * slot (a deleted user is marked gone), which keeps probing simple.
 *
 * Verified tokens are remembered per thread (token_memo): a client sends the same access
 * token with every request, and verifying it (base64, two JSON parses, HMAC) was 6-9 % of the
 * CPU of an authenticated list request. A small direct-mapped table per thread maps a token
 * (kept whole, up to TOKEN_MEMO_MAX bytes; longer ones are verified every time) to the claims
 * its verification gave. The slot comes from the token's last bytes (its signature), and the
 * whole token is compared in a time independent of its content (same_bytes_ct), so a lookup's
 * timing tells nothing about a remembered token (hashing it with BLAKE2b first cost more than the
 * rest of the lookup, and a slot chosen by an attacker only evicts an entry); an entry holds only
 * for the instance (and so the keys) it was verified under: every auth_session_new takes a fresh
 * generation from key_gen, never reused, so two servers in one process never share an entry; the
 * expiry is checked again on every use. Only the signature and claims parsing are skipped:
 * revocations, password changes, disabled users and suspended clients are checked on every call as
 * before (state_check_locked).
 */
#include "auth/session.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth/device.h"
#include "auth/grace.h"
#include "auth/jwt.h"
#include "auth/token.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/rand.h"

struct user_entry {
    char id[40];
    char client_id[40];
    enum policy_role role;
    bool active;
    bool used;
    int64_t valid_after_s;
};

struct client_entry {
    char id[40];
    bool active;
    bool used;
};

struct sid_entry {
    char sid[40];
    int64_t until_ms;
};

struct auth_session {
    pthread_rwlock_t lock;
    uint8_t key[64];
    size_t key_len;
    uint8_t prev_key[64]; /* key rotation: still verifies, never signs */
    size_t prev_key_len;
    int64_t access_ttl_ms;
    int64_t refresh_ttl_ms;
    int64_t refresh_grace_ms;
    struct user_entry *users;
    size_t users_cap, users_n;
    struct client_entry *clients;
    size_t clients_cap, clients_n;
    struct sid_entry *sids;
    size_t sids_n, sids_cap;
    struct auth_device_key device; /* derived from key; fixed after auth_session_new */
    struct auth_limiter *limiter;  /* login limits (ratelimit.h) */
    struct auth_grace *grace;      /* refresh reuse grace (grace.h) */
    uint64_t gen;                  /* this instance's token_memo generation (never 0) */
};

#define TOKEN_MEMO_SLOTS 32
#define TOKEN_MEMO_MAX 512

struct token_memo {
    uint64_t gen; /* the verifying instance's generation; 0: empty */
    struct auth_claims claims;
    size_t len;
    char token[TOKEN_MEMO_MAX];
};

static _Thread_local struct token_memo token_memo[TOKEN_MEMO_SLOTS];

/* a[0..n) == b[0..n), in a time that depends on n only: every word is compared, the
 * differences are OR-ed together (sodium_memcmp goes a byte at a time through volatile
 * reads, several times slower for a token). */
static bool same_bytes_ct(const char *a, const char *b, size_t n)
{
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    for (; i < n; i++) {
        diff |= (uint64_t)(unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}

/* A token's slot: a hash of its last 16 bytes (for our tokens, HMAC output). */
static struct token_memo *memo_slot(const char *token, size_t len)
{
    size_t tail = len < 16 ? len : 16;
    return &token_memo[hash_mem(token + len - tail, tail) % TOKEN_MEMO_SLOTS];
}

static atomic_uint_fast64_t key_gen = 1; /* the next instance's generation */

/* ---- users and clients (callers hold the write lock to insert) ---- */

static struct user_entry *user_slot(struct user_entry *tab, size_t cap, const char *id)
{
    size_t i = hash_str(id) & (cap - 1);
    while (tab[i].used && strcmp(tab[i].id, id) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

static void users_grow(struct auth_session *self)
{
    size_t cap = self->users_cap ? self->users_cap * 2 : 256;
    struct user_entry *tab = xcalloc(cap, sizeof *tab);
    for (size_t i = 0; i < self->users_cap; i++) {
        if (self->users[i].used) {
            *user_slot(tab, cap, self->users[i].id) = self->users[i];
        }
    }
    free(self->users);
    self->users = tab;
    self->users_cap = cap;
}

static struct client_entry *client_slot(struct client_entry *tab, size_t cap, const char *id)
{
    size_t i = hash_str(id) & (cap - 1);
    while (tab[i].used && strcmp(tab[i].id, id) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

static void clients_grow(struct auth_session *self)
{
    size_t cap = self->clients_cap ? self->clients_cap * 2 : 64;
    struct client_entry *tab = xcalloc(cap, sizeof *tab);
    for (size_t i = 0; i < self->clients_cap; i++) {
        if (self->clients[i].used) {
            *client_slot(tab, cap, self->clients[i].id) = self->clients[i];
        }
    }
    free(self->clients);
    self->clients = tab;
    self->clients_cap = cap;
}

static const char *str_or(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static void user_put(struct auth_session *self, const char *id, const json_t *row)
{
    if (!id || !*id || strlen(id) >= 40) {
        return;
    }
    if ((self->users_n + 1) * 2 > self->users_cap) {
        users_grow(self);
    }
    struct user_entry *e = user_slot(self->users, self->users_cap, id);
    if (!e->used) {
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
        e->used = true;
        self->users_n++;
    }
    if (!row) {
        e->active = false;
        e->role = ROLE_NONE;
        return;
    }
    snprintf(e->client_id, sizeof e->client_id, "%s", str_or(row, "client_id"));
    e->role = policy_role_parse(str_or(row, "role"));
    e->active = strcmp(str_or(row, "status"), "active") == 0;
}

static void client_put(struct auth_session *self, const char *id, const json_t *row)
{
    if (!id || !*id || strlen(id) >= 40) {
        return;
    }
    if ((self->clients_n + 1) * 2 > self->clients_cap) {
        clients_grow(self);
    }
    struct client_entry *e = client_slot(self->clients, self->clients_cap, id);
    if (!e->used) {
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
        e->used = true;
        self->clients_n++;
    }
    e->active = row && strcmp(str_or(row, "status"), "active") == 0;
}

static int load_table(struct auth_session *self, struct store *store, enum store_table t)
{
    struct store_tx *tx;
    int rc = store_tx_begin(store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.limit = STORE_MAX_LIMIT;
    q.sort = "id";
    char *cursor = NULL;
    do {
        json_t *rows = NULL;
        char *next = NULL;
        q.cursor = cursor;
        rc = store_row_list(tx, t, &q, &rows, &next);
        free(cursor);
        cursor = next;
        if (rc < 0) {
            break;
        }
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            if (t == STORE_USERS) {
                user_put(self, str_or(row, "id"), row);
            } else {
                client_put(self, str_or(row, "id"), row);
            }
        }
        json_decref(rows);
    } while (cursor);
    free(cursor);
    store_tx_rollback(tx);
    return rc;
}

/* Copy a configured secret into key[64]; at least 32 bytes, longer ones are cut to 64. */
static int set_secret(const char *name, const char *secret, uint8_t *key, size_t *key_len)
{
    size_t n = strlen(secret);
    if (n < 32) {
        log_error("%s must be at least 32 bytes", name);
        return SB_E_CONFIG;
    }
    if (n > 64) {
        n = 64;
    }
    memcpy(key, secret, n);
    *key_len = n;
    return 0;
}

/*
 * Sessions revoked recently enough that an access token of theirs may still be unexpired:
 * a token is issued no later than its session's revocation and lives access_ttl, so
 * revocations older than that (plus the verifier's leeway) cannot matter any more. This is
 * what keeps a logged-out token refused after a restart.
 */
static int load_revoked(struct auth_session *self, struct store *store)
{
    struct store_tx *tx;
    int rc = store_tx_begin(store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *sids = NULL;
    rc = store_refresh_revoked_since(tx, clock_now_ms() - self->access_ttl_ms - 120000, &sids);
    store_tx_rollback(tx);
    size_t i;
    json_t *sid;
    json_array_foreach(sids, i, sid)
    {
        auth_session_revoke_sid(self, json_string_value(sid));
    }
    json_decref(sids);
    return rc;
}

static int load_key(struct auth_session *self, struct store *store, const char *secret)
{
    if (secret && *secret) {
        return set_secret("jwt_secret", secret, self->key, &self->key_len);
    }
    struct store_tx *tx;
    int rc = store_tx_begin(store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    char *value = NULL;
    rc = store_meta_get(tx, "jwt_secret", &value);
    if (rc == SB_E_NOTFOUND) {
        unsigned char raw[32];
        rand_bytes(raw, sizeof raw);
        char enc[64];
        auth_b64url_encode(raw, sizeof raw, enc);
        auth_wipe(raw, sizeof raw);
        rc = store_meta_set(tx, "jwt_secret", enc);
        value = xstrdup(enc);
        auth_wipe(enc, sizeof enc);
        if (rc == 0) {
            rc = store_tx_commit(tx);
            tx = NULL;
        }
    }
    store_tx_rollback(tx);
    if (rc == 0) {
        size_t n = strlen(value);
        if (n > sizeof self->key) {
            n = sizeof self->key;
        }
        memcpy(self->key, value, n);
        self->key_len = n;
    }
    if (value) {
        auth_wipe(value, strlen(value));
        free(value);
    }
    return rc;
}

int auth_session_new(struct store *store, const struct auth_session_config *cfg,
                     struct auth_session **out)
{
    struct auth_session *self = xcalloc(1, sizeof *self);
    pthread_rwlock_init(&self->lock, NULL);
    self->access_ttl_ms = cfg->access_ttl_ms > 0 ? cfg->access_ttl_ms : 15 * 60 * 1000;
    self->refresh_ttl_ms = cfg->refresh_ttl_ms > 0 ? cfg->refresh_ttl_ms : 30LL * 86400 * 1000;
    self->refresh_grace_ms = cfg->refresh_grace_ms > 0 ? cfg->refresh_grace_ms : 0;
    struct auth_counters counters = auth_counters_store_new(store);
    self->limiter = auth_limiter_new(&cfg->login, &counters);
    self->grace = auth_grace_new();
    int rc = load_key(self, store, cfg->jwt_secret);
    if (rc == 0 && cfg->jwt_secret_previous && *cfg->jwt_secret_previous) {
        rc = set_secret("jwt_secret_previous", cfg->jwt_secret_previous, self->prev_key,
                        &self->prev_key_len);
    }
    if (rc < 0) {
        goto out_free;
    }
    auth_device_key_init(&self->device, self->key, self->key_len);
    self->gen = atomic_fetch_add(&key_gen, 1);
    pthread_rwlock_wrlock(&self->lock);
    rc = load_table(self, store, STORE_CLIENTS);
    if (rc == 0) {
        rc = load_table(self, store, STORE_USERS);
    }
    pthread_rwlock_unlock(&self->lock);
    if (rc == 0) {
        rc = load_revoked(self, store);
    }
    if (rc < 0) {
        goto out_free;
    }
    *out = self;
    return 0;
out_free:
    auth_session_free(self);
    *out = NULL;
    return rc;
}

void auth_session_free(struct auth_session *self)
{
    if (!self) {
        return;
    }
    free(self->users);
    free(self->clients);
    free(self->sids);
    auth_wipe(self->key, sizeof self->key);
    auth_wipe(self->prev_key, sizeof self->prev_key);
    auth_wipe(&self->device, sizeof self->device);
    auth_limiter_free(self->limiter);
    auth_grace_free(self->grace);
    pthread_rwlock_destroy(&self->lock);
    free(self);
}

const struct auth_device_key *auth_session_device_key(const struct auth_session *self)
{
    return self ? &self->device : NULL;
}

struct auth_limiter *auth_session_limiter(struct auth_session *self)
{
    return self->limiter;
}

struct auth_grace *auth_session_grace(struct auth_session *self)
{
    return self->grace;
}

int64_t auth_session_refresh_ttl_ms(const struct auth_session *self)
{
    return self->refresh_ttl_ms;
}

int64_t auth_session_access_ttl_ms(const struct auth_session *self)
{
    return self->access_ttl_ms;
}

int64_t auth_session_refresh_grace_ms(const struct auth_session *self)
{
    return self->refresh_grace_ms;
}

int auth_session_issue(struct auth_session *self, const struct policy_principal *p, char **token,
                       int64_t *expires_in_s)
{
    struct auth_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", p->user_id);
    snprintf(c.role, sizeof c.role, "%s", policy_role_name(p->role));
    snprintf(c.client_id, sizeof c.client_id, "%s", p->client_id);
    snprintf(c.sid, sizeof c.sid, "%s", p->sid);
    int64_t now_s = clock_now_ms() / 1000;
    pthread_rwlock_rdlock(&self->lock);
    struct user_entry *u =
        self->users_cap ? user_slot(self->users, self->users_cap, p->user_id) : NULL;
    if (u && u->used && u->valid_after_s > now_s) {
        now_s = u->valid_after_s;
    }
    pthread_rwlock_unlock(&self->lock);
    c.iat = now_s;
    c.exp = now_s + self->access_ttl_ms / 1000;
    *expires_in_s = self->access_ttl_ms / 1000;
    return auth_jwt_sign(self->key, self->key_len, &c, token);
}

static bool sid_revoked_locked(const struct auth_session *self, const char *sid)
{
    if (!sid[0]) {
        return false;
    }
    for (size_t i = 0; i < self->sids_n; i++) {
        if (strcmp(self->sids[i].sid, sid) == 0) {
            return true;
        }
    }
    return false;
}

/* Check the cached state of p; callers hold the read lock. */
static int state_check_locked(struct auth_session *self, const struct policy_principal *p,
                              int64_t iat, const char **why)
{
    struct user_entry *u =
        self->users_cap ? user_slot(self->users, self->users_cap, p->user_id) : NULL;
    if (!u || !u->used || !u->active) {
        *why = "user disabled or unknown";
        return SB_E_UNAUTHORIZED;
    }
    if (u->role != p->role || strcmp(u->client_id, p->client_id) != 0) {
        *why = "role or client changed";
        return SB_E_UNAUTHORIZED;
    }
    if (iat >= 0 && iat < u->valid_after_s) {
        *why = "session revoked";
        return SB_E_UNAUTHORIZED;
    }
    if (p->client_id[0]) {
        struct client_entry *c =
            self->clients_cap ? client_slot(self->clients, self->clients_cap, p->client_id) : NULL;
        if (!c || !c->used || !c->active) {
            *why = "client suspended";
            return SB_E_UNAUTHORIZED;
        }
    }
    if (sid_revoked_locked(self, p->sid)) {
        *why = "session revoked";
        return SB_E_UNAUTHORIZED;
    }
    return 0;
}

int auth_session_check_token_exp(struct auth_session *self, const char *token, size_t len,
                                 struct policy_principal *out, int64_t *exp_s, const char **why)
{
    const char *w = NULL;
    struct auth_claims c;
    memset(out, 0, sizeof *out);
    int64_t now_s = clock_now_ms() / 1000;
    struct token_memo *m = memo_slot(token, len);
    bool memo = len <= TOKEN_MEMO_MAX;
    uint64_t gen = self->gen;
    int rc;
    if (memo && m->gen == gen && m->len == len && same_bytes_ct(m->token, token, len)) {
        c = m->claims;
        /* The same expiry rule as auth_jwt_verify (exp <= now - leeway is expired). */
        rc = now_s > INT64_MIN + AUTH_JWT_LEEWAY_S && c.exp <= now_s - AUTH_JWT_LEEWAY_S
                 ? SB_E_UNAUTHORIZED
                 : 0;
        if (rc < 0) {
            w = "expired";
            m->gen = 0;
        }
    } else {
        rc = auth_jwt_verify(self->key, self->key_len, token, len, now_s, &c, &w);
        if (rc < 0 && self->prev_key_len && w && strcmp(w, "bad signature") == 0) {
            /* During a key rotation, tokens signed with the previous secret stay valid. */
            rc = auth_jwt_verify(self->prev_key, self->prev_key_len, token, len, now_s, &c, &w);
        }
        if (rc == 0 && memo) {
            memcpy(m->token, token, len);
            m->len = len;
            m->claims = c;
            m->gen = gen;
        }
    }
    if (rc < 0) {
        if (why) {
            *why = w ? w : "invalid";
        }
        return SB_E_UNAUTHORIZED;
    }
    /* Our ids are UUIDs; a longer claim cannot name a user, a client or a session of ours. */
    if (strlen(c.sub) >= sizeof out->user_id || strlen(c.client_id) >= sizeof out->client_id ||
        strlen(c.sid) >= sizeof out->sid) {
        if (why) {
            *why = "unknown user";
        }
        return SB_E_UNAUTHORIZED;
    }
    memcpy(out->user_id, c.sub, strlen(c.sub) + 1);
    memcpy(out->client_id, c.client_id, strlen(c.client_id) + 1);
    memcpy(out->sid, c.sid, strlen(c.sid) + 1);
    out->role = policy_role_parse(c.role);
    out->iat = c.iat;
    if (exp_s) {
        *exp_s = c.exp;
    }
    pthread_rwlock_rdlock(&self->lock);
    rc = state_check_locked(self, out, c.iat, &w);
    pthread_rwlock_unlock(&self->lock);
    if (rc < 0) {
        if (why) {
            *why = w;
        }
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int auth_session_check_token(struct auth_session *self, const char *token, size_t len,
                             struct policy_principal *out, const char **why)
{
    return auth_session_check_token_exp(self, token, len, out, NULL, why);
}

int auth_session_still_valid(struct auth_session *self, const struct policy_principal *p,
                             const char **why)
{
    const char *w = NULL;
    pthread_rwlock_rdlock(&self->lock);
    int rc = state_check_locked(self, p, p->iat > 0 ? p->iat : -1, &w);
    pthread_rwlock_unlock(&self->lock);
    if (why) {
        *why = w;
    }
    return rc;
}

/* Tokens of user_id issued before at_ms (to the second, rounded up) are refused. */
static void revoke_user_at(struct auth_session *self, const char *user_id, int64_t at_ms)
{
    int64_t after_s = at_ms / 1000 + 1;
    pthread_rwlock_wrlock(&self->lock);
    if (self->users_cap && user_id[0]) {
        struct user_entry *u = user_slot(self->users, self->users_cap, user_id);
        if (u->used && u->valid_after_s < after_s) {
            u->valid_after_s = after_s;
        }
    }
    pthread_rwlock_unlock(&self->lock);
}

/*
 * Revocations travel as audit entries: every logout, refresh-token reuse and password change
 * writes one in the transaction that revokes the session in refresh_tokens, and the change
 * log brings each audit entry to every node (NOTIFY wakes them), in order. So a revocation
 * made on one node reaches the cache of every other node within the hub's latency, and
 * times come from the entry, not from when this node saw it (a login on this node just
 * after a remote "log out everywhere" keeps its token).
 */
static void apply_audit(struct auth_session *self, const json_t *entry, int64_t at_ms)
{
    const char *action = str_or(entry, "action");
    if (!strcmp(action, "auth.logout") || !strcmp(action, "auth.refresh_reuse")) {
        auth_session_revoke_sid(self, str_or(entry, "entity_id"));
    } else if (!strcmp(action, "auth.logout_all")) {
        revoke_user_at(self, str_or(entry, "actor_id"), at_ms);
    } else if (!strcmp(action, "user.update_password")) {
        revoke_user_at(self, str_or(entry, "entity_id"), at_ms);
    }
}

/* Could this audit entry's text be a revocation? The action names appear verbatim in it (the
 * log writes JSON without escaping letters), so most entries are never parsed here. */
static bool may_revoke(const char *text)
{
    return strstr(text, "auth.logout") || strstr(text, "auth.refresh_reuse") ||
           strstr(text, "user.update_password");
}

void auth_session_apply_change(struct auth_session *self, const struct store_change *ch)
{
    bool deleted = strcmp(ch->op, "DELETE") == 0;
    bool audit = ch->table == STORE_AUDIT && !strcmp(ch->op, "INSERT");
    if (!audit && ch->table != STORE_USERS && ch->table != STORE_CLIENTS) {
        return;
    }
    /* The row parsed (store_changes_read) or as text (store_changes_read_raw). */
    json_t *row = NULL;
    if (ch->record) {
        row = json_incref(ch->record);
    } else if (ch->record_json && !deleted && (!audit || may_revoke(ch->record_json))) {
        row = store_change_row(ch->record_json);
    }
    if (audit) {
        if (row) {
            apply_audit(self, row, ch->at_ms);
        }
        json_decref(row);
        return;
    }
    if (deleted) {
        json_decref(row);
        row = NULL;
    }
    pthread_rwlock_wrlock(&self->lock);
    if (ch->table == STORE_USERS) {
        user_put(self, ch->row_id, row);
    } else {
        client_put(self, ch->row_id, row);
    }
    pthread_rwlock_unlock(&self->lock);
    json_decref(row);
}

/* Notes only fill gaps: a row the change log already delivered is never overwritten by a
 * read that may be older than it (a login racing a disable must not re-enable the user). */
void auth_session_note_user(struct auth_session *self, const json_t *row)
{
    if (!self) {
        return;
    }
    const char *id = str_or(row, "id");
    pthread_rwlock_wrlock(&self->lock);
    if (!self->users_cap || !user_slot(self->users, self->users_cap, id)->used) {
        user_put(self, id, row);
    }
    pthread_rwlock_unlock(&self->lock);
}

void auth_session_note_client(struct auth_session *self, const json_t *row)
{
    if (!self) {
        return;
    }
    const char *id = str_or(row, "id");
    pthread_rwlock_wrlock(&self->lock);
    if (!self->clients_cap || !client_slot(self->clients, self->clients_cap, id)->used) {
        client_put(self, id, row);
    }
    pthread_rwlock_unlock(&self->lock);
}

void auth_session_revoke_sid(struct auth_session *self, const char *sid)
{
    if (!self || !sid || !*sid || strlen(sid) >= 40) {
        return;
    }
    int64_t now = clock_now_ms();
    pthread_rwlock_wrlock(&self->lock);
    /* Access tokens live at most access_ttl: older revocations can go. */
    size_t j = 0;
    for (size_t i = 0; i < self->sids_n; i++) {
        if (self->sids[i].until_ms > now) {
            self->sids[j++] = self->sids[i];
        }
    }
    self->sids_n = j;
    if (!sid_revoked_locked(self, sid)) {
        if (self->sids_n == self->sids_cap) {
            self->sids_cap = self->sids_cap ? self->sids_cap * 2 : 64;
            self->sids = xrealloc(self->sids, self->sids_cap * sizeof *self->sids);
        }
        snprintf(self->sids[self->sids_n].sid, sizeof self->sids[self->sids_n].sid, "%s", sid);
        self->sids[self->sids_n].until_ms = now + self->access_ttl_ms + 120000;
        self->sids_n++;
    }
    pthread_rwlock_unlock(&self->lock);
}

void auth_session_revoke_user(struct auth_session *self, const char *user_id)
{
    if (!self) {
        return;
    }
    revoke_user_at(self, user_id, clock_now_ms());
}
