/* The snowflake transport's options, named as Snowflake's own tools and SPCS name them. Compiled
 * into every libpapi, with Snowflake or without, so that naming one in a build without it says
 * the backend is not built in. */
#include "sf_options.h"

#include <stdint.h>
#include <strings.h>

#define DAY_S 86400

static papi_status check_protocol(const papi_option *o, const char *v, papi_error *err)
{
    if (*v == '\0' || strcasecmp(v, "https") == 0 || strcasecmp(v, "http") == 0)
        return PAPI_OK;
    return papi_error_set(err, PAPI_ECONFIG, "%s: expected https or http", o->key);
}

static papi_status check_authenticator(const papi_option *o, const char *v, papi_error *err)
{
    static const char *const known[] = {"KEYPAIR_JWT", "SNOWFLAKE_JWT", "OAUTH",
                                        "PROGRAMMATIC_ACCESS_TOKEN"};
    if (*v == '\0')
        return PAPI_OK;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(v, known[i]) == 0)
            return PAPI_OK;
    return papi_error_set(err, PAPI_ECONFIG,
                          "%s: expected KEYPAIR_JWT, OAUTH or PROGRAMMATIC_ACCESS_TOKEN", o->key);
}

#define TEXT(key, env, help)                                                                       \
    {                                                                                              \
        key, env, PAPI_OPTION_TEXT, NULL, 0, 0, 0, help, NULL                                      \
    }

const papi_option papi__snowflake_options[] = {
    {"connect-timeout-ms", "PAPI_CONNECT_TIMEOUT_MS", PAPI_OPTION_INT, "3000", 1, INT64_C(3600000),
     0, "milliseconds to connect to the SQL API", NULL},
    {"max-attempts", "PAPI_MAX_ATTEMPTS", PAPI_OPTION_INT, "4", 1, 100, 0,
     "attempts per statement (retries of 429, 5xx and connection failures)", NULL},
    {"statement-timeout", "PAPI_STATEMENT_TIMEOUT", PAPI_OPTION_INT, "10", 1, DAY_S, 0,
     "seconds Snowflake runs a statement before cancelling it", NULL},
    /* the widest text/variant/binary cell a lookup answer is sized for (sfapi.c) */
    {"max-cell-bytes", "PAPI_MAX_CELL_BYTES", PAPI_OPTION_INT, "8192", 64, 16777216, 0,
     "bytes of the widest text, variant or binary cell a lookup's answer is sized for", NULL},
    /* a scan (papi sync) holds one partition at a time: these bound what one may cost */
    {"scan-max-partition-bytes", "PAPI_SCAN_MAX_PARTITION_BYTES", PAPI_OPTION_INT, "134217728",
     1048576, INT64_C(2147483648), 0,
     "bytes one result partition of a scan (papi sync) may hold, decoded", NULL},
    {"scan-max-cell-bytes", "PAPI_SCAN_MAX_CELL_BYTES", PAPI_OPTION_INT, "16777216", 64,
     INT64_C(134217728), 0, "bytes one cell of a scan (papi sync) may hold, decoded", NULL},
    TEXT("snowflake-account", "SNOWFLAKE_ACCOUNT", "account identifier, e.g. myorg-myaccount"),
    TEXT("snowflake-user", "SNOWFLAKE_USER", "user the key pair belongs to"),
    TEXT("snowflake-role", "SNOWFLAKE_ROLE", "role of the statements (unset: the user's default)"),
    TEXT("snowflake-warehouse", "SNOWFLAKE_WAREHOUSE",
         "warehouse of the statements (unset: the user's default)"),
    TEXT("snowflake-database", "SNOWFLAKE_DATABASE", "database of the statements"),
    TEXT("snowflake-schema", "SNOWFLAKE_SCHEMA", "schema of the statements"),
    TEXT("snowflake-host", "SNOWFLAKE_HOST", "SQL API host (unset: from the account)"),
    {"snowflake-port", "SNOWFLAKE_PORT", PAPI_OPTION_INT, NULL, 1, 65535, 0,
     "SQL API port (unset: 443)", NULL},
    {"snowflake-protocol", "SNOWFLAKE_PROTOCOL", PAPI_OPTION_TEXT, NULL, 0, 0, 0,
     "https, or http for a local emulator only (unset: https)", check_protocol},
    TEXT("snowflake-private-key-file", "SNOWFLAKE_PRIVATE_KEY_FILE",
         "PEM private key for key-pair JWT authentication"),
    {"snowflake-private-key-file-pwd", "SNOWFLAKE_PRIVATE_KEY_FILE_PWD", PAPI_OPTION_TEXT, NULL, 0,
     0, PAPI_OPTION_SECRET, "passphrase of an encrypted private key", NULL},
    {"snowflake-token", "SNOWFLAKE_TOKEN", PAPI_OPTION_TEXT, NULL, 0, 0, PAPI_OPTION_SECRET,
     "programmatic access token (or an OAuth token)", NULL},
    TEXT("snowflake-token-file", "SNOWFLAKE_TOKEN_FILE",
         "OAuth token file, re-read when it changes (SPCS: /snowflake/session/token)"),
    {"snowflake-authenticator", "SNOWFLAKE_AUTHENTICATOR", PAPI_OPTION_TEXT, NULL, 0, 0, 0,
     "KEYPAIR_JWT, OAUTH or PROGRAMMATIC_ACCESS_TOKEN (unset: by what is configured)",
     check_authenticator},
    TEXT("snowflake-ca-file", "SNOWFLAKE_CA_FILE",
         "PEM CA certificates trusted instead of the system's (a private or proxy CA)"),
    /* Snowflake refuses a JWT living over an hour (snowflake-sql-api.md 3.4); 10 s is for tests */
    {"snowflake-jwt-lifetime", "SNOWFLAKE_JWT_LIFETIME", PAPI_OPTION_INT, "3540", 10, 3600, 0,
     "seconds a key-pair JWT lives (renewed before it ends)", NULL},
};
const size_t papi__snowflake_noptions =
    sizeof papi__snowflake_options / sizeof papi__snowflake_options[0];
_Static_assert(sizeof papi__snowflake_options / sizeof papi__snowflake_options[0] ==
                   PAPI__SNOWFLAKE_NOPTIONS,
               "PAPI__SNOWFLAKE_NOPTIONS is the number of options");
