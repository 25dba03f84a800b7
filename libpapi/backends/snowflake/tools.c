/* The calls of papi_snowflake.h, for the `papi` tool: the key-pair JWT and fingerprint as the
 * transport makes them (jwt.c, sfauth.c), and the SPCS ingress token exchange (7.2 of
 * snowflake-sql-api.md) on a one-handle pool of http.c. */
#include "snowflake.h"

#include <papi/papi_snowflake.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_EXCHANGE_TIMEOUT_MS 30000
#define TOKEN_ANSWER_MAX_BYTES (1 << 20)

static papi_status signer(const papi_config *cfg, bool names, papi__jwt_signer **out,
                          papi_error *err)
{
    return papi__jwt_signer_create(papi_config_get(cfg, "snowflake-private-key-file"),
                                   papi_config_get(cfg, "snowflake-private-key-file-pwd"),
                                   names ? papi_config_get(cfg, "snowflake-account") : NULL,
                                   names ? papi_config_get(cfg, "snowflake-user") : NULL, out, err);
}

papi_status papi_snowflake_fingerprint(const papi_config *cfg, char *out, size_t cap,
                                       papi_error *err)
{
    if (!cfg || !out || cap < PAPI_SNOWFLAKE_FINGERPRINT_MAX)
        return papi_error_set(err, PAPI_EINVAL,
                              "a configuration and %d bytes for the fingerprint are required",
                              PAPI_SNOWFLAKE_FINGERPRINT_MAX);
    out[0] = '\0';
    papi__jwt_signer *s = NULL;
    papi_status st = signer(cfg, false, &s, err);
    if (st == PAPI_OK)
        papi_strlcpy(out, papi__jwt_signer_fingerprint(s), cap);
    papi__jwt_signer_destroy(s);
    return st;
}

papi_status papi_snowflake_jwt(const papi_config *cfg, int64_t lifetime_s, char **out,
                               papi_error *err)
{
    if (out)
        *out = NULL;
    if (!cfg || !out)
        return papi_error_set(err, PAPI_EINVAL, "a configuration and out are required");
    if (lifetime_s < 0 || lifetime_s > 3600)
        return papi_error_set(err, PAPI_EINVAL,
                              "a JWT lives 1 to 3600 seconds (Snowflake's limit), not %lld",
                              (long long)lifetime_s);
    if (lifetime_s == 0 &&
        papi_config_get_int(cfg, "snowflake-jwt-lifetime", &lifetime_s) != PAPI_OK)
        lifetime_s = PAPI__JWT_LIFETIME_S;
    papi__jwt_signer *s = NULL;
    papi_buf jwt;
    papi_buf_init(&jwt);
    papi_status st = signer(cfg, true, &s, err);
    if (st == PAPI_OK)
        st = papi__jwt_signer_mint(s, (int64_t)time(NULL), lifetime_s, &jwt, err);
    papi__jwt_signer_destroy(s);
    if (st == PAPI_OK && !(*out = papi_buf_steal(&jwt, NULL)))
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_buf_free(&jwt);
    return st;
}

static void form_escape(papi_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c)) {
            papi_buf_putc(b, (char)c);
        } else {
            papi_buf_putc(b, '%');
            papi_buf_putc(b, hex[c >> 4]);
            papi_buf_putc(b, hex[c & 15]);
        }
    }
}

/* grant_type, scope ("[session:role:ROLE ]HOST"), assertion: the form of the exchange. */
static void token_form(papi_buf *form, const char *endpoint, const char *role, const char *jwt)
{
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    papi_buf scope;
    papi_buf_init(&scope);
    if (role && *role)
        papi_buf_printf(&scope, "session:role:%s ", role);
    papi_buf_append(&scope, host, strcspn(host, "/"));
    const char *grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    papi_buf_puts(form, "grant_type=");
    form_escape(form, grant, strlen(grant));
    papi_buf_puts(form, "&scope=");
    form_escape(form, scope.data ? scope.data : "", scope.len);
    papi_buf_puts(form, "&assertion=");
    papi_buf_puts(form, jwt);
    if (scope.oom)
        form->oom = 1;
    papi_buf_free(&scope);
}

