/*
 * Canonical encoding and SHA-256 chaining of audit entries (see audit_hash.h). The encoding
 * is built by putting the fixed field list into a fresh object and dumping it as jansson's
 * JSON_COMPACT | JSON_SORT_KEYS does (json_encode_sorted), which is deterministic for the same
 * values; JSON fields (before, after) are re-read from storage as values, so key order inside
 * them does not matter either.
 */
#include "store/audit_hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"

static const char *const canonical_fields[] = {
    "id",        "seq",    "at",          "actor_id",   "actor_email",
    "client_id", "action", "entity_type", "entity_id",  "before",
    "after",     "ip",     "user_agent",  "request_id", "prev_hash",
};

char *audit_canonical(const json_t *entry)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < sizeof(canonical_fields) / sizeof(canonical_fields[0]); i++) {
        json_t *v = json_object_get(entry, canonical_fields[i]);
        /* Shared, not copied: the dump only reads them (a deep copy was a fifth of the cost
         * of hashing an agent status change). */
        json_object_set_new(obj, canonical_fields[i], v ? json_incref(v) : json_null());
    }
    /* json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)'s bytes, written by our
     * encoder (checked byte for byte against jansson by test_json_encode). */
    char *out = json_encode_sorted(obj, NULL);
    json_decref(obj);
    return out;
}

/* SHA-256 from OpenSSL: it uses the CPU's SHA extensions where present (libsodium's portable
 * code took 7 % of an agent status change's instructions). Fetched once. */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void audit_hash_compute(const char *prev_hash, const json_t *entry, char out[AUDIT_HASH_HEX_LEN])
{
    char *canon = audit_canonical(entry);
    pthread_once(&sha256_once, sha256_fetch);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !sha256 || !EVP_DigestInit_ex(ctx, sha256, NULL) ||
        !EVP_DigestUpdate(ctx, prev_hash, strlen(prev_hash)) ||
        !EVP_DigestUpdate(ctx, canon, strlen(canon)) || !EVP_DigestFinal_ex(ctx, digest, &len) ||
        len != 32) {
        fprintf(stderr, "switchboard: SHA-256 from OpenSSL failed\n");
        abort(); /* like out-of-memory: an entry must never go unhashed */
    }
    EVP_MD_CTX_free(ctx);
    sodium_bin2hex(out, AUDIT_HASH_HEX_LEN, digest, len);
    free(canon);
}
