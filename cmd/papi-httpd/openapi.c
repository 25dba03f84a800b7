/* GET /openapi.json: an OpenAPI 3.1 description of this server, made once at start from the
 * configured datasets (their routes, a row schema each), the error answers and, when API keys
 * are on, the bearer scheme. The tests check every JSON answer of the httpd suite against it.
 *
 * A row schema lists the dataset's columns (papi_client_dataset()), each with its JSON type as
 * papi renders it, null allowed but for the key. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* What the public API tells of a dataset: its columns, their types and the key. The columns
 * array is the caller's to free. */
static int dataset_describe(papi_client *client, const char *name, struct httpd_dataset_desc *out)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    const papi_dataset *ds = NULL;
    for (size_t i = 0; i < papi_client_dataset_count(client) && !ds; i++)
        if (strcmp(papi_client_dataset_name(client, i), name) == 0)
            ds = papi_client_dataset(client, i);
    if (!ds)
        return 0;
    size_t n = papi_dataset_column_count(ds);
    struct httpd_column *cols = calloc(n ? n : 1, sizeof *cols);
    if (!cols)
        return -1;
    for (size_t i = 0; i < n; i++)
        cols[i] = (struct httpd_column){papi_dataset_column_name(ds, i),
                                        papi_dataset_column_type(ds, i)};
    out->columns = cols;
    out->ncolumns = n;
    out->key = papi_dataset_key_column(ds);
    return 0;
}

#define REF(name) "{\"$ref\":\"#/components/" name "\"}"
#define JSON_CONTENT(schema) "\"content\":{\"application/json\":{\"schema\":" schema "}}"

static void str(papi_buf *b, const char *s)
{
    papi_json_string(b, s, strlen(s));
}

/* A column's JSON schema: its type as papi renders it, null allowed unless it is the key. */
static void column_schema(papi_buf *b, const struct httpd_column *c, int is_key)
{
    static const char *const types[] = {
        [PAPI_COL_NUMBER] = "\"integer\"",
        [PAPI_COL_DECIMAL] = "\"number\"",
        [PAPI_COL_REAL] = "\"number\",\"string\"",
        [PAPI_COL_TEXT] = "\"string\"",
        [PAPI_COL_BOOLEAN] = "\"boolean\"",
        [PAPI_COL_DATE] = "\"string\"",
        [PAPI_COL_TIME] = "\"string\"",
        [PAPI_COL_TIMESTAMP] = "\"string\"",
        [PAPI_COL_VARIANT] = NULL,
        [PAPI_COL_BINARY] = "\"string\"",
    };
    const char *t = (unsigned)c->type < sizeof types / sizeof types[0] ? types[c->type] : NULL;
    if (!t) { /* a variant: any JSON value */
        papi_buf_puts(b, "{}");
        return;
    }
    papi_buf_printf(b, "{\"type\":[%s%s]", t, is_key ? "" : ",\"null\"");
    if (c->type == PAPI_COL_DATE)
        papi_buf_puts(b, ",\"format\":\"date\"");
    if (c->type == PAPI_COL_REAL)
        papi_buf_puts(b, ",\"description\":\"a number, or NaN / Infinity as a string\"");
    if (c->type == PAPI_COL_BINARY)
        papi_buf_puts(b, ",\"pattern\":\"^[0-9A-Fa-f]*$\"");
    papi_buf_putc(b, '}');
}

static void row_schema(papi_buf *b, const struct httpd_dataset_desc *d)
{
    papi_buf_puts(b, "{\"type\":\"object\",\"description\":");
    if (!d->columns) { /* a dataset the client did not list: described, not typed */
        papi_buf_printf(b,
                        "\"A row of dataset %s: one member per column, in the dataset's "
                        "column order. Its columns are not listed here yet.\",\"minProperties\":1}",
                        d->name);
        return;
    }
    papi_buf_printf(b,
                    "\"A row of dataset %s: every column in the dataset's column order, or the "
                    "columns select names, in its order.\"",
                    d->name);
    papi_buf_puts(b, ",\"properties\":{");
    for (size_t i = 0; i < d->ncolumns; i++) {
        if (i)
            papi_buf_putc(b, ',');
        str(b, d->columns[i].name);
        papi_buf_putc(b, ':');
        column_schema(b, &d->columns[i], d->key && strcmp(d->key, d->columns[i].name) == 0);
    }
    papi_buf_puts(b, "},\"minProperties\":1,\"additionalProperties\":false}");
}

