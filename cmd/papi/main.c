/* `papi`: the command-line face of libpapi. Lookups print the same JSON papi-httpd serves; the
 * exit code tells bad input, bad configuration and a failing source apart for scripts. */
#include "commands.h"

#include <papi/papi.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: papi <command> [arguments]\n"
            "\n"
            "commands:\n"
            "  lookup [--dataset NAME] [--OPTION VALUE ...] IDS\n"
            "                      print the rows of IDS (\"1885\" or \"1,2,3\") as a JSON array\n"
            "  demo-db PATH [--rows N]\n"
            "                      write a demo SQLite database of N generated customers (10000)\n"
            "  demo-db PATH --csv FILE\n"
            "                      load the customer table from a CSV export (header row of the 18\n"
            "                      column names in any order; an empty unquoted field is NULL)\n"
            "  jwt                 print a key-pair JWT for the Snowflake SQL API\n"
            "  fingerprint         print the public key fingerprint (SHA256:...)\n"
            "  token --endpoint HOST [--role ROLE]\n"
            "                      exchange a key-pair JWT for an SPCS ingress token\n"
            "  help, --help        this text\n"
            "  version, --version  the version\n"
            "\n"
            "lookup options (each also read from the environment variable shown; flags win):\n"
            "  --dataset NAME      dataset to query (default: customer)\n"
            "  --verbose, -v       log what the library does on stderr\n");
    for (size_t i = 0; i < papi_config_option_count(); i++) {
        const char *env = NULL;
        int secret = 0;
        const char *key = papi_config_option_key(i, &env, &secret);
        if (!key)
            continue;
        fprintf(out, "  --%-32s %s%s\n", key, env ? env : "", secret ? " (secret)" : "");
    }
    fprintf(out,
            "\n"
            "exit codes: 0 success, 2 bad input or unknown dataset, 3 invalid configuration,\n"
            "            4 the source failed (credentials, unavailable, timeout, refused), 1 other\n");
}

int papi_cmd_exit_code(papi_status status)
{
    switch (status) {
    case PAPI_OK:
        return PAPI_EXIT_OK;
    case PAPI_EINVAL:
    case PAPI_ENODATASET:
        return PAPI_EXIT_INPUT;
    case PAPI_ECONFIG:
        return PAPI_EXIT_CONFIG;
    case PAPI_EAUTH:
    case PAPI_EUNAVAIL:
    case PAPI_ETIMEDOUT:
    case PAPI_ESOURCE:
    case PAPI_EPROTO:
        return PAPI_EXIT_SOURCE;
    case PAPI_ENOMEM:
    case PAPI_EIO:
    case PAPI_EINTERNAL:
        return PAPI_EXIT_OTHER;
    }
    return PAPI_EXIT_OTHER;
}

static int fail(papi_status s, const papi_error *err)
{
    char msg[PAPI_CMD_SHOWN_MAX], code[80], state[48];
    papi_cmd_shown(msg, sizeof msg, err->message[0] ? err->message : papi_strerror(s));
    if (err->source_code[0] || err->sql_state[0])
        fprintf(stderr, "papi: %s (code %s, SQL state %s)\n", msg,
                papi_cmd_shown(code, sizeof code, err->source_code[0] ? err->source_code : "-"),
                papi_cmd_shown(state, sizeof state, err->sql_state[0] ? err->sql_state : "-"));
    else
        fprintf(stderr, "papi: %s\n", msg);
    return papi_cmd_exit_code(s);
}

static void log_stderr(void *user, papi_log_level level, const char *message)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr, "papi: %s: %s\n", names[level <= PAPI_LOG_DEBUG ? level : PAPI_LOG_DEBUG],
            papi_cmd_shown(shown, sizeof shown, message));
}

static bool option_known(const char *key, size_t len)
{
    for (size_t i = 0; i < papi_config_option_count(); i++) {
        const char *k = papi_config_option_key(i, NULL, NULL);
        if (k && strlen(k) == len && strncmp(k, key, len) == 0)
            return true;
    }
    return false;
}

typedef struct flag {
    char *key;
    const char *value;
} flag;

static int lookup_usage(const char *why, const char *what)
{
    char shown[256];
    fprintf(stderr,
            "papi: lookup: %s%s\nusage: papi lookup [--dataset NAME] [--OPTION VALUE ...] IDS\n",
            why, papi_cmd_shown(shown, sizeof shown, what));
    return PAPI_EXIT_INPUT;
}

