/* `papi jwt`, `papi fingerprint`, `papi token`: the Snowflake helpers that the original tutorial
 * shipped as Python scripts (generateJWT.py, access-via-keypair.py), through the public calls of
 * papi_snowflake.h. Options come from the same table as `papi lookup`: SNOWFLAKE_* variables,
 * overridden by --<option> VALUE flags. */
#include "commands.h"

#include <papi/papi_snowflake.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int64_t life = lifetime ? strtoll(lifetime, NULL, 10) : 0;
    if (lifetime && (life <= 0 || life > 3600)) {
        fprintf(stderr, "papi: jwt: --lifetime must be 1..3600 seconds (Snowflake's limit)\n");
        papi_config_destroy(cfg);
        return PAPI_EXIT_INPUT;
    }
    papi_error err = {0};
    char *jwt = NULL;
    papi_status st = papi_snowflake_jwt(cfg, life, &jwt, &err);
    if (st == PAPI_OK)
        printf("%s\n", jwt);
    else
        rc = fail(st, &err);
    papi_free(jwt);
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
    char fp[PAPI_SNOWFLAKE_FINGERPRINT_MAX];
    papi_status st = papi_snowflake_fingerprint(cfg, fp, sizeof fp, &err);
    if (st == PAPI_OK)
        printf("%s\n", fp);
    else
        rc = fail(st, &err);
    papi_config_destroy(cfg);
    return rc;
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
    papi_error err = {0};
    char *token = NULL;
    papi_status st = papi_snowflake_token(cfg, endpoint, role, &token, &err);
    if (st == PAPI_OK)
        printf("%s\n", token);
    else
        rc = fail(st, &err);
    papi_free(token);
    papi_config_destroy(cfg);
    return rc;
}
