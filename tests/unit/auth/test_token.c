/* Unit tests for src/auth/token.c: refresh tokens, their hashes, and strict base64url. */
#include "test.h"

#include <sodium.h>
#include <stdbool.h>

#include "auth/token.h"
#include "base/err.h"

static bool is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void test_token_new(void)
{
    char a[AUTH_TOKEN_LEN], b[AUTH_TOKEN_LEN];
    auth_token_new(a);
    auth_token_new(b);
    CHECK_EQ_INT(strlen(a), 43);
    CHECK_EQ_INT(strlen(b), 43);
    bool alphabet_ok = true;
    for (size_t i = 0; i < 43; i++) {
        alphabet_ok = alphabet_ok && is_b64url_char(a[i]) && is_b64url_char(b[i]);
    }
    CHECK(alphabet_ok);
    CHECK(strcmp(a, b) != 0);
    unsigned char raw[40];
    CHECK_EQ_INT(auth_b64url_decode(a, 43, raw, sizeof raw), 32);
}

static void test_token_hash(void)
{
    char h[AUTH_TOKEN_HASH_LEN];
    auth_token_hash("abc", 3, h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auth_token_hash("", 0, h);
    CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_EQ_INT(strlen(h), 64);
    char t[AUTH_TOKEN_LEN], h2[AUTH_TOKEN_HASH_LEN];
    auth_token_new(t);
    auth_token_hash(t, strlen(t), h);
    auth_token_hash(t, strlen(t), h2);
    CHECK_EQ_STR(h, h2);
    bool hex_ok = true;
    for (size_t i = 0; i < 64; i++) {
        hex_ok = hex_ok && ((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
    }
    CHECK(hex_ok);
}

static void test_consttime_and_wipe(void)
{
    CHECK(auth_consttime_eq("abcdef", "abcdef", 6));
    CHECK(!auth_consttime_eq("abcdef", "abcdeg", 6));
    CHECK(!auth_consttime_eq("xbcdef", "abcdef", 6));
    CHECK(auth_consttime_eq("a", "b", 0));
    unsigned char secret[16];
    memset(secret, 0xa5, sizeof secret);
    auth_wipe(secret, sizeof secret);
    bool zero = true;
    for (size_t i = 0; i < sizeof secret; i++) {
        zero = zero && secret[i] == 0;
    }
    CHECK(zero);
}

/* Round trip every length 0..40 and compare with libsodium's own URL-safe encoder. */
static void test_b64url_roundtrip(void)
{
    unsigned char in[40], back[40];
    char enc[64], ref[64];
    for (size_t i = 0; i < sizeof in; i++) {
        in[i] = (unsigned char)(i * 37 + 255);
    }
    int bad = 0;
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t n = auth_b64url_encode(in, len, enc);
        sodium_bin2base64(ref, sizeof ref, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        if (n != strlen(ref) || strcmp(enc, ref) != 0 || n != (len * 4 + 2) / 3) {
            bad++;
        }
        memset(back, 0, sizeof back);
        int m = auth_b64url_decode(enc, n, back, sizeof back);
        if (m != (int)len || memcmp(in, back, len) != 0) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* Known vectors (RFC 4648 with the URL alphabet). */
    CHECK_EQ_INT(auth_b64url_encode((const unsigned char *)"foobar", 6, enc), 8);
    CHECK_EQ_STR(enc, "Zm9vYmFy");
    CHECK_EQ_INT(auth_b64url_encode((const unsigned char *)"fo", 2, enc), 3);
    CHECK_EQ_STR(enc, "Zm8");
    unsigned char hi[3] = {0xfb, 0xff, 0xbf};
    auth_b64url_encode(hi, 3, enc);
    CHECK_EQ_STR(enc, "-_-_");
}

static void test_b64url_strict(void)
{
    unsigned char out[16];
    CHECK_EQ_INT(auth_b64url_decode("Zm8", 3, out, sizeof out), 2);
    CHECK_EQ_INT(memcmp(out, "fo", 2), 0);
    CHECK_EQ_INT(auth_b64url_decode("Zg", 2, out, sizeof out), 1);
    CHECK_EQ_INT(auth_b64url_decode("", 0, out, sizeof out), 0);
    /* Padding. */
    CHECK_EQ_INT(auth_b64url_decode("Zm8=", 4, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zg==", 4, out, sizeof out), SB_E_INVAL);
    /* Standard-alphabet and other characters. */
    CHECK_EQ_INT(auth_b64url_decode("+/8", 3, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zm 8", 4, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zm\0"
                                    "8",
                                    4, out, sizeof out),
                 SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zm8.", 4, out, sizeof out), SB_E_INVAL);
    /* Impossible length 4k+1. */
    CHECK_EQ_INT(auth_b64url_decode("Zm9vY", 5, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Z", 1, out, sizeof out), SB_E_INVAL);
    /* Non-zero unused trailing bits: "Zh" and "Zm9" decode to the same bytes as "Zg", "Zm8". */
    CHECK_EQ_INT(auth_b64url_decode("Zh", 2, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zm9", 3, out, sizeof out), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Z_", 2, out, sizeof out), SB_E_INVAL);
    /* Output capacity. */
    CHECK_EQ_INT(auth_b64url_decode("Zm9vYmFy", 8, out, 5), SB_E_INVAL);
    CHECK_EQ_INT(auth_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
    /* Every single-character change of trailing bits in a 32-byte value is rejected. */
    unsigned char raw[32], back[33];
    char enc[48];
    memset(raw, 0x5a, sizeof raw);
    auth_b64url_encode(raw, sizeof raw, enc);
    int accepted = 0;
    for (const char *p = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"; *p;
         p++) {
        enc[42] = *p;
        if (auth_b64url_decode(enc, 43, back, sizeof back) >= 0) {
            accepted++;
        }
    }
    /* 2 unused bits: exactly one in four last characters is canonical. */
    CHECK_EQ_INT(accepted, 16);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    test_token_new();
    test_token_hash();
    test_consttime_and_wipe();
    test_b64url_roundtrip();
    test_b64url_strict();
    return test_done();
}
