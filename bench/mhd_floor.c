/* libmicrohttpd alone: what MHD 0.9.75 costs per request when the handler does nothing but queue
 * a constant answer with papi-httpd's five headers, under papi-httpd's event loop and connection
 * memory. docs/PERFORMANCE.md compares it with nginx and papi-httpd (bench/run's harness).
 * "kept" makes the response once and queues it for every request with its X-Request-Id
 * rewritten in place, as papi-httpd's kept answers do (cmd/papi-httpd/hot.c).
 *
 *   <builddir>/bench/mhd_floor PORT BODY_FILE POOL_KIB [headers|kept]
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char body[65536];
static size_t body_len;
static int with_headers;
static int kept; /* one response made at start, reused; the request id rewritten in place */
static struct MHD_Response *kept_resp;
static unsigned long long counter;

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
    if (!*con_cls) { /* answer once the request is in, as papi-httpd does */
        *con_cls = c;
        return MHD_YES;
    }
    if (kept) {
        char *id = (char *)MHD_get_response_header(kept_resp, "X-Request-Id");
        static const char hex[] = "0123456789abcdef";
        unsigned long long v = ++counter;
        for (int i = 15; i >= 0; i--, v >>= 4)
            id[i] = hex[v & 15];
        return MHD_queue_response(c, 200, kept_resp);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    if (with_headers) {
        MHD_add_response_header(r, "X-Cache", "HIT");
        MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "X-Request-Id", "2ef99619c44dc120");
    }
    enum MHD_Result res = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return res;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: mhd_floor PORT BODY_FILE POOL_KIB [headers|kept]\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return 1;
    body_len = fread(body, 1, sizeof body, f);
    fclose(f);
    with_headers = argc > 4;
    kept = argc > 4 && strcmp(argv[4], "kept") == 0;
    if (kept) {
        kept_resp = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(kept_resp, "X-Cache", "HIT");
        MHD_add_response_header(kept_resp, "Content-Type", "application/json; charset=utf-8");
        MHD_add_response_header(kept_resp, "Cache-Control", "no-store");
        MHD_add_response_header(kept_resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(kept_resp, "X-Request-Id", "2ef99619c44dc120");
    }
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                                            (unsigned short)atoi(argv[1]), NULL, NULL, answer, NULL,
                                            MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (size_t)atoi(argv[3]) * 1024, MHD_OPTION_END);
    if (!d)
        return 1;
    pause();
    MHD_stop_daemon(d);
    return 0;
}