/* The answer every error status shares, with the status's own description. */
static const char *const error_responses[][2] = {
    {"BadRequest",
     "Bad input: a malformed id, path, query, header or body (the message names it)."},
    {"Unauthorized", "A missing or wrong API key (Authorization: Bearer)."},
    {"Forbidden", "A preflight from an origin --cors-origin does not allow."},
    {"NotFound", "No such route."},
    {"PreconditionFailed", "If-None-Match holds the answer's ETag (POST)."},
    {"PayloadTooLarge", "The body is larger than --max-ids ids need."},
    {"UriTooLong", "The URL is longer than 8 KiB: POST the ids instead."},
    {"UnsupportedMediaType", "The body is not Content-Type: application/json."},
    {"SourceError", "The source refused the credentials or the query, or answered malformed."},
    {"Unavailable", "The source is unavailable or the server is shutting down: retry later."},
    {"Timeout", "The source did not answer in time."},
    {"Error", "An error."},
};

static void components_responses(papi_buf *b)
{
    papi_buf_puts(b, "\"responses\":{");
    for (size_t i = 0; i < sizeof error_responses / sizeof error_responses[0]; i++) {
        papi_buf_printf(b, "%s\"%s\":{\"description\":", i ? "," : "", error_responses[i][0]);
        str(b, error_responses[i][1]);
        papi_buf_puts(b, ",\"headers\":{\"X-Request-Id\":" REF("headers/X-Request-Id"));
        if (strcmp(error_responses[i][0], "Unavailable") == 0)
            papi_buf_puts(b, ",\"Retry-After\":" REF("headers/Retry-After"));
        papi_buf_puts(b, "}," JSON_CONTENT(REF("schemas/Error")) "}");
    }
    papi_buf_puts(
        b, ",\"NotModified\":{\"description\":\"The answer has the ETag If-None-Match "
           "holds: keep the copy.\",\"headers\":{"
           "\"ETag\":" REF("headers/ETag") ",\"Cache-Control\":" REF(
               "headers/Cache-Control") ",\"X-Request-Id\":" REF("headers/X-Request-Id") "}}");
    papi_buf_puts(b, ",\"Options\":{\"description\":\"The route's methods; for a preflight from "
                     "an allowed origin, what it may send.\",\"headers\":{"
                     "\"Allow\":{\"schema\":{\"type\":\"string\"}},"
                     "\"Access-Control-Allow-Origin\":{\"schema\":{\"type\":\"string\"}},"
                     "\"Access-Control-Allow-Methods\":{\"schema\":{\"type\":\"string\"}},"
                     "\"Access-Control-Allow-Headers\":{\"schema\":{\"type\":\"string\"}},"
                     "\"Access-Control-Max-Age\":{\"schema\":{\"type\":\"string\"}}}}}");
}

