/*
 * The audit hash chain (DESIGN §4), shared by every backend: hash = SHA-256 over prev_hash
 * (64 lowercase hex characters) followed by the canonical encoding of the entry; the first
 * entry's prev_hash is AUDIT_GENESIS_HASH.
 *
 * The canonical encoding is the compact JSON object (keys sorted, no spaces) of a fixed list
 * of fields: id, seq, at, actor_id, actor_email, client_id, action, entity_type, entity_id,
 * before, after, ip, user_agent, request_id, prev_hash. A missing field counts as null; other
 * keys (hash included) are ignored. The list never changes, so old entries stay verifiable
 * after columns are added. Pure functions; any thread.
 */
#ifndef SB_STORE_AUDIT_HASH_H
#define SB_STORE_AUDIT_HASH_H

#include <jansson.h>

#define AUDIT_HASH_HEX_LEN 65 /* 64 hex characters and the NUL */
#define AUDIT_GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The canonical encoding of entry (malloc'd, caller frees). */
char *audit_canonical(const json_t *entry);
/* hash of entry chained to prev_hash, as lowercase hex. */
void audit_hash_compute(const char *prev_hash, const json_t *entry, char out[AUDIT_HASH_HEX_LEN]);

#endif
