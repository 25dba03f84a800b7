/* `papi sync --dataset NAME --to FILE [--incremental]`: copies a dataset from the configured
 * source into a local SQLite replica (papi_replica_sync), which `--source sqlite:FILE` then
 * serves. Progress goes to stderr only when it is a terminal; stdout gets one JSON line that
 * scripts read. SIGINT and SIGTERM stop the sync at the next partition and leave the old file;
 * a second one ends the process at once (the temporary file is removed by the next sync). */
#include "commands.h"
#include "opts.h"

#include <papi/papi.h>
#include <papi/papi_backend.h>
#include <papi/papi_replica.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sync_args {
    const char *dataset;
    const char *to;
    int incremental;
    int64_t timeout_s;
    papi_log_level log_level;
} sync_args;

#define ARG(m) CMD_FIELD(sync_args, m)

/* sync's own options first: --help lists those; the rest are lookup's, listed there */
static const cmd_flag sync_flags[] = {
    {.opt = {"to", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0,
             "the replica file, written atomically (its folder must exist)", NULL},
     .store = cmd_store_str,
     ARG(to)},
    {.opt = {"incremental", NULL, CMD_OPTION_BOOL, "0", 0, 0, 0,
             "fetch only rows past the file's watermark and upsert them (deletions need a full "
             "sync)",
             NULL},
     .set_to = "1",
     .store = cmd_store_bool,
     ARG(incremental)},
    {.opt = {"timeout", NULL, CMD_OPTION_INT, "86400", 1, 604800, 0,
             "seconds the whole sync may take", NULL},
     .store = cmd_store_int64,
     ARG(timeout_s)},
    {.opt = {"dataset", NULL, CMD_OPTION_TEXT, "customer", 0, 0, 0, "dataset to copy", NULL},
     .store = cmd_store_str,
     ARG(dataset)},
    CMD_LOG_FLAGS(sync_args, log_level),
};
#define NSYNC_FLAGS (sizeof sync_flags / sizeof sync_flags[0])
#define NSYNC_OWN 3

void papi_cmd_sync_help(FILE *out)
{
    cmd_opts_help(out, sync_flags, NSYNC_OWN);
    fprintf(out, "  (and --dataset, --log-level, -v as for lookup)\n");
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SA_RESETHAND: the first signal asks the sync to stop, a second one ends the process. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct progress_state {
    bool tty;
    double started;
    bool shown; /* a progress line is on the terminal */
} progress_state;

static int on_progress(void *user, uint64_t rows, uint64_t partitions, uint64_t npartitions)
{
    progress_state *p = user;
    if (p->tty) {
        double secs = now_s() - p->started;
        char of[32] = "";
        if (npartitions)
            snprintf(of, sizeof of, " of %" PRIu64, npartitions);
        fprintf(stderr,
                "\rpapi: sync: %" PRIu64 " rows, partition %" PRIu64 "%s, %.0f rows/s\033[K", rows,
                partitions, of, secs > 0 ? (double)rows / secs : 0.0);
        fflush(stderr);
        p->shown = true;
    }
    return stop_requested ? 1 : 0;
}

static void json_text(papi_buf *b, const char *key, const char *value)
{
    papi_buf_printf(b, ",\"%s\":", key);
    if (value && *value)
        papi_json_string(b, value, strlen(value));
    else
        papi_buf_puts(b, "null");
}

/* The one line scripts read: what was synced, from where, how much and how long. */
static int print_summary(const sync_args *a, const papi_replica_info *info, double secs)
{
    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "{\"dataset\":");
    papi_json_string(&b, info->dataset, strlen(info->dataset));
    json_text(&b, "file", a->to);
    json_text(&b, "source", info->source);
    papi_buf_printf(&b, ",\"rows\":%" PRIu64 ",\"rows_total\":%" PRIu64 ",\"partitions\":%" PRIu64,
                    info->rows_synced, info->rows, info->partitions);
    json_text(&b, "query_id", info->query_id);
    papi_buf_printf(&b, ",\"seconds\":%.3f,\"bytes\":%" PRIu64 ",\"incremental\":%s", secs,
                    info->bytes, info->incremental ? "true" : "false");
    json_text(&b, "watermark_column", info->watermark_column);
    json_text(&b, "watermark", info->watermark);
    papi_buf_puts(&b, "}\n");
    int rc = PAPI_EXIT_OK;
    if (b.oom) {
        fprintf(stderr, "papi: out of memory\n");
        rc = PAPI_EXIT_OTHER;
    } else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
        rc = PAPI_EXIT_OTHER;
    }
    papi_buf_free(&b);
    return rc;
}

static int run(papi_config *cfg, const sync_args *a)
{
    papi_client *client = NULL;
    papi_error err = {0};
    papi_status s = papi_config_set_log(cfg, papi_cmd_log_stderr, NULL, a->log_level);
    if (s == PAPI_OK && (s = papi_client_create(cfg, &client, &err)) != PAPI_OK)
        return papi_cmd_fail(s, &err);
    progress_state p = {.tty = isatty(STDERR_FILENO) == 1, .started = now_s()};
    papi_replica_opts opts = {.struct_size = sizeof opts,
                              .incremental = a->incremental,
                              .timeout_ms = a->timeout_s * 1000,
                              .progress = on_progress,
                              .progress_user = &p};
    papi_replica_info info = {.struct_size = sizeof info};
    catch_stop_signals();
    if (s == PAPI_OK)
        s = papi_replica_sync(client, a->dataset, a->to, &opts, &info, &err);
    if (p.shown)
        fputc('\n', stderr);
    int rc = s == PAPI_OK ? print_summary(a, &info, now_s() - p.started) : papi_cmd_fail(s, &err);
    papi_client_destroy(client);
    return rc;
}

static int sync_usage(const char *why)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr,
            "papi: sync: %s\n"
            "usage: papi sync --dataset NAME --to FILE [--incremental] [--OPTION VALUE ...]\n",
            papi_cmd_shown(shown, sizeof shown, why));
    return PAPI_EXIT_INPUT;
}

int papi_cmd_sync(int argc, char **argv)
{
    sync_args a = {0};
    papi_config *cfg = NULL;
    int rc = PAPI_EXIT_OTHER;
    if (papi_config_create(&cfg) != PAPI_OK) {
        fprintf(stderr, "papi: out of memory\n");
        return rc;
    }
    cmd_parser p = {.flags = sync_flags, .nflags = NSYNC_FLAGS, .target = &a, .cfg = cfg};
    papi_error err = {0};
    switch (cmd_opts_parse(&p, argc, argv, &err)) {
    case CMD_OPTS_OK:
        rc = a.to && *a.to ? run(cfg, &a) : sync_usage("--to FILE is required");
        break;
    case CMD_OPTS_HELP:
        papi_cmd_usage(stdout);
        rc = PAPI_EXIT_OK;
        break;
    case CMD_OPTS_VERSION: /* not asked for */
    case CMD_OPTS_EUSAGE:
        rc = sync_usage(err.message);
        break;
    case CMD_OPTS_EVALUE: /* a bad --timeout is a bad configuration, like a bad --cache-ttl */
        rc = papi_cmd_fail(PAPI_ECONFIG, &err);
        break;
    case CMD_OPTS_ELIBRARY:
        rc = papi_cmd_fail(err.status, &err);
        break;
    }
    papi_config_destroy(cfg);
    return rc;
}
