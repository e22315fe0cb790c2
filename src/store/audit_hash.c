/*
 * Canonical encoding and SHA-256 chaining of audit entries (see audit_hash.h). The encoding
 * is the object of the fixed field list dumped as jansson's JSON_COMPACT | JSON_SORT_KEYS does
 * (json_encode_sorted_pick), which is deterministic for the same values; JSON fields (before,
 * after) are re-read from storage as values, so key order inside them does not matter either.
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

/* In ascending byte order: the canonical form writes them in this order without building and
 * sorting an object (json_encode_sorted_pick). */
static const char *const canonical_fields[] = {
    "action", "actor_email", "actor_id",   "after",       "at",
    "before", "client_id",   "entity_id",  "entity_type", "id",
    "ip",     "prev_hash",   "request_id", "seq",         "user_agent",
};

static char *canonical(const json_t *entry, size_t *len)
{
    /* json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)'s bytes of the object of
     * these fields, written by our encoder (checked byte for byte against jansson by
     * test_json_encode and test_audit_hash). */
    return json_encode_sorted_pick(entry, canonical_fields,
                                   sizeof(canonical_fields) / sizeof(canonical_fields[0]), len);
}

char *audit_canonical(const json_t *entry)
{
    return canonical(entry, NULL);
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
    size_t canon_len = 0;
    char *canon = canonical(entry, &canon_len);
    pthread_once(&sha256_once, sha256_fetch);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !sha256 || !EVP_DigestInit_ex(ctx, sha256, NULL) ||
        !EVP_DigestUpdate(ctx, prev_hash, strlen(prev_hash)) ||
        !EVP_DigestUpdate(ctx, canon, canon_len) || !EVP_DigestFinal_ex(ctx, digest, &len) ||
        len != 32) {
        fprintf(stderr, "switchboard: SHA-256 from OpenSSL failed\n");
        abort(); /* like out-of-memory: an entry must never go unhashed */
    }
    EVP_MD_CTX_free(ctx);
    sodium_bin2hex(out, AUDIT_HASH_HEX_LEN, digest, len);
    free(canon);
}
