/*
 * The audit hash chain's canonical encoding and SHA-256, checked against a vector computed
 * independently (Python json.dumps(sort_keys=True, separators=(',', ':')) and hashlib).
 */
#include "test.h"

#include <stdlib.h>

#include "store/audit_hash.h"

static const char *const want_canon =
    "{\"action\":\"x.y\",\"actor_email\":\"a@b.test\",\"actor_id\":null,\"after\":{\"a\":[1,2],"
    "\"b\":1},\"at\":\"2026-01-01T00:00:00.000Z\",\"before\":null,\"client_id\":null,"
    "\"entity_id\":null,\"entity_type\":\"client\",\"id\":\"e1\",\"ip\":null,\"prev_hash\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\",\"request_id\":null,"
    "\"seq\":1,\"user_agent\":null}";

int main(void)
{
    /* Missing fields count as null; unknown keys and hash are ignored; key order is free. */
    json_t *e =
        json_pack("{s:s, s:{s:i, s:[i,i]}, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "prev_hash",
                  AUDIT_GENESIS_HASH, "after", "b", 1, "a", 1, 2, "action", "x.y", "id", "e1",
                  "seq", 1, "at", "2026-01-01T00:00:00.000Z", "actor_email", "a@b.test",
                  "entity_type", "client", "hash", "ignored", "extra", "ignored");
    char *canon = audit_canonical(e);
    CHECK_EQ_STR(canon, want_canon);
    free(canon);
    char hash[AUDIT_HASH_HEX_LEN];
    audit_hash_compute(AUDIT_GENESIS_HASH, e, hash);
    CHECK_EQ_STR(hash, "b02367f9139ef571a9b06a4c58322fa8f6765d12d8a5ad2fdd1c1c0323fce3f3");

    /* Any change of a field or of the previous hash changes the hash. */
    char other[AUDIT_HASH_HEX_LEN];
    json_object_set_new(e, "ip", json_string("127.0.0.1"));
    audit_hash_compute(AUDIT_GENESIS_HASH, e, other);
    CHECK(strcmp(hash, other) != 0);
    json_object_set_new(e, "ip", json_null());
    audit_hash_compute(AUDIT_GENESIS_HASH, e, other);
    CHECK_EQ_STR(other, hash);
    audit_hash_compute(hash, e, other);
    CHECK(strcmp(hash, other) != 0);
    json_decref(e);
    return test_done();
}
