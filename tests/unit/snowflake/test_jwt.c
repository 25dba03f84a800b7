#define _GNU_SOURCE
/* jwt.c: base64 vectors of snowflake-sql-api.md 3.6, account/user normalization (3.3), the
 * fingerprint against the openssl command-line pipeline (3.2), key formats, RS256 signatures, the
 * JWT lifetime option and its renewal point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "snowflake.h"

#include <papi/papi_snowflake.h>

static const char header_json[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char claims_json[] =
    "{\"iss\":\"MYORG-MYACCOUNT.SVC_PAPI.SHA256:ENDTsdonRVI0A1F49SXOCPinOWA8F6I745pk833AOwY=\","
    "\"sub\":\"MYORG-MYACCOUNT.SVC_PAPI\",\"iat\":1735689600,\"exp\":1735693140}";
static const char claims_b64[] =
    "eyJpc3MiOiJNWU9SRy1NWUFDQ09VTlQuU1ZDX1BBUEkuU0hBMjU2OkVORFRzZG9uUlZJMEExRjQ5U1hPQ1Bpbk9XQThGNk"
    "k3NDVwazgzM0FPd1k9Iiwic3ViIjoiTVlPUkctTVlBQ0NPVU5ULlNWQ19QQVBJIiwiaWF0IjoxNzM1Njg5NjAwLCJleHAi"
    "OjE3MzU2OTMxNDB9";

static char *url(const void *p, size_t n)
{
    papi_buf b;
    papi_buf_init(&b);
    papi__b64url(&b, p, n);
    return papi_buf_steal(&b, NULL);
}

static char *std64(const void *p, size_t n)
{
    papi_buf b;
    papi_buf_init(&b);
    papi__b64std(&b, p, n);
    return papi_buf_steal(&b, NULL);
}

static void test_b64url_vectors(void **state)
{
    (void)state;
    char *h = url(header_json, strlen(header_json));
    assert_string_equal(h, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9");
    char *c = url(claims_json, strlen(claims_json));
    assert_string_equal(c, claims_b64);
    free(h);
    free(c);
    /* padding and the two alphabets differ exactly where they should */
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char *u = url(bytes, 3), *s = std64(bytes, 3);
    assert_string_equal(u, "-_-_");
    assert_string_equal(s, "+/+/");
    free(u);
    free(s);
    u = url("a", 1);
    s = std64("a", 1);
    assert_string_equal(u, "YQ");
    assert_string_equal(s, "YQ==");
    free(u);
    free(s);
    u = url("ab", 2);
    s = std64("ab", 2);
    assert_string_equal(u, "YWI");
    assert_string_equal(s, "YWI=");
    free(u);
    free(s);
    u = url("", 0);
    assert_string_equal(u ? u : "", "");
    free(u);
}

static void test_claims_json(void **state)
{
    (void)state;
    papi_buf b;
    papi_buf_init(&b);
    assert_int_equal(papi__jwt_claims("MYORG-MYACCOUNT.SVC_PAPI",
                                      "SHA256:ENDTsdonRVI0A1F49SXOCPinOWA8F6I745pk833AOwY=",
                                      1735689600, 1735689600 + 59 * 60, &b, NULL),
                     PAPI_OK);
    assert_string_equal(b.data, claims_json);
    papi_buf_free(&b);
}

static void test_account_normalization(void **state)
{
    (void)state;
    static const char *const table[][2] = {
        {"myorg-myaccount", "MYORG-MYACCOUNT"},
        {"myorg-myaccount.privatelink", "MYORG-MYACCOUNT"},
        {"xy12345", "XY12345"},
        {"xy12345.us-east-1", "XY12345"},
        {"xy12345.us-east-2.aws", "XY12345"},
        {"xy12345.east-us-2.azure", "XY12345"},
        {"xy12345.us-central1.gcp", "XY12345"},
        {"xy12345.us-east-1.privatelink", "XY12345"},
        {"acct-with-dashes", "ACCT-WITH-DASHES"},
        {"myacct-conn.global", "MYACCT"},
        {"https://myorg-myaccount.snowflakecomputing.com", "MYORG-MYACCOUNT"},
        {"xy12345.us-east-1.snowflakecomputing.com", "XY12345"},
        {"myorg-my_acct", "MYORG-MY_ACCT"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char out[64];
        papi_error err = {0};
        assert_int_equal(papi__sf_jwt_account(table[i][0], out, sizeof out, &err), PAPI_OK);
        assert_string_equal(out, table[i][1]);
    }
    char out[64];
    papi_error err = {0};
    /* the SQL spelling must be refused with advice, not silently cut to MYORG */
    assert_int_equal(papi__sf_jwt_account("myorg.myaccount", out, sizeof out, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "dash"));
    assert_int_equal(papi__sf_jwt_account("", out, sizeof out, &err), PAPI_ECONFIG);
    assert_int_equal(papi__sf_jwt_account(NULL, out, sizeof out, &err), PAPI_ECONFIG);
    assert_int_equal(papi__sf_jwt_user("svc_papi", out, sizeof out, &err), PAPI_OK);
    assert_string_equal(out, "SVC_PAPI");
    assert_int_equal(papi__sf_jwt_user("", out, sizeof out, &err), PAPI_ECONFIG);
}

typedef struct keys {
    char dir[64];
    char p8[96], p1[96], enc[96], small[96];
    EVP_PKEY *key;
} keys;

static void write_key(const char *path, EVP_PKEY *k, int kind)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (kind == 0)
        assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    else if (kind == 1)
    {
        BIO *b = BIO_new_fp(f, BIO_NOCLOSE); /* PKCS#1 "BEGIN RSA PRIVATE KEY" */
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL), 1);
        BIO_free(b);
    }
    else
        assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, EVP_des_ede3_cbc(), NULL, 0, NULL,
                                                   (void *)"pass phrase"),
                         1);
    fclose(f);
}

