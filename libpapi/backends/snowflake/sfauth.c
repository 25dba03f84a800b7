/* Snowflake credentials for the transport: which kind is configured, the Authorization header
 * line, renewals (JWT re-minted before its hour ends, the OAuth token file re-read when it changes)
 * and the base URL the account or host gives. Keys in jwt.c; requests in transport_snowflake.c. */
#include "snowflake.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define TOKEN_FILE_RECHECK_MS 30000

struct papi__sf_auth {
    papi__sf_auth_kind kind;
    const char *token_type;
    /* how the token goes into requests (under lock): Bearer until the Snowflake Token form has
     * worked where Bearer was refused; bearer_worked ends trying the other form */
    papi__sf_form form;
    bool bearer_worked;
    bool form_logged;
    papi_host host;
    bool has_host;
    papi__jwt_signer *signer;
    int64_t jwt_lifetime_s;    /* snowflake-jwt-lifetime */
    int64_t jwt_renew_after_s; /* papi__jwt_renew_after_s(jwt_lifetime_s) */
    char *token_file;
    /* The credential is replaced, never modified, under lock; readers copy it into their own
     * header line, so a renewal never races a request in flight. */
    pthread_mutex_t lock;
    char *token;
    uint64_t token_gen;
    int64_t token_iat_s;
    int64_t token_checked_ms;
    struct timespec token_mtime;
    off_t token_size;
};

static void count_renewal(papi__sf_auth *a)
{
    if (a->has_host && a->host.count)
        a->host.count(a->host.ctx, PAPI_COUNTER_TOKEN_RENEWALS, 1);
}

static papi_status read_token_file(papi__sf_auth *a, papi_error *err)
{
    FILE *f = fopen(a->token_file, "r");
    if (!f)
        return papi_error_set(err, PAPI_EAUTH,
                              "cannot read the OAuth token file %s (snowflake-token-file): %s",
                              a->token_file, strerror(errno));
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int read_errno = ferror(f) ? errno : 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0) {
        a->token_mtime = sb.st_mtim;
        a->token_size = sb.st_size;
    }
    fclose(f);
    if (read_errno) /* e.g. a directory: open succeeds, read does not */
        return papi_error_set(err, PAPI_EAUTH,
                              "cannot read the OAuth token file %s (snowflake-token-file): %s",
                              a->token_file, strerror(read_errno));
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    if (n == 0 || papi__sf_has_control(buf, n)) /* a NUL too */
        return papi_error_set(err, PAPI_EAUTH,
                              "the OAuth token file %s (snowflake-token-file) is empty or holds a "
                              "control character",
                              a->token_file);
    char *t = strdup(buf);
    if (!t)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    free(a->token);
    a->token = t;
    a->token_gen++;
    count_renewal(a);
    return PAPI_OK;
}

static papi_status mint_jwt(papi__sf_auth *a, papi_error *err)
{
    papi_buf b;
    papi_buf_init(&b);
    int64_t now = (int64_t)time(NULL);
    papi_status st = papi__jwt_signer_mint(a->signer, now, a->jwt_lifetime_s, &b, err);
    if (st != PAPI_OK) {
        papi_buf_free(&b);
        return st;
    }
    free(a->token);
    a->token = papi_buf_steal(&b, NULL);
    a->token_iat_s = papi__jwt_iat_s(now, a->jwt_lifetime_s); /* renewal counts from the claim */
    a->token_gen++;
    count_renewal(a);
    return PAPI_OK;
}

