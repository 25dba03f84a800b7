/* papi_client_scan(): a whole dataset read from the client's source in one statement, for
 * replica syncs. It bypasses the caches, the coalescer and the miss dispatcher on purpose: a scan
 * is one long statement that must not hold a lookup slot, and its rows are not lookups. Of a
 * chain it reads the last source: the earlier ones (replicas) are copies of it. */
#include "core.h"

#include <papi/papi_replica.h>

#include <string.h>

#define SCAN_DEFAULT_TIMEOUT_MS (24 * 3600 * 1000LL)
#define SCAN_MAX_TIMEOUT_MS (366 * 24 * 3600 * 1000LL) /* no deadline overflows */

papi_status papi_client_scan(papi_client *client, const char *dataset, const char *watermark_after,
                             const papi_scan_sink *sink, int64_t timeout_ms, char *query_id,
                             size_t query_id_cap, papi_error *err)
{
    if (query_id && query_id_cap)
        query_id[0] = '\0';
    if (!client || !dataset || !sink || timeout_ms < 0 ||
        sink->struct_size < offsetof(papi_scan_sink, row) + sizeof sink->row || !sink->row)
        return papi_error_set(err, PAPI_EINVAL, "client, dataset and a sink with row are required");
    /* an older caller's sink is shorter: the members it lacks read as NULL */
    papi_scan_sink s = {0};
    memcpy(&s, sink, sink->struct_size < sizeof s ? sink->struct_size : sizeof s);
    s.struct_size = sizeof s;
    const papi_dataset *ds = papi__datasets_find(client->datasets, dataset);
    if (!ds)
        return papi_error_set(err, PAPI_ENODATASET, "unknown dataset '%.64s'", dataset);
    if (watermark_after && !papi_dataset_watermark_column(ds))
        return papi_error_set(err, PAPI_ECONFIG,
                              "dataset %s has no watermark column (\"watermark\" in the datasets "
                              "file)",
                              papi_dataset_name(ds));
    const papi__source *src = &client->sources[client->nsources - 1];
    if (!src->transport->scan)
        return papi_error_set(err, PAPI_ECONFIG, "the %s source cannot scan a table",
                              src->transport->name);
    if (timeout_ms > SCAN_MAX_TIMEOUT_MS)
        timeout_ms = SCAN_MAX_TIMEOUT_MS;
    int64_t deadline_ms =
        papi__client_now_ms(client) + (timeout_ms ? timeout_ms : SCAN_DEFAULT_TIMEOUT_MS);
    char qid_buf[64];
    char *qid = query_id && query_id_cap ? query_id : qid_buf;
    size_t qcap = query_id && query_id_cap ? query_id_cap : sizeof qid_buf;
    qid[0] = '\0';
    papi__client_log(client, PAPI_LOG_INFO, "scan of %s from %s%s", papi_dataset_name(ds),
                     src->transport->name, watermark_after ? " past its watermark" : "");
    /* a failure is the caller's to report (papi sync prints it, a server logs it once) */
    return src->transport->scan(src->state, ds, watermark_after, &s, deadline_ms, qid, qcap, err);
}

const char *papi_client_source_name(const papi_client *client)
{
    return client && client->nsources ? papi_client_source_at(client, client->nsources - 1) : NULL;
}
