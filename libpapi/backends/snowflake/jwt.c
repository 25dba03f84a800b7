/* Key-pair JWT for the Snowflake SQL API (snowflake-sql-api.md section 3): RS256 over EVP_*,
 * fingerprint over the SubjectPublicKeyInfo DER, account/user normalization. */
#include "snowflake.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct papi__jwt_signer {
    EVP_PKEY *key;
    char subject[256];    /* ACCOUNT.USER */
    char fingerprint[64]; /* SHA256:... */
};

static void b64(papi_buf *out, const void *data, size_t len, const char *alphabet, bool pad)
{
    const unsigned char *p = data;
    size_t i = 0;
    if (!papi_buf_reserve(out, (len + 2) / 3 * 4 + 1))
        return;
    papi_buf_append(out, "", 0); /* NUL-terminated even when len is 0 */
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                     alphabet[v & 63]};
        papi_buf_append(out, q, 4);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        papi_buf_putc(out, alphabet[v >> 18]);
        papi_buf_putc(out, alphabet[(v >> 12) & 63]);
        if (i + 1 < len)
            papi_buf_putc(out, alphabet[(v >> 6) & 63]);
        else if (pad)
            papi_buf_putc(out, '=');
        if (pad)
            papi_buf_putc(out, '=');
    }
}

void papi__b64url(papi_buf *out, const void *data, size_t len)
{
    b64(out, data, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

void papi__b64std(papi_buf *out, const void *data, size_t len)
{
    b64(out, data, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

/* A second segment with neither a digit nor a dash is an account name, not a region: the user
 * wrote the SQL form org.account, which Snowflake rejects in iss (3.3). */
static bool looks_like_sql_form(const char *seg, size_t len)
{
    static const char *const known[] = {"privatelink", "global", "aws", "azure", "gcp"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == len && strncasecmp(seg, known[i], len) == 0)
            return false;
    for (size_t i = 0; i < len; i++)
        if (isdigit((unsigned char)seg[i]) || seg[i] == '-')
            return false;
    return len > 0;
}

papi_status papi__sf_jwt_account(const char *account, char *out, size_t cap, papi_error *err)
{
    if (!account || !*account)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-account is required for key-pair auth");
    const char *s = strstr(account, "://");
    s = s ? s + 3 : account;
    size_t len = strcspn(s, "/:");
    const char *suffix = strstr(s, ".snowflakecomputing.");
    if (suffix && (size_t)(suffix - s) < len)
        len = (size_t)(suffix - s);
    const char *dot = memchr(s, '.', len);
    const char *global = NULL;
    for (size_t i = 0; i + 7 <= len; i++)
        if (strncasecmp(s + i, ".global", 7) == 0)
            global = s + i;
    size_t keep = len;
    if (global) {
        const char *dash = memchr(s, '-', len);
        if (dash)
            keep = (size_t)(dash - s);
    } else if (dot) {
        const char *seg = dot + 1;
        size_t seglen = strcspn(seg, ".");
        if (seg + seglen > s + len)
            seglen = (size_t)(s + len - seg);
        if (looks_like_sql_form(seg, seglen))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "snowflake-account '%.*s' looks like the SQL form org.account; "
                                  "write it with a dash: org-account",
                                  (int)(len > 64 ? 64 : len), s);
        keep = (size_t)(dot - s);
    }
    if (keep == 0)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-account is empty");
    if (keep + 1 > cap)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-account is too long");
    for (size_t i = 0; i < keep; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[keep] = '\0';
    return PAPI_OK;
}

papi_status papi__sf_jwt_user(const char *user, char *out, size_t cap, papi_error *err)
{
    if (!user || !*user)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-user is required for key-pair auth");
    size_t n = strlen(user);
    if (n + 1 > cap)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-user is too long");
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)toupper((unsigned char)user[i]);
    return PAPI_OK;
}

static papi_status fingerprint(EVP_PKEY *key, char *out, size_t cap, papi_error *err)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der); /* SubjectPublicKeyInfo, not PKCS#1 (3.2) */
    if (n <= 0)
        return papi_error_set(err, PAPI_ECONFIG, "cannot encode the public key");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (!ok)
        return papi_error_set(err, PAPI_EINTERNAL, "SHA-256 failed");
    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "SHA256:");
    papi__b64std(&b, md, mdlen);
    const char *s = papi_buf_cstr(&b);
    if (!s || strlen(s) + 1 > cap) {
        papi_buf_free(&b);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    memcpy(out, s, strlen(s) + 1);
    papi_buf_free(&b);
    return PAPI_OK;
}

papi_status papi__jwt_signer_create(const char *key_path, const char *passphrase,
                                    const char *account, const char *user, papi__jwt_signer **out,
                                    papi_error *err)
{
    *out = NULL;
    if (!key_path || !*key_path)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-private-key-file is not set");
    papi__jwt_signer *s = calloc(1, sizeof *s);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_status st = PAPI_OK;
    if (account || user) {
        char acc[128], usr[120];
        if ((st = papi__sf_jwt_account(account, acc, sizeof acc, err)) != PAPI_OK ||
            (st = papi__sf_jwt_user(user, usr, sizeof usr, err)) != PAPI_OK) {
            free(s);
            return st;
        }
        snprintf(s->subject, sizeof s->subject, "%s.%s", acc, usr);
    }
    /* fopen, not BIO_new_file: errno then says why, for an operator who mistyped a path */
    FILE *f = fopen(key_path, "r");
    BIO *bio = f ? BIO_new_fp(f, BIO_CLOSE) : NULL;
    if (!bio) {
        int e = f ? ENOMEM : errno;
        if (f)
            fclose(f);
        ERR_clear_error();
        free(s);
        return papi_error_set(err, PAPI_ECONFIG, "cannot open snowflake-private-key-file %s: %s",
                              key_path, strerror(e));
    }
    /* NULL callback: libcrypto takes the user pointer as the passphrase (3.1); "" for none so that
     * an encrypted key fails instead of prompting on a terminal. */
    s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(passphrase ? passphrase : ""));
    BIO_free(bio);
    if (!s->key) {
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        free(s);
        (void)e;
        return papi_error_set(err, PAPI_ECONFIG,
                              "cannot load the private key (not a PEM RSA key, or wrong or "
                              "missing passphrase)");
    }
    if (EVP_PKEY_get_base_id(s->key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(s->key) < 2048) {
        papi__jwt_signer_destroy(s);
        return papi_error_set(err, PAPI_ECONFIG,
                              "the private key must be RSA of 2048 bits or more");
    }
    if ((st = fingerprint(s->key, s->fingerprint, sizeof s->fingerprint, err)) != PAPI_OK) {
        papi__jwt_signer_destroy(s);
        return st;
    }
    *out = s;
    return PAPI_OK;
}

void papi__jwt_signer_destroy(papi__jwt_signer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->key);
    free(s);
}