static void components_fixed(papi_buf *b, const struct httpd_api_desc *api)
{
    papi_buf_puts(
        b, "\"Error\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{"
           "\"error\":{\"type\":\"string\",\"description\":\"what went wrong, for people\"},"
           "\"code\":{\"type\":\"string\",\"description\":\"what went wrong, for programs\"},"
           "\"source_code\":{\"type\":\"string\",\"description\":\"the source's error code\"},"
           "\"query_id\":{\"type\":\"string\",\"description\":\"the source's query id\"}},"
           "\"additionalProperties\":false},"
           "\"Status\":{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{"
           "\"enum\":[\"ok\",\"ready\"]}},\"additionalProperties\":false},"
           "\"Root\":{\"type\":\"object\",\"required\":[\"result\"],\"properties\":{\"result\":{"
           "\"type\":\"string\"}},\"additionalProperties\":false},"
           "\"Document\":{\"type\":\"object\",\"required\":[\"openapi\",\"paths\"]},");
    papi_buf_printf(b,
                    "\"Ids\":{\"type\":\"array\",\"maxItems\":%zu,\"items\":{\"oneOf\":["
                    "{\"type\":\"integer\",\"minimum\":0,\"description\":\"a number key, any "
                    "number of digits\"},{\"type\":\"string\",\"description\":\"a text key, or a "
                    "number key's digits\"}]}},",
                    api->max_ids);
    papi_buf_puts(b, "\"Batch\":{\"oneOf\":[" REF(
                         "schemas/Ids") ",{\"type\":\"object\",\"required\":[\"ids\"],"
                                        "\"properties\":{\"ids\":" REF(
                                            "schemas/Ids") "},\"additionalProperties\":false}]}");
}

static void components(papi_buf *b, const struct httpd_api_desc *api)
{
    papi_buf_puts(b, "\"components\":{\"schemas\":{");
    components_fixed(b, api);
    for (size_t i = 0; i < api->ndatasets; i++) {
        const char *n = api->datasets[i].name;
        papi_buf_printf(b, ",\"%s.Row\":", n);
        row_schema(b, &api->datasets[i]);
        papi_buf_printf(b, ",\"%s.Rows\":{\"type\":\"array\",\"items\":" REF("schemas/%s.Row") "}",
                        n, n);
    }
    papi_buf_printf(
        b,
        "},\"parameters\":{"
        "\"ids\":{\"name\":\"ids\",\"in\":\"path\",\"required\":true,\"description\":\"one id "
        "or several, comma-separated (at most %zu; URL-encode text ids)\",\"schema\":{\"type\":"
        "\"string\",\"minLength\":1}},"
        "\"select\":{\"name\":\"select\",\"in\":\"query\",\"description\":\"the columns "
        "to answer with, comma-separated, in the order wanted (names in any case; at most %d); "
        "absent: every column\",\"schema\":{\"type\":\"string\",\"minLength\":1}},"
        "\"If-None-Match\":{\"name\":\"If-None-Match\",\"in\":\"header\",\"description\":\"the "
        "ETag of the answer the client holds (\\\"*\\\" is refused)\",\"schema\":{\"type\":"
        "\"string\"}},"
        "\"X-Request-Id\":{\"name\":\"X-Request-Id\",\"in\":\"header\",\"description\":\"echoed "
        "and logged; one is made when absent\",\"schema\":{\"type\":\"string\",\"pattern\":"
        "\"^[A-Za-z0-9._:-]{1,64}$\"}}},",
        api->max_ids, HTTPD_MAX_SELECT);
    papi_buf_puts(
        b, "\"headers\":{"
           "\"ETag\":{\"description\":\"a strong tag over the answer's bytes\",\"required\":true,"
           "\"schema\":{\"type\":\"string\",\"pattern\":\"^\\\"[0-9a-f]{16}\\\"$\"}},"
           "\"X-Cache\":{\"description\":\"HIT: every id from a cache; MISS: some from the "
           "source; STALE: an expired copy after a source failure\",\"required\":true,"
           "\"schema\":{\"enum\":[\"HIT\",\"MISS\",\"STALE\"]}},"
           "\"X-Request-Id\":{\"required\":true,\"schema\":{\"type\":\"string\"}},"
           "\"Cache-Control\":{\"description\":\"no-store, or private, max-age=N "
           "(--client-max-age)\",\"required\":true,\"schema\":{\"type\":\"string\","
           "\"pattern\":\"^(no-store|private, max-age=[0-9]+)$\"}},"
           "\"Retry-After\":{\"schema\":{\"type\":\"string\",\"pattern\":\"^[0-9]+$\"}}},");
    components_responses(b);
    if (api->api_keys)
        papi_buf_puts(b, ",\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":"
                         "\"bearer\",\"description\":\"one of the keys in PAPI_API_KEYS\"}}");
    papi_buf_putc(b, '}');
}