/* Under lock: renews when due (or forced after a 401 on the generation the caller used). */
static papi_status refresh_locked(papi__sf_auth *a, bool force, uint64_t used_gen, papi_error *err)
{
    bool stale_gen = force && used_gen == a->token_gen; /* nobody renewed since that 401 */
    switch (a->kind) {
    case PAPI__SF_AUTH_JWT:
        if (!a->token || stale_gen || (int64_t)time(NULL) >= a->token_iat_s + a->jwt_renew_after_s)
            return mint_jwt(a, err);
        return PAPI_OK;
    case PAPI__SF_AUTH_OAUTH_FILE: {
        int64_t now = papi_host_now_ms(a->has_host ? &a->host : NULL);
        struct stat sb;
        bool changed =
            stat(a->token_file, &sb) == 0 &&
            (sb.st_mtim.tv_sec != a->token_mtime.tv_sec ||
             sb.st_mtim.tv_nsec != a->token_mtime.tv_nsec || sb.st_size != a->token_size);
        if (!a->token || stale_gen || changed ||
            now - a->token_checked_ms >= TOKEN_FILE_RECHECK_MS) {
            a->token_checked_ms = now;
            return read_token_file(a, err);
        }
        return PAPI_OK;
    }
    case PAPI__SF_AUTH_OAUTH_STATIC:
    case PAPI__SF_AUTH_PAT:
        return PAPI_OK;
    }
    return PAPI_OK;
}

papi_status papi__sf_auth_header(papi__sf_auth *a, bool force, bool alternate, uint64_t *gen,
                                 papi__sf_form *form, papi_buf *line, papi_error *err)
{
    pthread_mutex_lock(&a->lock);
    papi_status st = refresh_locked(a, force, *gen, err);
    if (st == PAPI_OK) {
        *form = alternate ? PAPI__SF_FORM_SNOWFLAKE_TOKEN : a->form;
        papi_buf_reset(line);
        if (*form == PAPI__SF_FORM_SNOWFLAKE_TOKEN) {
            papi_buf_puts(line, "Authorization: Snowflake Token=\"");
            papi_buf_puts(line, a->token);
            papi_buf_putc(line, '"');
        } else {
            papi_buf_puts(line, "Authorization: Bearer ");
            papi_buf_puts(line, a->token);
        }
        *gen = a->token_gen;
    }
    pthread_mutex_unlock(&a->lock);
    if (st == PAPI_OK && line->oom)
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    return st;
}

bool papi__sf_auth_alternate_ok(papi__sf_auth *a)
{
    pthread_mutex_lock(&a->lock);
    bool ok =
        a->kind == PAPI__SF_AUTH_OAUTH_FILE && a->form == PAPI__SF_FORM_BEARER && !a->bearer_worked;
    pthread_mutex_unlock(&a->lock);
    return ok;
}

void papi__sf_auth_worked(papi__sf_auth *a, papi__sf_form form)
{
    pthread_mutex_lock(&a->lock);
    if (form == PAPI__SF_FORM_SNOWFLAKE_TOKEN)
        a->form = form;
    else
        a->bearer_worked = true;
    bool log = a->kind == PAPI__SF_AUTH_OAUTH_FILE && !a->form_logged;
    a->form_logged = true;
    pthread_mutex_unlock(&a->lock);
    if (log && a->has_host)
        papi_host_logf(&a->host, PAPI_LOG_INFO, "snowflake: the OAuth token file %s works as %s",
                       a->token_file,
                       form == PAPI__SF_FORM_SNOWFLAKE_TOKEN
                           ? "Authorization: Snowflake Token=\"...\" (Bearer was refused)"
                           : "Authorization: Bearer with token type OAUTH");
}

papi__sf_auth_kind papi__sf_auth_get_kind(const papi__sf_auth *a)
{
    return a->kind;
}

const char *papi__sf_auth_token_type(const papi__sf_auth *a)
{
    return a->token_type;
}

bool papi__sf_auth_renewable(const papi__sf_auth *a)
{
    return a->kind == PAPI__SF_AUTH_JWT || a->kind == PAPI__SF_AUTH_OAUTH_FILE;
}

void papi__sf_auth_destroy(papi__sf_auth *a)
{
    if (!a)
        return;
    papi__jwt_signer_destroy(a->signer);
    pthread_mutex_destroy(&a->lock);
    if (a->token) /* credentials do not linger in freed memory */
        memset(a->token, 0, strlen(a->token));
    free(a->token);
    free(a->token_file);
    free(a);
}