static int setup_keys(void **state)
{
    keys *k = calloc(1, sizeof *k);
    strcpy(k->dir, "/tmp/papi-jwt-XXXXXX");
    if (!mkdtemp(k->dir))
        return -1;
    snprintf(k->p8, sizeof k->p8, "%s/k.p8", k->dir);
    snprintf(k->p1, sizeof k->p1, "%s/k1.pem", k->dir);
    snprintf(k->enc, sizeof k->enc, "%s/enc.p8", k->dir);
    snprintf(k->small, sizeof k->small, "%s/small.p8", k->dir);
    k->key = EVP_RSA_gen(2048);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    if (!k->key || !small)
        return -1;
    write_key(k->p8, k->key, 0);
    write_key(k->p1, k->key, 1);
    write_key(k->enc, k->key, 2);
    write_key(k->small, small, 0);
    EVP_PKEY_free(small);
    *state = k;
    return 0;
}

static int teardown_keys(void **state)
{
    keys *k = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", k->dir);
    if (system(cmd) != 0)
        return -1;
    EVP_PKEY_free(k->key);
    free(k);
    return 0;
}

static void test_fingerprint_matches_openssl(void **state)
{
    keys *k = *state;
    papi__jwt_signer *s = NULL;
    assert_int_equal(papi__jwt_signer_create(k->p8, NULL, NULL, NULL, &s, NULL), PAPI_OK);
    char cmd[512], line[128] = "SHA256:";
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in '%s' -pubout -outform DER 2>/dev/null | openssl dgst -sha256 "
             "-binary | openssl enc -base64",
             k->p8);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line + 7, sizeof line - 7, p));
    assert_int_equal(pclose(p), 0);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(papi__jwt_signer_fingerprint(s), line);
    assert_int_equal(strlen(line), 7 + 44);
    papi__jwt_signer_destroy(s);
}

/* papi_snowflake.h: the public calls the `papi` tool uses, over the same signer. */
static void test_public_calls(void **state)
{
    keys *k = *state;
    papi_config *cfg = NULL;
    papi_error err;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    char fp[PAPI_SNOWFLAKE_FINGERPRINT_MAX];
    char *jwt = (char *)1;
    /* no key file: a configuration error */
    assert_int_equal(papi_snowflake_fingerprint(cfg, fp, sizeof fp, &err), PAPI_ECONFIG);
    assert_int_equal(papi_config_set(cfg, "snowflake-private-key-file", k->p8, NULL), PAPI_OK);
    assert_int_equal(papi_snowflake_fingerprint(cfg, fp, sizeof fp, &err), PAPI_OK);
    papi__jwt_signer *s = NULL;
    assert_int_equal(papi__jwt_signer_create(k->p8, NULL, NULL, NULL, &s, NULL), PAPI_OK);
    assert_string_equal(fp, papi__jwt_signer_fingerprint(s));
    papi__jwt_signer_destroy(s);
    assert_int_equal(papi_snowflake_fingerprint(cfg, fp, 20, &err), PAPI_EINVAL);
    /* a JWT needs the account and user */
    assert_int_equal(papi_snowflake_jwt(cfg, 0, &jwt, &err), PAPI_ECONFIG);
    assert_null(jwt);
    assert_int_equal(papi_config_set(cfg, "snowflake-account", "myorg-acct", NULL), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "snowflake-user", "svc", NULL), PAPI_OK);
    assert_int_equal(papi_snowflake_jwt(cfg, 3601, &jwt, &err), PAPI_EINVAL);
    assert_int_equal(papi_snowflake_jwt(cfg, 600, &jwt, &err), PAPI_OK);
    assert_non_null(jwt);
    assert_int_equal(strncmp(jwt, "eyJ", 3), 0);
    assert_int_equal(
        strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
        strlen(jwt));
    papi_free(jwt);
    assert_int_equal(papi_snowflake_jwt(NULL, 0, &jwt, &err), PAPI_EINVAL);
    char *tok = (char *)1;
    assert_int_equal(papi_snowflake_token(cfg, "", NULL, &tok, &err), PAPI_EINVAL);
    assert_null(tok);
    papi_config_destroy(cfg);
}