const char *papi__jwt_signer_fingerprint(const papi__jwt_signer *s)
{
    return s->fingerprint;
}

const char *papi__jwt_signer_subject(const papi__jwt_signer *s)
{
    return s->subject;
}

papi_status papi__jwt_claims(const char *subject, const char *fingerprint, int64_t iat_s,
                             int64_t exp_s, papi_buf *out, papi_error *err)
{
    char iss[400];
    snprintf(iss, sizeof iss, "%s.%s", subject, fingerprint);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "iss", iss, "sub", subject, "iat",
                          (json_int_t)iat_s, "exp", (json_int_t)exp_s);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_buf_puts(out, s);
    free(s);
    return out->oom ? papi_error_set(err, PAPI_ENOMEM, "out of memory") : PAPI_OK;
}

int64_t papi__jwt_lifetime_s(int64_t lifetime_s)
{
    /* Snowflake honours at most one hour after iat (3.4) */
    return lifetime_s <= 0 || lifetime_s > 3600 ? PAPI__JWT_LIFETIME_S : lifetime_s;
}

int64_t papi__jwt_iat_s(int64_t now_s, int64_t lifetime_s)
{
    int64_t skew = papi__jwt_lifetime_s(lifetime_s) / 10;
    return now_s - (skew < PAPI__JWT_SKEW_S ? skew : PAPI__JWT_SKEW_S);
}

papi_status papi__jwt_signer_mint(const papi__jwt_signer *s, int64_t now_s, int64_t lifetime_s,
                                  papi_buf *out, papi_error *err)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    if (!s->subject[0])
        return papi_error_set(err, PAPI_ECONFIG,
                              "snowflake-account and snowflake-user are required");
    lifetime_s = papi__jwt_lifetime_s(lifetime_s);
    int64_t iat_s = papi__jwt_iat_s(now_s, lifetime_s);
    papi_buf claims;
    papi_buf_init(&claims);
    papi_status st =
        papi__jwt_claims(s->subject, s->fingerprint, iat_s, iat_s + lifetime_s, &claims, err);
    if (st != PAPI_OK) {
        papi_buf_free(&claims);
        return st;
    }
    size_t start = out->len;
    papi__b64url(out, header, sizeof header - 1);
    papi_buf_putc(out, '.');
    papi__b64url(out, claims.data, claims.len);
    papi_buf_free(&claims);
    if (out->oom)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");

    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, s->key) == 1 &&
             EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)out->data + start,
                            out->len - start) == 1 &&
             siglen <= sizeof sig &&
             EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)out->data + start,
                            out->len - start) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return papi_error_set(err, PAPI_EINTERNAL, "RS256 signing failed");
    }
    papi_buf_putc(out, '.');
    papi__b64url(out, sig, siglen);
    return out->oom ? papi_error_set(err, PAPI_ENOMEM, "out of memory") : PAPI_OK;
}

int64_t papi__jwt_renew_after_s(int64_t lifetime_s)
{
    return lifetime_s * 54 / 59;
}