static papi_status choose_kind(papi__sf_auth *a, const papi_config *cfg, const char *session,
                               papi_error *err)
{
    const char *authn = papi_config_get(cfg, "snowflake-authenticator");
    const char *file = papi_config_get(cfg, "snowflake-token-file");
    const char *token = papi_config_get(cfg, "snowflake-token");
    const char *key = papi_config_get(cfg, "snowflake-private-key-file");
    bool has_key = key && *key, has_file = file && *file, has_token = token && *token;
    struct stat sb;
    bool spcs = stat(session, &sb) == 0;
    if (authn && *authn) {
        if (strcasecmp(authn, "KEYPAIR_JWT") == 0 || strcasecmp(authn, "SNOWFLAKE_JWT") == 0) {
            a->kind = PAPI__SF_AUTH_JWT;
        } else if (strcasecmp(authn, "OAUTH") == 0) {
            a->kind = has_file || (!has_token && spcs) ? PAPI__SF_AUTH_OAUTH_FILE
                                                       : PAPI__SF_AUTH_OAUTH_STATIC;
            if (!has_file && !has_token && !spcs)
                return papi_error_set(err, PAPI_ECONFIG,
                                      "OAUTH needs snowflake-token-file or snowflake-token");
        } else if (strcasecmp(authn, "PROGRAMMATIC_ACCESS_TOKEN") == 0) {
            a->kind = PAPI__SF_AUTH_PAT;
        } else {
            return papi_error_set(err, PAPI_ECONFIG,
                                  "snowflake-authenticator must be KEYPAIR_JWT, OAUTH or "
                                  "PROGRAMMATIC_ACCESS_TOKEN");
        }
    } else if (has_key) {
        a->kind = PAPI__SF_AUTH_JWT;
    } else if (has_file) {
        a->kind = PAPI__SF_AUTH_OAUTH_FILE;
    } else if (has_token) {
        a->kind = PAPI__SF_AUTH_PAT;
    } else if (spcs) {
        a->kind = PAPI__SF_AUTH_OAUTH_FILE;
    } else {
        return papi_error_set(err, PAPI_ECONFIG,
                              "no Snowflake credential: set SNOWFLAKE_PRIVATE_KEY_FILE, "
                              "SNOWFLAKE_TOKEN_FILE or SNOWFLAKE_TOKEN");
    }
    spcs = spcs || (has_file && strcmp(file, session) == 0);
    if (spcs && a->kind != PAPI__SF_AUTH_OAUTH_FILE && a->has_host)
        papi_host_logf(&a->host, PAPI_LOG_WARN,
                       "snowflake: inside SPCS (%s), %s overrides the session token; this needs "
                       "the service's enableCustomCredentials and a network rule, and is sent to "
                       "SNOWFLAKE_HOST all the same",
                       session,
                       a->kind == PAPI__SF_AUTH_JWT
                           ? "the key file (snowflake-private-key-file, key-pair JWT)"
                           : "snowflake-token (SNOWFLAKE_TOKEN)");
    return PAPI_OK;
}

/* The first credential, so that a bad key or token file is a configuration error at start-up. */
static papi_status first_credential(papi__sf_auth *a, const papi_config *cfg, const char *session,
                                    papi_error *err)
{
    const char *file = papi_config_get(cfg, "snowflake-token-file");
    const char *token = papi_config_get(cfg, "snowflake-token");
    papi_status st = PAPI_OK;
    switch (a->kind) {
    case PAPI__SF_AUTH_JWT:
        a->token_type = "KEYPAIR_JWT";
        if (papi_config_get_int(cfg, "snowflake-jwt-lifetime", &a->jwt_lifetime_s) != PAPI_OK)
            a->jwt_lifetime_s = PAPI__JWT_LIFETIME_S;
        a->jwt_renew_after_s = papi__jwt_renew_after_s(a->jwt_lifetime_s);
        st = papi__jwt_signer_create(papi_config_get(cfg, "snowflake-private-key-file"),
                                     papi_config_get(cfg, "snowflake-private-key-file-pwd"),
                                     papi_config_get(cfg, "snowflake-account"),
                                     papi_config_get(cfg, "snowflake-user"), &a->signer, err);
        if (st == PAPI_OK)
            st = mint_jwt(a, err);
        break;
    case PAPI__SF_AUTH_OAUTH_FILE:
        a->token_type = "OAUTH";
        if (!(a->token_file = strdup(file && *file ? file : session)))
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        a->token_checked_ms = papi_host_now_ms(a->has_host ? &a->host : NULL);
        if ((st = read_token_file(a, err)) == PAPI_EAUTH) { /* at start-up it is configuration */
            st = PAPI_ECONFIG;
            if (err)
                err->status = st;
        }
        break;
    case PAPI__SF_AUTH_OAUTH_STATIC:
    case PAPI__SF_AUTH_PAT:
        a->token_type = a->kind == PAPI__SF_AUTH_PAT ? "PROGRAMMATIC_ACCESS_TOKEN" : "OAUTH";
        if (!token || !*token)
            return papi_error_set(err, PAPI_ECONFIG, "snowflake-token is not set");
        /* CR or LF would end the Authorization header and start another; never the value */
        if (papi__sf_has_control(token, strlen(token)))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "snowflake-token (SNOWFLAKE_TOKEN) holds a control character");
        if (!(a->token = strdup(token)))
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        a->token_gen = 1;
        break;
    }
    return st;
}

