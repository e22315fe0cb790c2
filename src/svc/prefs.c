/*
 * Preferences of the signed-in user: the panel's notification settings (which live events
 * show a toast, whether a sound plays), kept on the server so that they follow the user to
 * another browser (GET and PUT /api/v1/me/preferences).
 *
 * The preferences are one flat JSON object of known keys, each a boolean with a default
 * (the table below, which the panel's web/src/lib/prefs.js mirrors). A PUT names the whole
 * object: every key it leaves out takes its default, an unknown key or a value of the wrong
 * type refuses the whole request, and so does a body over SVC_PREFS_MAX_BYTES. The store
 * keeps the complete object (store_prefs_*), so what GET answers never depends on which
 * defaults were current when it was written; a user who never saved any gets the defaults.
 * A change is audited ("user.update_preferences" on the user, before and after) like the
 * other changes a user makes to its own account; a PUT that changes nothing writes nothing.
 */
#include <string.h>

#include "svc/svc_int.h"

static const struct pref_key {
    const char *name;
    bool default_value;
} pref_keys[] = {
    {"message", true},    /* a toast for new system messages */
    {"status", true},     /* ... for agent status changes */
    {"connection", true}, /* ... for the connection lost / back */
    {"sound", false},     /* a short tone with a live toast */
};
#define NKEYS (sizeof pref_keys / sizeof pref_keys[0])

static const struct pref_key *pref_find(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (!strcmp(pref_keys[i].name, name)) {
            return &pref_keys[i];
        }
    }
    return NULL;
}

/* The complete preferences: each known key from src when it holds a boolean there, else its
 * default. src may be NULL. */
static json_t *complete(const json_t *src)
{
    json_t *out = json_object();
    for (size_t i = 0; i < NKEYS; i++) {
        const json_t *v = src ? json_object_get(src, pref_keys[i].name) : NULL;
        bool b = json_is_boolean(v) ? json_is_true(v) : pref_keys[i].default_value;
        json_object_set_new(out, pref_keys[i].name, json_boolean(b));
    }
    return out;
}

/* The stored preferences of the actor, completed with the defaults, inside tx. */
static int load(struct store_tx *tx, const struct policy_principal *who,
                const struct store_scope *scope, json_t **out)
{
    json_t *stored = NULL;
    int rc = store_prefs_get(tx, scope, who->user_id, &stored);
    if (rc == 0) {
        *out = complete(stored);
    }
    json_decref(stored);
    return rc;
}

int svc_prefs_get(struct svc *svc, const struct policy_principal *who, json_t **out)
{
    struct store_scope scope;
    int rc = policy_self_scope(who, &scope);
    if (rc < 0) {
        return rc;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = load(tx, who, &scope, out);
    store_tx_rollback(tx);
    return rc;
}

/* Every problem of in, each named by its field; 0 when in may be stored. */
static int check(const json_t *in, size_t in_bytes, struct svc_errors *err)
{
    if (in_bytes > SVC_PREFS_MAX_BYTES) {
        return svc_invalid(err, "preferences", "too_large");
    }
    if (!json_is_object(in)) {
        return svc_invalid(err, "preferences", "must_be_object");
    }
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        if (!pref_find(key)) {
            rc = svc_invalid(err, key, "unknown_field");
        } else if (!json_is_boolean(v)) {
            rc = svc_invalid(err, key, "must_be_boolean");
        }
    }
    return rc;
}

int svc_prefs_put(struct svc *svc, const struct svc_actor *a, const json_t *in, size_t in_bytes,
                  json_t **out, struct svc_errors *err)
{
    *out = NULL;
    struct store_scope scope;
    int rc = policy_self_scope(&a->who, &scope);
    if (rc < 0) {
        return rc;
    }
    rc = check(in, in_bytes, err);
    if (rc < 0) {
        return rc;
    }
    json_t *next = complete(in), *before = NULL;
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        json_decref(next);
        return rc;
    }
    rc = load(tx, &a->who, &scope, &before);
    if (rc == 0 && !json_equal(before, next)) {
        rc = store_prefs_put(tx, &scope, a->who.user_id, next);
        if (rc == 0) {
            rc = svc_audit(tx, a, "user.update_preferences", "user", a->who.user_id, before, next);
        }
    }
    rc = svc_tx_end(tx, rc, NULL);
    json_decref(before);
    if (rc < 0) {
        json_decref(next);
        return rc;
    }
    *out = next;
    return 0;
}