static void test_key_formats(void **state)
{
    keys *k = *state;
    papi__jwt_signer *a = NULL, *b = NULL, *c = NULL;
    papi_error err = {0};
    assert_int_equal(papi__jwt_signer_create(k->p8, NULL, "a", "u", &a, &err), PAPI_OK);
    assert_int_equal(papi__jwt_signer_create(k->p1, NULL, "a", "u", &b, &err), PAPI_OK);
    assert_int_equal(papi__jwt_signer_create(k->enc, "pass phrase", "a", "u", &c, &err), PAPI_OK);
    assert_string_equal(papi__jwt_signer_fingerprint(a), papi__jwt_signer_fingerprint(b));
    assert_string_equal(papi__jwt_signer_fingerprint(a), papi__jwt_signer_fingerprint(c));
    papi__jwt_signer_destroy(a);
    papi__jwt_signer_destroy(b);
    papi__jwt_signer_destroy(c);
    papi__jwt_signer *x = NULL;
    assert_int_equal(papi__jwt_signer_create(k->enc, "Zq9-not-it", "a", "u", &x, &err), PAPI_ECONFIG);
    assert_null(x);
    assert_null(strstr(err.message, "Zq9")); /* never echo the passphrase */
    assert_int_equal(papi__jwt_signer_create(k->enc, NULL, "a", "u", &x, &err), PAPI_ECONFIG);
    assert_int_equal(papi__jwt_signer_create(k->small, NULL, "a", "u", &x, &err), PAPI_ECONFIG);
    assert_int_equal(papi__jwt_signer_create("/nonexistent/key.p8", NULL, "a", "u", &x, &err),
                     PAPI_ECONFIG);
    /* the operator learns which path and why (A16) */
    assert_non_null(strstr(err.message, "/nonexistent/key.p8"));
    assert_non_null(strstr(err.message, "No such file or directory"));
    papi__jwt_signer_destroy(NULL);
}

static unsigned char *unb64url(const char *s, size_t n, size_t *out_len)
{
    char *t = calloc(n + 4, 1);
    for (size_t i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t m = n;
    while (m % 4)
        t[m++] = '=';
    unsigned char *out = calloc(m, 1);
    int len = EVP_DecodeBlock(out, (unsigned char *)t, (int)m);
    free(t);
    assert_true(len >= 0);
    *out_len = (size_t)len - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    return out;
}

static void test_mint_verifies(void **state)
{
    keys *k = *state;
    papi__jwt_signer *s = NULL;
    assert_int_equal(
        papi__jwt_signer_create(k->p8, NULL, "myorg-myaccount.privatelink", "svc_papi", &s, NULL),
        PAPI_OK);
    assert_string_equal(papi__jwt_signer_subject(s), "MYORG-MYACCOUNT.SVC_PAPI");
    papi_buf jwt;
    papi_buf_init(&jwt);
    /* minted one minute after the example's iat: iat is backdated by 60 s for clock skew */
    assert_int_equal(papi__jwt_signer_mint(s, 1735689660, PAPI__JWT_LIFETIME_S, &jwt, NULL),
                     PAPI_OK);
    const char *d1 = strchr(jwt.data, '.'), *d2 = strrchr(jwt.data, '.');
    assert_true(d1 && d2 && d1 != d2);
    assert_null(strchr(jwt.data, '='));
    assert_int_equal(strncmp(jwt.data, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
    size_t clen, slen;
    unsigned char *claims = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &clen);
    char expect[512];
    snprintf(expect, sizeof expect,
             "{\"iss\":\"MYORG-MYACCOUNT.SVC_PAPI.%s\",\"sub\":\"MYORG-MYACCOUNT.SVC_PAPI\","
             "\"iat\":1735689600,\"exp\":1735693140}",
             papi__jwt_signer_fingerprint(s));
    assert_int_equal(clen, strlen(expect));
    assert_memory_equal(claims, expect, clen);
    unsigned char *sig = unb64url(d2 + 1, strlen(d2 + 1), &slen);
    assert_int_equal(slen, 256);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->key), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, slen, (unsigned char *)jwt.data,
                                      (size_t)(d2 - jwt.data)),
                     1);
    EVP_MD_CTX_free(ctx);
    /* an over-long lifetime is capped to Snowflake's one hour rule (59 minutes) */
    papi_buf_reset(&jwt);
    assert_int_equal(papi__jwt_signer_mint(s, 160, 7200, &jwt, NULL), PAPI_OK);
    free(claims);
    d1 = strchr(jwt.data, '.');
    d2 = strrchr(jwt.data, '.');
    claims = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &clen);
    assert_non_null(memmem(claims, clen, "\"exp\":3640", 10));
    free(claims);
    free(sig);
    papi_buf_free(&jwt);
    papi__jwt_signer_destroy(s);
}