int papi_cmd_lookup(int argc, char **argv)
{
    const char *dataset = "customer";
    bool verbose = false, options_done = false;
    flag *flags = calloc((size_t)argc, sizeof *flags);
    char *ids = calloc(1, 1);
    size_t nflags = 0, ids_len = 0, nids = 0;
    int rc = PAPI_EXIT_OTHER;
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_error err = {0};
    if (!flags || !ids) {
        fprintf(stderr, "papi: out of memory\n");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            size_t n = strlen(a);
            char *grown = realloc(ids, ids_len + n + 2);
            if (!grown) {
                fprintf(stderr, "papi: out of memory\n");
                goto out;
            }
            ids = grown;
            if (nids++)
                ids[ids_len++] = ',';
            memcpy(ids + ids_len, a, n + 1);
            ids_len += n;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            rc = PAPI_EXIT_OK;
            goto out;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = true;
            continue;
        }
        if (a[1] != '-') {
            rc = lookup_usage("unknown option ", a);
            goto out;
        }
        const char *key = a + 2, *eq = strchr(key, '=');
        size_t key_len = eq ? (size_t)(eq - key) : strlen(key);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                rc = lookup_usage("a value is missing after ", a);
                goto out;
            }
            value = argv[++i];
        }
        if (key_len == 7 && strncmp(key, "dataset", 7) == 0) {
            dataset = value;
        } else if (option_known(key, key_len)) {
            flags[nflags].key = strndup(key, key_len);
            flags[nflags++].value = value;
            if (!flags[nflags - 1].key) {
                fprintf(stderr, "papi: out of memory\n");
                goto out;
            }
        } else {
            rc = lookup_usage("unknown option ", a);
            goto out;
        }
    }
    if (nids == 0) {
        rc = lookup_usage("no ids given", NULL);
        goto out;
    }

    papi_status s = papi_config_create(&cfg);
    if (s == PAPI_OK)
        s = papi_config_load_env(cfg, &err);
    for (size_t i = 0; s == PAPI_OK && i < nflags; i++)
        s = papi_config_set(cfg, flags[i].key, flags[i].value, &err);
    if (s == PAPI_OK)
        s = papi_config_set_log(cfg, log_stderr, NULL, verbose ? PAPI_LOG_DEBUG : PAPI_LOG_WARN);
    if (s != PAPI_OK) {
        rc = fail(s, &err);
        goto out;
    }
    s = papi_client_create(cfg, &client, &err);
    if (s != PAPI_OK) {
        rc = fail(s, &err);
        const char *source = papi_config_get(cfg, "source");
        char shown[PAPI_CMD_SHOWN_MAX];
        if (s == PAPI_ECONFIG && source && strncmp(source, "sqlite:", 7) == 0 &&
            access(source + 7, F_OK) != 0)
            fprintf(stderr, "papi: create a demo database with: papi demo-db %s\n",
                    papi_cmd_shown(shown, sizeof shown, source + 7));
        goto out;
    }
    s = papi_lookup_list(client, dataset, ids, ids_len, &res, &err);
    if (s != PAPI_OK) {
        rc = fail(s, &err);
        goto out;
    }
    size_t len = 0;
    const char *json = papi_result_json(res, &len);
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    rc = fflush(stdout) == 0 ? PAPI_EXIT_OK : PAPI_EXIT_OTHER;
out:
    papi_result_free(res);
    papi_client_destroy(client);
    papi_config_destroy(cfg);
    for (size_t i = 0; flags && i < nflags; i++)
        free(flags[i].key);
    free(flags);
    free(ids);
    return rc;
}

#ifndef PAPI_HAVE_SNOWFLAKE_CMDS
static int not_built(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "papi: %s: not built into this papi\n", argv[0]);
    return PAPI_EXIT_OTHER;
}
#define papi_cmd_jwt not_built
#define papi_cmd_fingerprint not_built
#define papi_cmd_token not_built
#endif

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"lookup", papi_cmd_lookup},
        {"demo-db", papi_cmd_demo_db},
        {"jwt", papi_cmd_jwt},
        {"fingerprint", papi_cmd_fingerprint},
        {"token", papi_cmd_token},
    };
    if (argc < 2) {
        usage(stderr);
        return PAPI_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return PAPI_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("papi %s (libpapi %s)\n", PAPI_VERSION_STRING, papi_version());
        return PAPI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    char shown[256];
    fprintf(stderr, "papi: unknown command '%s' (papi help lists them)\n",
            papi_cmd_shown(shown, sizeof shown, cmd));
    return PAPI_EXIT_INPUT;
}
