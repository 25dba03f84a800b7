/* papi-httpd with a test transport attached through the public plug-in interface: a source
 * that takes PAPI_TEST_DELAY_MS per fetch and fails on chosen ids, so tests can make the server
 * slow or make the source fail in each way the error table covers.
 *
 *   id 9001 → PAPI_EAUTH   9002 → PAPI_EUNAVAIL (Retry-After 7)   9003 → PAPI_ETIMEDOUT
 *   id 9004 → PAPI_EPROTO  9005 → PAPI_ESOURCE
 *   ids 1..100000 exist (synthetic rows); larger ids do not.
 * Each failure carries a source code ("39" + the id) and a query id ("01b-query-" + the id).
 * PAPI_TEST_PING_FAIL=1 makes ping() answer PAPI_EUNAVAIL. Every injected failure is logged on
 * stderr as "fault injected: <status>", so a test can prove its fault happened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <papi/papi_backend.h>

#include "synth_rows.h"

#include "httpd.h"

struct fault_state {
    long delay_ms;
    int ping_fail;
    const papi_host *host;
};

static papi_status fault_open(const char *spec, const papi_config *cfg, const papi_host *host,
                              void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)cfg;
    (void)user;
    struct fault_state *s = calloc(1, sizeof *s);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    const char *d = getenv("PAPI_TEST_DELAY_MS");
    s->delay_ms = d ? atol(d) : 0;
    const char *p = getenv("PAPI_TEST_PING_FAIL");
    s->ping_fail = p && strcmp(p, "1") == 0;
    s->host = host;
    *state = s;
    return PAPI_OK;
}

static void fault_close(void *state)
{
    free(state);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* The detail a real source gives (its code, its statement's id) and text no client may see:
 * a newline and a terminal escape, which the server must log escaped on one line. */
static papi_status injected(papi_status st, papi_error *err, int retry_after_s, const char *code,
                            const char *query_id)
{
    httpd_log_line("warn", "fault injected: %s", papi_status_name(st));
    papi_error_set(err, st, "test source: injected %s\n\x1b[31m SECRET detail",
                   papi_status_name(st));
    if (err) {
        err->retry_after_s = retry_after_s;
        snprintf(err->source_code, sizeof err->source_code, "%s", code);
        snprintf(err->query_id, sizeof err->query_id, "%s", query_id);
    }
    return st;
}

static papi_status fault_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                               papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)deadline_ms;
    struct fault_state *s = state;
    if (s->delay_ms > 0)
        sleep_ms(s->delay_ms);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].len != 4 || memcmp(keys[i].ptr, "900", 3) != 0)
            continue;
        char code[8], qid[16];
        snprintf(code, sizeof code, "39%.4s", keys[i].ptr);
        snprintf(qid, sizeof qid, "01b-query-%.4s", keys[i].ptr);
        switch (keys[i].ptr[3]) {
        case '1':
            return injected(PAPI_EAUTH, err, 0, code, qid);
        case '2':
            return injected(PAPI_EUNAVAIL, err, 7, code, qid);
        case '3':
            return injected(PAPI_ETIMEDOUT, err, 0, code, qid);
        case '4':
            return injected(PAPI_EPROTO, err, 0, code, qid);
        case '5':
            return injected(PAPI_ESOURCE, err, 0, code, qid);
        default:
            break;
        }
    }
    return synth_rows(ds, keys, n, sink, err);
}

static papi_status fault_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    (void)deadline_ms;
    struct fault_state *s = state;
    if (s->ping_fail)
        return injected(PAPI_EUNAVAIL, err, 0, "390002", "01b-ping");
    return PAPI_OK;
}

static const papi_transport_backend fault_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "fault",
    .flags = 0,
    .open = fault_open,
    .close = fault_close,
    .fetch = fault_fetch,
    .ping = fault_ping,
};

static int attach(papi_config *cfg, void *user)
{
    (void)user;
    return papi_config_set_transport(cfg, &fault_transport, "fault", NULL) == PAPI_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    return httpd_main(argc, argv, attach, NULL);
}