/* snowflake-jwt-lifetime and when a JWT is renewed: the default must stay 59 minutes renewed
 * after 54 (snowflake-sql-api.md 3.4); every accepted lifetime must renew strictly inside it. */
static void test_lifetime_and_renewal(void **state)
{
    (void)state;
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    int64_t lifetime = 0;
    assert_int_equal(papi_config_get_int(cfg, "snowflake-jwt-lifetime", &lifetime), PAPI_OK);
    assert_int_equal(lifetime, PAPI__JWT_LIFETIME_S);
    assert_int_equal(PAPI__JWT_LIFETIME_S, 59 * 60);
    assert_int_equal(papi__jwt_renew_after_s(PAPI__JWT_LIFETIME_S), 54 * 60);
    assert_int_equal(papi__jwt_renew_after_s(10), 9);
    assert_int_equal(papi__jwt_renew_after_s(3600), 3294);
    for (int64_t life = 10; life <= 3600; life++) {
        int64_t renew = papi__jwt_renew_after_s(life);
        assert_true(renew > 0 && renew < life);
        assert_true((life - renew) * 59 >= life * 5); /* at least 5/59 of it is margin */
    }
    /* the accepted range: 10 s (tests) to Snowflake's hour; messages name the option */
    papi_error err = {0};
    const char *bad[] = {"9", "3601", "7200", "0", "x", "-5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(papi_config_set(cfg, "snowflake-jwt-lifetime", bad[i], &err),
                         PAPI_ECONFIG);
        assert_non_null(strstr(err.message, "snowflake-jwt-lifetime"));
    }
    assert_int_equal(papi_config_get_int(cfg, "snowflake-jwt-lifetime", &lifetime), PAPI_OK);
    assert_int_equal(lifetime, PAPI__JWT_LIFETIME_S);
    assert_int_equal(papi_config_set(cfg, "snowflake-jwt-lifetime", "10", NULL), PAPI_OK);
    assert_int_equal(papi_config_get_int(cfg, "snowflake-jwt-lifetime", &lifetime), PAPI_OK);
    assert_int_equal(lifetime, 10);
    assert_int_equal(papi_config_set(cfg, "snowflake-jwt-lifetime", "3600", NULL), PAPI_OK);
    assert_int_equal(papi_config_get_int(cfg, "snowflake-jwt-lifetime", &lifetime), PAPI_OK);
    assert_int_equal(lifetime, 3600);
    papi_config_destroy(cfg);
}

/* B6: iat is backdated for clock skew (a clock ahead of Snowflake's must not make the JWT
 * "issued in the future"); exp - iat stays the lifetime, never over an hour; renewal (counted
 * from iat) still comes after minting and before exp. */
static void test_clock_skew(void **state)
{
    (void)state;
    const int64_t now = 1735689660;
    assert_int_equal(papi__jwt_iat_s(now, PAPI__JWT_LIFETIME_S), now - 60);
    assert_int_equal(papi__jwt_iat_s(now, 3600), now - 60);
    assert_int_equal(papi__jwt_iat_s(now, 10), now - 1);
    assert_int_equal(papi__jwt_iat_s(now, 7200), now - 60); /* capped to the default lifetime */
    for (int64_t life = 10; life <= 3600; life++) {
        int64_t iat = papi__jwt_iat_s(now, life);
        int64_t renew_at = iat + papi__jwt_renew_after_s(life);
        assert_true(iat < now && now - iat <= PAPI__JWT_SKEW_S);
        assert_true(papi__jwt_lifetime_s(life) == life && life <= 3600); /* exp - iat */
        assert_true(renew_at > now);        /* not renewed on every request */
        assert_true(renew_at < iat + life); /* renewed before Snowflake would refuse it */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),
        cmocka_unit_test(test_claims_json),
        cmocka_unit_test(test_account_normalization),
        cmocka_unit_test_setup_teardown(test_fingerprint_matches_openssl, setup_keys,
                                        teardown_keys),
        cmocka_unit_test_setup_teardown(test_key_formats, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_public_calls, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_mint_verifies, setup_keys, teardown_keys),
        cmocka_unit_test(test_lifetime_and_renewal),
        cmocka_unit_test(test_clock_skew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
