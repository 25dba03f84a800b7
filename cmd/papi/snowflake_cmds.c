/* `papi jwt`, `papi fingerprint`, `papi token`: the Snowflake helpers that the original tutorial
 * shipped as Python scripts (generateJWT.py, access-via-keypair.py). Options come from the same
 * table as `papi lookup`: SNOWFLAKE_* variables, overridden by --<option> VALUE flags. */
#include "commands.h"
#include "snowflake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct extra {
    const char *name; /* "--endpoint" */
    const char **value;
} extra;

static int fail(papi_status st, const papi_error *err)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    const char *msg = err->message[0] ? err->message : papi_strerror(st);
    fprintf(stderr, "papi: %s\n", papi_cmd_shown(shown, sizeof shown, msg));
    return papi_cmd_exit_code(st);
}

/* Builds the configuration from the environment and --OPTION VALUE flags; extra flags are the
 * command's own. Returns an exit code, PAPI_EXIT_OK with *out set on success. */
static int options(int argc, char **argv, const extra *extras, size_t nextras, const char *usage,
                   papi_config **out)
{
    papi_error err = {0};
    papi_config *cfg = NULL;
    papi_status st = papi_config_create(&cfg);
    if (st == PAPI_OK)
        st = papi_config_load_env(cfg, &err);
    if (st != PAPI_OK) {
        papi_config_destroy(cfg);
        return fail(st, &err);
    }
    for (int i = 1; i < argc; i += 2) { /* --name VALUE pairs */
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: papi %s\n", usage);
            papi_config_destroy(cfg);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            char shown[256];
            fprintf(stderr, "papi: %s: unexpected argument '%s'\nusage: papi %s\n", argv[0],
                    papi_cmd_shown(shown, sizeof shown, a), usage);
            papi_config_destroy(cfg);
            return PAPI_EXIT_INPUT;
        }
        bool mine = false;
        for (size_t k = 0; k < nextras; k++)
            if (strcmp(a, extras[k].name) == 0) {
                *extras[k].value = argv[i + 1];
                mine = true;
            }
        if (!mine && (st = papi_config_set(cfg, a + 2, argv[i + 1], &err)) != PAPI_OK) {
            papi_config_destroy(cfg);
            return fail(st, &err);
        }
    }
    *out = cfg;
    return PAPI_EXIT_OK;
}

static int make_jwt(const papi_config *cfg, int64_t lifetime_s, papi_buf *jwt)
{
    papi_error err = {0};
    papi__jwt_signer *signer = NULL;
    papi_status st = papi__jwt_signer_create(
        papi_config_get(cfg, "snowflake-private-key-file"),
        papi_config_get(cfg, "snowflake-private-key-file-pwd"),
        papi_config_get(cfg, "snowflake-account"), papi_config_get(cfg, "snowflake-user"), &signer,
        &err);
    if (st == PAPI_OK)
        st = papi__jwt_signer_mint(signer, (int64_t)time(NULL), lifetime_s, jwt, &err);
    papi__jwt_signer_destroy(signer);
    return st == PAPI_OK ? PAPI_EXIT_OK : fail(st, &err);
}

int papi_cmd_jwt(int argc, char **argv)
{
    const char *lifetime = NULL;
    extra ex[] = {{"--lifetime", &lifetime}};
    papi_config *cfg = NULL;
    int rc = options(argc, argv, ex, 1,
                     "jwt [--snowflake-account A] [--snowflake-user U] "
                     "[--snowflake-private-key-file F] [--lifetime SECONDS (max 3600; default "
                     "snowflake-jwt-lifetime)]",
                     &cfg);
    if (rc != PAPI_EXIT_OK)
        return rc < 0 ? PAPI_EXIT_OK : rc;
    int64_t life = 0;
    if (lifetime)
        life = strtoll(lifetime, NULL, 10);
    else if (papi_config_get_int(cfg, "snowflake-jwt-lifetime", &life) != PAPI_OK)
        life = 0;
    if (life <= 0 || life > 3600) {
        fprintf(stderr, "papi: jwt: --lifetime must be 1..3600 seconds (Snowflake's limit)\n");
        papi_config_destroy(cfg);
        return PAPI_EXIT_INPUT;
    }
    papi_buf jwt;
    papi_buf_init(&jwt);
    rc = make_jwt(cfg, life, &jwt);
    if (rc == PAPI_EXIT_OK)
        printf("%s\n", jwt.data);
    papi_buf_free(&jwt);
    papi_config_destroy(cfg);
    return rc;
}

