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
    size_t ncols = papi_dataset_column_count(ds), key_index = papi_dataset_key_index(ds);
    if (ncols > 64)
        return papi_error_set(err, PAPI_EPROTO, "too many columns for the test source");
    const char *cells[64];
    size_t lens[64];
    char text[64][48];
    for (size_t i = 0; i < n; i++) {
        char id[40];
        if (keys[i].len >= sizeof id)
            continue;
        memcpy(id, keys[i].ptr, keys[i].len);
        id[keys[i].len] = '\0';
        long v = atol(id);
        if (v < 1 || v > 100000)
            continue;
        for (size_t c = 0; c < ncols; c++) {
            switch (papi_dataset_column_type(ds, c)) {
            case PAPI_COL_NUMBER:
            case PAPI_COL_DECIMAL:
            case PAPI_COL_REAL:
                snprintf(text[c], sizeof text[c], "%ld", v);
                break;
            case PAPI_COL_BOOLEAN:
                snprintf(text[c], sizeof text[c], "true");
                break;
            case PAPI_COL_DATE:
                snprintf(text[c], sizeof text[c], "2020-01-01");
                break;
            case PAPI_COL_TIME:
                snprintf(text[c], sizeof text[c], "12:00:00");
                break;
            case PAPI_COL_TIMESTAMP:
                snprintf(text[c], sizeof text[c], "2020-01-01T12:00:00Z");
                break;
            case PAPI_COL_VARIANT:
                snprintf(text[c], sizeof text[c], "{}");
                break;
            case PAPI_COL_BINARY:
                snprintf(text[c], sizeof text[c], "00");
                break;
            case PAPI_COL_TEXT:
                snprintf(text[c], sizeof text[c], "row-%ld", v);
                break;
            }
            if (c == key_index)
                snprintf(text[c], sizeof text[c], "%s", id);
            cells[c] = text[c];
            lens[c] = strlen(text[c]);
        }
        papi_status st = papi_sink_row(sink, cells, lens, ncols, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
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