/* Responses an operation may give besides its success, by component name. */
static void responses(papi_buf *b, const struct httpd_api_desc *api, const char *codes)
{
    static const struct {
        const char *code, *name;
    } names[] = {{"304", "NotModified"},
                 {"400", "BadRequest"},
                 {"401", "Unauthorized"},
                 {"403", "Forbidden"},
                 {"412", "PreconditionFailed"},
                 {"413", "PayloadTooLarge"},
                 {"414", "UriTooLong"},
                 {"415", "UnsupportedMediaType"},
                 {"502", "SourceError"},
                 {"503", "Unavailable"},
                 {"504", "Timeout"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strstr(codes, names[i].code) || (!api->api_keys && !strcmp(names[i].code, "401")))
            continue;
        papi_buf_printf(b, ",\"%s\":" REF("responses/%s"), names[i].code, names[i].name);
    }
    papi_buf_puts(b, ",\"default\":" REF("responses/Error"));
}

/* A fixed route's GET (and HEAD, which answers the same without a body). */
static void fixed_route(papi_buf *b, const struct httpd_api_desc *api, const char *path,
                        const char *summary, int open, const char *type, const char *schema,
                        const char *codes)
{
    static const char *const methods[] = {"get", "head"};
    papi_buf_printf(b, ",\"%s\":{", path);
    for (int m = 0; m < 2; m++) {
        papi_buf_printf(b, "%s\"%s\":{\"summary\":", m ? "," : "", methods[m]);
        str(b, summary);
        if (open && api->api_keys)
            papi_buf_puts(b, ",\"security\":[]");
        papi_buf_puts(b, ",\"responses\":{\"200\":{\"description\":\"OK\"");
        if (m == 0)
            papi_buf_printf(b, ",\"content\":{\"%s\":{\"schema\":%s}}", type, schema);
        papi_buf_putc(b, '}');
        responses(b, api, codes);
        papi_buf_puts(b, "}}");
    }
    papi_buf_putc(b, '}');
}

static void options_op(papi_buf *b, const struct httpd_api_desc *api)
{
    papi_buf_puts(b, ",\"options\":{\"summary\":\"The methods, and a CORS preflight's answer\"");
    if (api->api_keys)
        papi_buf_puts(b, ",\"security\":[]");
    papi_buf_puts(b, ",\"responses\":{\"204\":" REF("responses/Options"));
    responses(b, api, "400 403");
    papi_buf_puts(b, "}}");
}

static const char ok_headers[] = "\"headers\":{\"ETag\":" REF("headers/ETag") ",\"X-Cache\":" REF(
    "headers/X-Cache") ",\"Cache-Control\":" REF("headers/Cache-Control") ",\"X-Request-"
                                                                          "Id\":" REF("headers/"
                                                                                      "X-"
                                                                                      "Request-"
                                                                                      "Id") "}";

