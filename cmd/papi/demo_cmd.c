/* `papi demo-db PATH [--rows N | --csv FILE]`: the demo database module (demo/) behind a command
 * line. */
#include "commands.h"
#include "demo_db.h"
#include "opts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct demo_args {
    int64_t rows; /* 0: not given */
    const char *csv;
} demo_args;

#define ARG(m) CMD_FIELD(demo_args, m)

static const cmd_flag demo_flags[] = {
    /* no default in the descriptor: --csv excludes a --rows that was given */
    {.opt = {"rows", NULL, CMD_OPTION_INT, NULL, 1, DEMO_MAX_ROWS, 0,
             "write generated customers 1..N (default 10000)", NULL},
     .store = cmd_store_int64,
     ARG(rows)},
    {.opt = {"csv", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0,
             "load a CSV export instead: a header row of the 18 column names in any order; an "
             "empty unquoted field is NULL",
             NULL},
     .store = cmd_store_str,
     ARG(csv)},
};
#define NDEMO_FLAGS (sizeof demo_flags / sizeof demo_flags[0])

void papi_cmd_demo_db_help(FILE *out)
{
    cmd_opts_help(out, demo_flags, NDEMO_FLAGS);
}

static int usage(const char *why)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr,
            "papi: demo-db: %s\n"
            "usage: papi demo-db PATH [--rows N]   (generated customers 1..N, default 10000)\n"
            "       papi demo-db PATH --csv FILE   (load a CSV export of the 18 columns)\n",
            papi_cmd_shown(shown, sizeof shown, why));
    return PAPI_EXIT_INPUT;
}

int papi_cmd_demo_db(int argc, char **argv)
{
    demo_args a = {0};
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths) {
        fprintf(stderr, "papi: out of memory\n");
        return PAPI_EXIT_OTHER;
    }
    cmd_parser p = {.flags = demo_flags, .nflags = NDEMO_FLAGS, .target = &a, .args = paths};
    papi_error err = {0};
    cmd_opts_rc orc = cmd_opts_parse(&p, argc, argv, &err);
    const char *path = p.nargs ? paths[0] : NULL;
    size_t npaths = p.nargs;
    free(paths);
    if (orc == CMD_OPTS_HELP) {
        papi_cmd_usage(stdout);
        return PAPI_EXIT_OK;
    }
    if (orc != CMD_OPTS_OK)
        return usage(err.message);
    if (npaths > 1)
        return usage("more than one PATH");
    if (!path || !*path)
        return usage("PATH is missing");
    if (a.csv && a.rows)
        return usage("--rows and --csv exclude each other");
    int64_t rows = a.rows ? a.rows : 10000;
    char msg[512] = "";
    demo_rc rc = a.csv ? demo_db_load_csv(path, a.csv, &rows, msg, sizeof msg)
                       : demo_db_generate(path, rows, msg, sizeof msg);
    if (rc != DEMO_OK) {
        char shown[4 * sizeof msg];
        fprintf(stderr, "papi: demo-db: %s\n", papi_cmd_shown(shown, sizeof shown, msg));
        return rc == DEMO_EINPUT ? PAPI_EXIT_INPUT : PAPI_EXIT_OTHER;
    }
    char shown[PAPI_CMD_SHOWN_MAX];
    printf("%s: %" PRId64 " customers in table %s\n", papi_cmd_shown(shown, sizeof shown, path),
           rows, DEMO_TABLE);
    return PAPI_EXIT_OK;
}
