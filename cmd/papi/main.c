/* `papi`: the command-line face of libpapi, over its public API. Every command returns an exit
 * code that tells bad input, bad configuration and a failing source apart for scripts. */
#include "commands.h"
#include "opts.h"

#include <papi/papi.h>

#include <stdio.h>
#include <string.h>

void papi_cmd_usage(FILE *out)
{
    fprintf(out,
            "usage: papi <command> [arguments]\n"
            "\n"
            "commands:\n"
            "  lookup [--dataset NAME] [--OPTION VALUE ...] IDS\n"
            "                      print the rows of IDS (\"1885\" or \"1,2,3\") as a JSON array\n"
            "  sync --dataset NAME --to FILE [--incremental] [--OPTION VALUE ...]\n"
            "                      copy a dataset from the source into a local SQLite replica\n"
            "                      (serve it with --source sqlite:FILE)\n"
            "  demo-db PATH [--rows N | --csv FILE]\n"
            "                      write a demo SQLite database of generated customers, or load\n"
            "                      one from a CSV export\n"
            "  jwt [--lifetime N]  print a key-pair JWT for the Snowflake SQL API\n"
            "  fingerprint         print the public key fingerprint (SHA256:...)\n"
            "  token --endpoint HOST [--role ROLE]\n"
            "                      exchange a key-pair JWT for an SPCS ingress token\n"
            "  help, --help        this text\n"
            "  version, --version  the version\n"
            "\n"
            "lookup options (flags win over environment variables):\n");
    papi_cmd_lookup_help(out);
    fprintf(out, "\nsync options:\n");
    papi_cmd_sync_help(out);
    fprintf(out, "\nlibrary options, for lookup, sync, jwt, fingerprint and token (flags win over "
                 "environment variables):\n");
    cmd_opts_help_library(out);
    fprintf(out, "\ndemo-db options:\n");
    papi_cmd_demo_db_help(out);
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

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"lookup", papi_cmd_lookup},           {"sync", papi_cmd_sync},
        {"demo-db", papi_cmd_demo_db},         {"jwt", papi_cmd_jwt},
        {"fingerprint", papi_cmd_fingerprint}, {"token", papi_cmd_token},
    };
    if (argc < 2) {
        papi_cmd_usage(stderr);
        return PAPI_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        papi_cmd_usage(stdout);
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