/* GET/HEAD /<name>/{ids}, POST /<name>, both with the select parameter. */
static void dataset_paths(papi_buf *b, const struct httpd_api_desc *api, const char *n)
{
    static const char *const methods[] = {"get", "head"};
    papi_buf_printf(b,
                    ",\"/%s/{ids}\":{\"parameters\":[" REF("parameters/ids") "," REF(
                        "parameters/If-None-Match") "," REF("parameters/X-Request-Id") "]",
                    n);
    for (int m = 0; m < 2; m++) {
        papi_buf_printf(b,
                        ",\"%s\":{\"operationId\":\"%s_%s\",\"summary\":\"Rows of %s by key, in "
                        "the order asked; absent ids left out\",\"responses\":{\"200\":{"
                        "\"description\":\"The rows found\",%s",
                        methods[m], methods[m], n, n, ok_headers);
        if (m == 0)
            papi_buf_printf(b, "," JSON_CONTENT(REF("schemas/%s.Rows")), n);
        papi_buf_putc(b, '}');
        responses(b, api, "304 400 401 414 502 503 504");
        papi_buf_puts(b, "}}");
    }
    options_op(b, api);
    papi_buf_printf(b,
                    "},\"/%s\":{\"post\":{\"operationId\":\"post_%s\",\"summary\":\"Rows of %s "
                    "for ids in the body: as GET, for lists too long for a URL\",",
                    n, n, n);
    papi_buf_puts(b, "\"parameters\":[" REF("parameters/select") "," REF(
                         "parameters/If-None-Match") "," REF("parameters/X-Request-Id") "],");
    papi_buf_printf(b,
                    "\"requestBody\":{\"required\":true,\"description\":\"at most %zu "
                    "bytes\"," JSON_CONTENT(REF("schemas/Batch")) "},",
                    api->post_max_bytes);
    papi_buf_printf(b,
                    "\"responses\":{\"200\":{\"description\":\"The rows found\",%s," JSON_CONTENT(
                        REF("schemas/%s.Rows")) "}",
                    ok_headers, n);
    responses(b, api, "400 401 412 413 415 502 503 504");
    papi_buf_puts(b, "}}");
    options_op(b, api);
    papi_buf_putc(b, '}');
}

static void paths(papi_buf *b, const struct httpd_api_desc *api)
{
    papi_buf_puts(
        b, "\"paths\":{\"/\":{\"get\":{\"summary\":\"Nothing to see here\","
           "\"responses\":{\"200\":{\"description\":\"OK\"," JSON_CONTENT(REF("schemas/Root")) "}");
    responses(b, api, "401");
    papi_buf_puts(b, "}}}");
    fixed_route(b, api, "/healthz", "Liveness", 1, "application/json", REF("schemas/Status"), "");
    fixed_route(b, api, "/readyz", "Readiness: the source answers", 1, "application/json",
                REF("schemas/Status"), "503");
    fixed_route(b, api, "/test", "A page to try lookups in a browser", 1, "text/html",
                "{\"type\":\"string\"}", "");
    fixed_route(b, api, "/metrics", "Prometheus metrics", 0, "text/plain", "{\"type\":\"string\"}",
                "401");
    fixed_route(b, api, "/openapi.json", "This document", 0, "application/json",
                REF("schemas/Document"), "401");
    for (size_t i = 0; i < api->ndatasets; i++)
        dataset_paths(b, api, api->datasets[i].name);
    papi_buf_putc(b, '}');
}

char *httpd_openapi_render(const struct httpd_api_desc *api, size_t *len)
{
    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"papi\",\"version\":");
    str(&b, PAPI_VERSION_STRING);
    papi_buf_printf(&b,
                    ",\"description\":\"Point lookups of keyed rows: GET /<dataset>/<ids> (at most "
                    "%zu ids), or POST /<dataset> with the ids in a JSON body.\"},",
                    api->max_ids);
    if (api->api_keys)
        papi_buf_puts(&b, "\"security\":[{\"bearer\":[]}],");
    paths(&b, api);
    papi_buf_putc(&b, ',');
    components(&b, api);
    papi_buf_puts(&b, "}\n");
    if (b.oom) {
        papi_buf_free(&b);
        return NULL;
    }
    return papi_buf_steal(&b, len);
}

int httpd_openapi_init(struct httpd *srv)
{
    struct httpd_dataset_desc ds[HTTPD_MAX_DATASETS];
    int failed = 0;
    for (size_t i = 0; i < srv->ndatasets; i++)
        failed |= dataset_describe(srv->client, srv->datasets[i], &ds[i]);
    struct httpd_api_desc api = {.ndatasets = srv->ndatasets,
                                 .datasets = ds,
                                 .api_keys = srv->napi_keys > 0,
                                 .max_ids = srv->max_ids,
                                 .post_max_bytes = srv->post_max_bytes};
    srv->openapi = failed ? NULL : httpd_openapi_render(&api, &srv->openapi_len);
    for (size_t i = 0; i < srv->ndatasets; i++)
        free((void *)ds[i].columns);
    return srv->openapi ? 0 : -1;
}