papi_status papi__sf_auth_create(const papi_config *cfg, const papi_host *host,
                                 const char *session_token_path, papi__sf_auth **out,
                                 papi_error *err)
{
    const char *session = session_token_path ? session_token_path : PAPI__SF_SESSION_TOKEN_PATH;
    *out = NULL;
    papi__sf_auth *a = calloc(1, sizeof *a);
    if (!a)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    if (host) {
        a->host = *host;
        a->has_host = true;
    }
    papi_status st = choose_kind(a, cfg, session, err);
    if (st == PAPI_OK)
        st = first_credential(a, cfg, session, err);
    if (st != PAPI_OK) {
        papi__sf_auth_destroy(a);
        return st;
    }
    *out = a;
    return PAPI_OK;
}

/* ---------------------------------------------------------------- base URL */

static bool host_chars_ok(const char *h)
{
    /* the base URL is built from configuration: keep it to URL-safe host/port characters */
    for (; *h; h++)
        if (!(isalnum((unsigned char)*h) || strchr(".-_:[]/", *h)))
            return false;
    return true;
}

papi_status papi__sf_base_url(const papi_config *cfg, char **out, papi_error *err)
{
    *out = NULL;
    const char *host = papi_config_get(cfg, "snowflake-host");
    const char *port = papi_config_get(cfg, "snowflake-port");
    const char *proto = papi_config_get(cfg, "snowflake-protocol");
    const char *account = papi_config_get(cfg, "snowflake-account");
    if (!proto || !*proto)
        proto = "https";
    if (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0)
        return papi_error_set(err, PAPI_ECONFIG, "snowflake-protocol must be https or http");
    papi_buf b;
    papi_buf_init(&b);
    bool lower = false;
    const char *h = host && *host ? host : account;
    if (!h || !*h) {
        return papi_error_set(err, PAPI_ECONFIG,
                              "set snowflake-account (SNOWFLAKE_ACCOUNT) or snowflake-host");
    }
    if (strstr(h, "://")) { /* SPCS and users sometimes give a URL: accept it whole */
        papi_buf_puts(&b, h);
    } else {
        papi_buf_printf(&b, "%s://%s", proto, h);
        if (h == account) {
            lower = true;
            if (!strstr(h, ".snowflakecomputing."))
                papi_buf_puts(&b, ".snowflakecomputing.com");
        }
        if (port && *port && !strchr(h, ':'))
            papi_buf_printf(&b, ":%s", port);
    }
    while (b.len > 0 && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    if (b.oom) {
        papi_buf_free(&b);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    const char *rest = strstr(b.data, "://") + 3;
    if (!host_chars_ok(rest) || strchr(rest, '/')) {
        papi_buf_free(&b);
        return papi_error_set(err, PAPI_ECONFIG,
                              "%s has characters a host name cannot have (letters, digits, "
                              "'.', '-', '_', ':' and [] only)",
                              h == account ? "snowflake-account (SNOWFLAKE_ACCOUNT)"
                                           : "snowflake-host (SNOWFLAKE_HOST)");
    }
    if (lower)
        for (char *p = b.data; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    *out = papi_buf_steal(&b, NULL);
    return PAPI_OK;
}
