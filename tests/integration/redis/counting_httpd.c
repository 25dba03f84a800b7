/* papi-httpd whose source is a test transport that records every query it answers: one line
 * "fetch <n ids>" appended to the file named by PAPI_TEST_SOURCE_LOG. Replicas given the same file
 * share one source query log, so a test counts queries at the source across processes.
 * Ids 1..100000 exist (synthetic rows in the dataset's column types); larger ids do not. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <papi/papi_backend.h>

#include "synth_rows.h"

#include "httpd.h"

typedef struct count_state {
    int log_fd;
} count_state;

static papi_status count_open(const char *spec, const papi_config *cfg, const papi_host *host,
                              void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)user;
    const char *path = getenv("PAPI_TEST_SOURCE_LOG");
    if (!path || !*path)
        return papi_error_set(err, PAPI_ECONFIG, "PAPI_TEST_SOURCE_LOG is not set");
    count_state *s = calloc(1, sizeof *s);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    /* O_APPEND: one write per query lands whole even with several replicas writing */
    s->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->log_fd < 0) {
        free(s);
        return papi_error_set(err, PAPI_EIO, "cannot open the source log");
    }
    *state = s;
    return PAPI_OK;
}

static void count_close(void *state)
{
    count_state *s = state;
    if (s)
        close(s->log_fd);
    free(s);
}

static papi_status count_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                               papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)deadline_ms;
    count_state *s = state;
    char line[32];
    int len = snprintf(line, sizeof line, "fetch %zu\n", n);
    if (write(s->log_fd, line, (size_t)len) != len)
        return papi_error_set(err, PAPI_EIO, "cannot write the source log");
    return synth_rows(ds, keys, n, sink, err);
}

static const papi_transport_backend count_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "counting",
    .flags = 0,
    .open = count_open,
    .close = count_close,
    .fetch = count_fetch,
    .ping = NULL,
};

static int attach(papi_config *cfg, void *user)
{
    (void)user;
    return papi_config_set_transport(cfg, &count_transport, "counting", NULL) == PAPI_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    return httpd_main(argc, argv, attach, NULL);
}
