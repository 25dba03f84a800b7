/* The dataset routes: GET (and HEAD) /<dataset>/<ids>, and POST /<dataset> with the ids in a JSON
 * body for lists too long for a URL. Both take the same path from there: the first cache tier on
 * the event loop when it holds every id, a worker otherwise, and one answer builder
 * (httpd_send_result: the ETag, 304, Cache-Control). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

enum MHD_Result httpd_lookup_start(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, const char *dataset, const char *ids,
                                   size_t len, const char *const *select, size_t nselect)
{
    papi_lookup_options opts = {.struct_size = sizeof opts, .select = select, .nselect = nselect};
    papi_result *res = NULL;
    papi_pending *pending = NULL;
    papi_error err = {0};
    papi_status st = papi_lookup_begin(srv->client, dataset, ids, len, &opts, &res, &pending, &err);
    if (st != PAPI_OK)
        return httpd_send_papi_error(conn, req, st, &err);
    if (res)
        return httpd_send_result(srv, conn, req, res);
    struct httpd_job *job = httpd_job_new(req, conn, JOB_LOOKUP, NULL, 0);
    if (!job) {
        papi_pending_free(pending);
        return httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    }
    job->pending = pending;
    job->dataset = dataset;
    return httpd_job_submit(srv, conn, req, job);
}

/* The one place a lookup starts, for GET and POST. A list goes through httpd_lookup_start();
 * ids a comma would split (text keys from a POST body) travel NUL-ended to a worker, with their
 * own copy of the column selection. */
static enum MHD_Result start_lookup(struct httpd *srv, struct MHD_Connection *conn,
                                    struct httpd_request *req, const char *dataset, const char *ids,
                                    size_t len, size_t n_array, const struct httpd_select *sel)
{
    if (!n_array)
        return httpd_lookup_start(srv, conn, req, dataset, ids, len, sel ? sel->name : NULL,
                                  sel ? sel->n : 0);
    struct httpd_job *job = httpd_job_new(req, conn, JOB_LOOKUP, ids, len);
    if (job) {
        job->dataset = dataset;
        job->ids_array = n_array;
        if (sel && !(job->select = httpd_select_copy(sel))) {
            httpd_job_free(job);
            job = NULL;
        }
    }
    return httpd_job_submit(srv, conn, req, job);
}

/* What GET and POST check alike before a lookup: If-None-Match and select. Returns 1 with *r
 * set when it answered. */
static int refused(struct MHD_Connection *conn, struct httpd_request *req,
                   struct httpd_select **sel, enum MHD_Result *r)
{
    /* RFC 9110 would answer "*" with 304 (some answer exists). A lookup has no representation
     * the client could hold without its tag, so "*" can only be a mistake: say so. */
    if (req->hdr.if_none_match && httpd_if_none_match(req->hdr.if_none_match, "") == INM_ANY) {
        *r = httpd_send_error(conn, req, 400,
                              "If-None-Match: * does not apply to a lookup: send the ETag of the "
                              "answer you hold",
                              "EINVAL", 0);
        return 1;
    }
    const char *raw = req->raw_uri;
    size_t path_len = httpd_path_len(raw);
    if (raw[path_len] != '?')
        return 0;
    char msg[160];
    const char *q = raw + path_len + 1;
    switch (httpd_select_parse(q, strcspn(q, "#"), sel, msg, sizeof msg)) {
    case IDS_OK:
        return 0;
    case IDS_BAD:
        *r = httpd_send_error(conn, req, 400, msg, "EINVAL", 0);
        return 1;
    case IDS_NOMEM:
        break;
    }
    *r = httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    return 1;
}

enum MHD_Result httpd_route_lookup(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, const struct httpd_path *p)
{
    struct httpd_select *sel = NULL;
    enum MHD_Result r = MHD_NO;
    if (refused(conn, req, &sel, &r))
        return r;
    r = start_lookup(srv, conn, req, srv->datasets[req->route - ROUTE_DATASET0], p->s[1], p->len[1],
                     0, sel);
    free(sel);
    return r;
}

/* application/json, with any parameters but a charset other than UTF-8 (RFC 8259 8.1). */
static int json_media_type(const char *ct)
{
    static const char type[] = "application/json";
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, type, sizeof type - 1) != 0)
        return 0;
    const char *p = ct + sizeof type - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p && *p != ';')
        return 0;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t name = strcspn(p, "=;");
        const char *value = p[name] == '=' ? p + name + 1 : p + name;
        size_t vlen = strcspn(value, ";");
        while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            vlen--;
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"')
            value++, vlen -= 2;
        if (name == 7 && strncasecmp(p, "charset", 7) == 0 &&
            !(vlen == 5 && strncasecmp(value, "utf-8", 5) == 0))
            return 0;
        p += strcspn(p, ";");
    }
    return 1;
}

enum MHD_Result httpd_batch_body(struct httpd_request *req, const char *data, size_t n)
{
    size_t cap = req->srv->post_max_bytes;
    if (req->body_over)
        return MHD_YES;
    if (n > cap - req->body_kept) {
        req->body_over = 1; /* read on and dropped: answered 413 once it is all in */
        free(req->body);
        req->body = NULL;
        return MHD_YES;
    }
    if (!req->body && !(req->body = malloc(cap))) {
        req->body_over = -1;
        return MHD_YES;
    }
    memcpy(req->body + req->body_kept, data, n);
    req->body_kept += n;
    return MHD_YES;
}

enum MHD_Result httpd_send_post_too_large(struct httpd *srv, struct MHD_Connection *conn,
                                          struct httpd_request *req)
{
    char msg[160];
    snprintf(msg, sizeof msg, "request body larger than %zu bytes (room for --max-ids %zu ids)",
             srv->post_max_bytes, srv->max_ids);
    return httpd_send_error(conn, req, 413, msg, "ETOOLARGE", 0);
}

enum MHD_Result httpd_route_batch(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, const struct httpd_path *p)
{
    (void)p;
    char msg[160];
    if (req->body_over < 0)
        return httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    if (req->body_over)
        return httpd_send_post_too_large(srv, conn, req);
    if (!json_media_type(req->hdr.content_type))
        return httpd_send_error(conn, req, 415, "the body must be Content-Type: application/json",
                                "EMEDIATYPE", 0);
    struct httpd_select *sel = NULL;
    enum MHD_Result r = MHD_NO;
    if (refused(conn, req, &sel, &r))
        return r;
    struct httpd_ids ids;
    switch (httpd_ids_parse(req->body ? req->body : "", req->body_kept, &ids, msg, sizeof msg)) {
    case IDS_OK:
        r = start_lookup(srv, conn, req, srv->datasets[req->route - ROUTE_BATCH0], ids.text,
                         ids.len, ids.array ? ids.n : 0, sel);
        httpd_ids_free(&ids);
        break;
    case IDS_BAD:
        r = httpd_send_error(conn, req, 400, msg, "EINVAL", 0);
        break;
    case IDS_NOMEM:
        r = httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
        break;
    }
    free(sel);
    return r;
}