/* The 200 answer is the token as plain text (7.2); some deployments answer JSON. */
static papi_status take_token(papi_buf *body, char **out, papi_error *err)
{
    const char *t = NULL;
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    if (json_is_object(j)) {
        t = json_string_value(json_object_get(j, "access_token"));
        if (!t)
            t = json_string_value(json_object_get(j, "token"));
    } else {
        while (body->len &&
               (body->data[body->len - 1] == '\n' || body->data[body->len - 1] == '\r'))
            body->data[--body->len] = '\0';
        t = body->len ? body->data : NULL;
    }
    papi_status st = PAPI_OK;
    if (!t || !*t || papi__sf_has_control(t, strlen(t)))
        st = papi_error_set(err, PAPI_EPROTO, "the token exchange answered no token");
    else if (!(*out = strdup(t)))
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    json_decref(j);
    return st;
}

static papi_status refused(const papi__http_response *resp, papi_error *err)
{
    papi__sf_error e;
    papi__sf_parse_error(resp->body.data ? resp->body.data : "", resp->body.len, &e);
    long hs = resp->status;
    papi_status st = hs == 401 || hs == 403   ? PAPI_EAUTH
                     : hs == 429 || hs >= 500 ? PAPI_EUNAVAIL
                     : hs >= 400              ? PAPI_ESOURCE
                                              : PAPI_EPROTO;
    papi_error_set(err, st, "token exchange failed: HTTP %ld%s%s", hs, e.message[0] ? ": " : "",
                   e.message);
    return papi_error_set_source(err, (int32_t)hs, e.code[0] ? e.code : NULL, NULL, NULL);
}

papi_status papi_snowflake_token(const papi_config *cfg, const char *endpoint, const char *role,
                                 char **out, papi_error *err)
{
    if (out)
        *out = NULL;
    if (!cfg || !out || !endpoint || !*endpoint)
        return papi_error_set(err, PAPI_EINVAL,
                              "a configuration, out and the endpoint (the ingress host of the "
                              "service endpoint) are required");
    char *jwt = NULL, *base = NULL, *url = NULL;
    papi__http *http = NULL;
    papi__http_response resp;
    papi__http_response_init(&resp);
    papi_buf form;
    papi_buf_init(&form);
    papi_status st = papi_snowflake_jwt(cfg, 0, &jwt, err);
    if (st == PAPI_OK)
        st = papi__sf_base_url(cfg, &base, err);
    char ua[64];
    snprintf(ua, sizeof ua, "papi/%s", papi_version());
    int64_t connect_ms = 10000;
    if (papi_config_get_int(cfg, "connect-timeout-ms", &connect_ms) != PAPI_OK)
        connect_ms = 10000;
    papi__http_opts o = {.pool_size = 1,
                         .connect_timeout_ms = connect_ms,
                         .max_body_bytes = TOKEN_ANSWER_MAX_BYTES,
                         .user_agent = ua,
                         .ca_file = papi_config_get(cfg, "snowflake-ca-file")};
    if (st == PAPI_OK)
        st = papi__http_create(&o, &http, err);
    if (st == PAPI_OK) {
        token_form(&form, endpoint, role, jwt);
        size_t n = strlen(base) + sizeof "/oauth/token";
        if (form.oom || !(url = malloc(n)))
            st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
        else
            snprintf(url, n, "%s/oauth/token", base);
    }
    if (st == PAPI_OK) {
        const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                 "Accept: text/plain, application/json"};
        papi__http_request req = {.method = "POST",
                                  .url = url,
                                  .headers = headers,
                                  .nheaders = 2,
                                  .body = form.data,
                                  .body_len = form.len,
                                  .deadline_ms = papi_now_ms() + TOKEN_EXCHANGE_TIMEOUT_MS};
        st = papi__http_do(http, &req, &resp, err);
    }
    if (st == PAPI_OK)
        st = resp.status == 200 ? take_token(&resp.body, out, err) : refused(&resp, err);
    if (jwt)
        explicit_bzero(jwt, strlen(jwt));
    if (form.data)
        explicit_bzero(form.data, form.len);
    free(jwt);
    free(base);
    free(url);
    papi_buf_free(&form);
    papi__http_response_free(&resp);
    papi__http_destroy(http);
    return st;
}
