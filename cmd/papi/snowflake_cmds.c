/* `papi jwt`, `papi fingerprint`, `papi token`: the Snowflake helpers that the original tutorial
 * shipped as Python scripts (generateJWT.py, access-via-keypair.py), through the public calls of
 * papi_snowflake.h. Each command's own flags are rows for the tools' one parser (cmd/common);
 * every library option is a flag too (SNOWFLAKE_* variables, overridden by --<option> VALUE). */
#include "commands.h"
#include "opts.h"

#include <papi/papi_snowflake.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sf_args {
    int64_t lifetime; /* 0: not given, snowflake-jwt-lifetime */
    const char *endpoint;
    const char *role;
} sf_args;

#define ARG(m) CMD_FIELD(sf_args, m)

static const cmd_flag jwt_flags[] = {
    /* Snowflake refuses a JWT that lives over an hour */
    {.opt = {"lifetime", NULL, CMD_OPTION_INT, NULL, 1, 3600, 0,
             "seconds from the JWT's iat to its exp (unset: snowflake-jwt-lifetime)", NULL},
     .store = cmd_store_int64,
     ARG(lifetime)},
};

static const cmd_flag token_flags[] = {
    {.opt = {"endpoint", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0,
             "the ingress host of the service endpoint (required; a URL's host is taken)", NULL},
     .store = cmd_store_str,
     ARG(endpoint)},
    {.opt = {"role", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0,
             "the role the token is for (unset: the user's default role)", NULL},
     .store = cmd_store_str,
     ARG(role)},
};

/* One command: its usage line, what it does and its own flags. */
typedef struct sf_cmd {
    const char *usage;
    const char *what;
    const cmd_flag *flags;
    size_t nflags;
} sf_cmd;

static const sf_cmd jwt_cmd = {"jwt [--lifetime N] [--OPTION VALUE ...]",
                               "print a key-pair JWT for the Snowflake SQL API", jwt_flags,
                               sizeof jwt_flags / sizeof jwt_flags[0]};
static const sf_cmd fingerprint_cmd = {
    "fingerprint [--OPTION VALUE ...]",
    "print the fingerprint of the public key (SHA256:..., DESC USER's RSA_PUBLIC_KEY_FP)", NULL, 0};
static const sf_cmd token_cmd = {"token --endpoint HOST [--role ROLE] [--OPTION VALUE ...]",
                                 "exchange a key-pair JWT for an SPCS ingress token", token_flags,
                                 sizeof token_flags / sizeof token_flags[0]};

static void help(const sf_cmd *c)
{
    printf("usage: papi %s\n  %s\n", c->usage, c->what);
    if (c->nflags) {
        printf("\noptions:\n");
        cmd_opts_help(stdout, c->flags, c->nflags);
    }
    printf("\nlibrary options (the snowflake-* ones matter here; flags win over environment "
           "variables):\n");
    cmd_opts_help_library(stdout);
}

static int fail(papi_status st, const papi_error *err)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    const char *msg = err->message[0] ? err->message : papi_strerror(st);
    fprintf(stderr, "papi: %s\n", papi_cmd_shown(shown, sizeof shown, msg));
    return papi_cmd_exit_code(st);
}

static int usage(const char *name, const sf_cmd *c, const char *why)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr, "papi: %s: %s\nusage: papi %s\n", name,
            papi_cmd_shown(shown, sizeof shown, why), c->usage);
    return PAPI_EXIT_INPUT;
}

/* Parses the command line into *a and a new configuration (environment, then flags). Returns an
 * exit code; PAPI_EXIT_OK with *out set when the command should run, -1 after --help. */
static int parse(const sf_cmd *c, int argc, char **argv, sf_args *a, papi_config **out)
{
    *out = NULL;
    papi_config *cfg = NULL;
    if (papi_config_create(&cfg) != PAPI_OK) {
        fprintf(stderr, "papi: out of memory\n");
        return PAPI_EXIT_OTHER;
    }
    cmd_parser p = {.flags = c->flags, .nflags = c->nflags, .target = a, .cfg = cfg};
    papi_error err = {0};
    int rc = PAPI_EXIT_OK;
    switch (cmd_opts_parse(&p, argc, argv, &err)) {
    case CMD_OPTS_OK:
        *out = cfg;
        return PAPI_EXIT_OK;
    case CMD_OPTS_HELP:
        help(c);
        rc = -1;
        break;
    case CMD_OPTS_VERSION: /* not asked for */
    case CMD_OPTS_EUSAGE:
    case CMD_OPTS_EVALUE: /* --lifetime out of range: bad input, as before */
        rc = usage(argv[0], c, err.message);
        break;
    case CMD_OPTS_ELIBRARY:
        rc = fail(err.status, &err);
        break;
    }
    papi_config_destroy(cfg);
    return rc;
}

/* Prints what a call returned, then frees it. */
static int print_result(papi_status st, char *text, const papi_error *err)
{
    int rc = st == PAPI_OK ? PAPI_EXIT_OK : fail(st, err);
    if (st == PAPI_OK)
        printf("%s\n", text);
    papi_free(text);
    return rc;
}

int papi_cmd_jwt(int argc, char **argv)
{
    sf_args a = {0};
    papi_config *cfg = NULL;
    int rc = parse(&jwt_cmd, argc, argv, &a, &cfg);
    if (rc != PAPI_EXIT_OK)
        return rc < 0 ? PAPI_EXIT_OK : rc;
    papi_error err = {0};
    char *jwt = NULL;
    papi_status st = papi_snowflake_jwt(cfg, a.lifetime, &jwt, &err);
    rc = print_result(st, jwt, &err);
    papi_config_destroy(cfg);
    return rc;
}

int papi_cmd_fingerprint(int argc, char **argv)
{
    sf_args a = {0};
    papi_config *cfg = NULL;
    int rc = parse(&fingerprint_cmd, argc, argv, &a, &cfg);
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
    sf_args a = {0};
    papi_config *cfg = NULL;
    int rc = parse(&token_cmd, argc, argv, &a, &cfg);
    if (rc != PAPI_EXIT_OK)
        return rc < 0 ? PAPI_EXIT_OK : rc;
    if (!a.endpoint || !*a.endpoint) {
        papi_config_destroy(cfg);
        return usage(argv[0], &token_cmd,
                     "--endpoint HOST is required (the ingress host of the service endpoint)");
    }
    papi_error err = {0};
    char *token = NULL;
    papi_status st = papi_snowflake_token(cfg, a.endpoint, a.role, &token, &err);
    rc = print_result(st, token, &err);
    papi_config_destroy(cfg);
    return rc;
}