int papi_cmd_fingerprint(int argc, char **argv)
{
    papi_config *cfg = NULL;
    int rc = options(argc, argv, NULL, 0, "fingerprint [--snowflake-private-key-file F]", &cfg);
    if (rc != PAPI_EXIT_OK)
        return rc < 0 ? PAPI_EXIT_OK : rc;
    papi_error err = {0};
    papi__jwt_signer *signer = NULL;
    papi_status st =
        papi__jwt_signer_create(papi_config_get(cfg, "snowflake-private-key-file"),
                                papi_config_get(cfg, "snowflake-private-key-file-pwd"), NULL, NULL,
                                &signer, &err);
    if (st == PAPI_OK)
        printf("%s\n", papi__jwt_signer_fingerprint(signer));
    else
        rc = fail(st, &err);
    papi__jwt_signer_destroy(signer);
    papi_config_destroy(cfg);
    return rc;
}

static void form_escape(papi_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
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

/* The 200 answer is the token as plain text (7.2); some deployments answer JSON. */
static const char *token_of(papi_buf *body, json_t **holder)
{
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "access_token"));
        if (!t)
            t = json_string_value(json_object_get(j, "token"));
        *holder = j;
        return t;
    }
    json_decref(j);
    while (body->len && (body->data[body->len - 1] == '\n' || body->data[body->len - 1] == '\r'))
        body->data[--body->len] = '\0';
    return body->len ? body->data : NULL;
}

int papi_cmd_token(int argc, char **argv)
{
    const char *endpoint = NULL, *role = NULL;
    extra ex[] = {{"--endpoint", &endpoint}, {"--role", &role}};
    papi_config *cfg = NULL;
    int rc = options(argc, argv, ex, 2, "token --endpoint HOST [--role ROLE]", &cfg);
    if (rc != PAPI_EXIT_OK)
        return rc < 0 ? PAPI_EXIT_OK : rc;
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "papi: token: --endpoint HOST is required (the ingress host of the "
                        "service endpoint)\n");
        papi_config_destroy(cfg);
        return PAPI_EXIT_INPUT;
    }
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    size_t hlen = strcspn(host, "/");

    papi_error err = {0};
    papi_buf jwt, form, scope;
    papi_buf_init(&jwt);
    papi_buf_init(&form);
    papi_buf_init(&scope);
    char *base = NULL, *url = NULL;
    papi__http *http = NULL;
    papi__http_response resp;
    papi__http_response_init(&resp);
    int64_t life = 0;
    if (papi_config_get_int(cfg, "snowflake-jwt-lifetime", &life) != PAPI_OK)
        life = 3540;
    rc = make_jwt(cfg, life, &jwt);
    if (rc != PAPI_EXIT_OK)
        goto out;
    papi_status st = papi__sf_base_url(cfg, &base, &err);
    if (st != PAPI_OK) {
        rc = fail(st, &err);
        goto out;
    }
    if (role && *role)
        papi_buf_printf(&scope, "session:role:%s ", role);
    papi_buf_append(&scope, host, hlen);
    papi_buf_puts(&form, "grant_type=");
    form_escape(&form, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    papi_buf_puts(&form, "&scope=");
    form_escape(&form, papi_buf_cstr(&scope));
    papi_buf_puts(&form, "&assertion=");
    papi_buf_puts(&form, jwt.data);
    url = malloc(strlen(base) + 16);
    char ua[64];
    snprintf(ua, sizeof ua, "papi/%s", papi_version());
    papi__http_opts o = {.pool_size = 1, .connect_timeout_ms = 10000, .max_body_bytes = 1 << 20,
                         .user_agent = ua};
    if (!url || form.oom || scope.oom || (st = papi__http_create(&o, &http, &err)) != PAPI_OK) {
        rc = url && !form.oom ? fail(st, &err) : PAPI_EXIT_OTHER;
        goto out;
    }
    sprintf(url, "%s/oauth/token", base);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: text/plain, application/json"};
    papi__http_request req = {.method = "POST", .url = url, .headers = headers, .nheaders = 2,
                              .body = form.data, .body_len = form.len,
                              .deadline_ms = papi_now_ms() + 30000};
    if ((st = papi__http_do(http, &req, &resp, &err)) != PAPI_OK) {
        rc = fail(st, &err);
        goto out;
    }
    json_t *holder = NULL;
    const char *token = resp.status == 200 ? token_of(&resp.body, &holder) : NULL;
    if (token) {
        printf("%s\n", token);
    } else {
        papi__sf_error e;
        papi__sf_parse_error(resp.body.data ? resp.body.data : "", resp.body.len, &e);
        char shown[PAPI_CMD_SHOWN_MAX];
        fprintf(stderr, "papi: token exchange failed: HTTP %ld%s%s\n", resp.status,
                e.message[0] ? ": " : "", papi_cmd_shown(shown, sizeof shown, e.message));
        rc = PAPI_EXIT_SOURCE;
    }
    json_decref(holder);
out:
    papi__http_response_free(&resp);
    papi__http_destroy(http);
    free(url);
    free(base);
    papi_buf_free(&jwt);
    papi_buf_free(&form);
    papi_buf_free(&scope);
    papi_config_destroy(cfg);
    return rc;
}
