/* Cross-origin requests from browsers (the Fetch standard's CORS protocol): --cors-origin, the
 * Origin header of a request, the headers of an answer to an allowed origin, and OPTIONS.
 *
 * Never sent: Access-Control-Allow-Credentials. papi's key travels in Authorization, which a page
 * sets itself (allowed by the preflight below); cookies and HTTP authentication are not used, so
 * "*" is always safe to answer when "*" is configured. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

static int alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 6454's serialization: scheme "://" host [":" port], nothing after (no path, no slash). */
int httpd_origin_well_formed(const char *s)
{
    if (!s)
        return 0;
    if (strcmp(s, "null") == 0)
        return 1;
    size_t i = 0;
    if (!alpha(s[0]))
        return 0;
    while (alpha(s[i]) || digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    if (strncmp(s + i, "://", 3) != 0)
        return 0;
    i += 3;
    size_t host = i;
    if (s[i] == '[') { /* an IPv6 literal */
        i++;
        while ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
               (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.')
            i++;
        if (s[i] != ']' || i == host + 1)
            return 0;
        i++;
    } else {
        while (alpha(s[i]) || digit(s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_')
            i++;
        if (i == host || s[host] == '.')
            return 0;
    }
    if (s[i] == ':') {
        size_t port = ++i;
        unsigned long v = 0;
        while (digit(s[i]) && i - port < 5)
            v = v * 10 + (unsigned long)(s[i++] - '0');
        if (i == port || v > 65535)
            return 0;
    }
    return s[i] == '\0' && i <= 256;
}

int httpd_cors_configure(struct httpd_cors *c, const char *spec, char *msg, size_t cap)
{
    memset(c, 0, sizeof *c);
    if (!spec)
        return 0;
    size_t entry = 0;
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *o = p;
        p = end ? end + 1 : p + len;
        while (len > 0 && (*o == ' ' || *o == '\t'))
            o++, len--;
        while (len > 0 && (o[len - 1] == ' ' || o[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;
        entry++;
        if (len == 1 && o[0] == '*') {
            c->any = 1;
            continue;
        }
        char one[sizeof c->origin[0]];
        if (len >= sizeof one) {
            snprintf(msg, cap, "entry %zu is longer than %zu bytes", entry, sizeof one - 1);
            return -1;
        }
        memcpy(one, o, len);
        one[len] = '\0';
        /* "null" is the origin of sandboxed and file: pages, which anyone can make: never a
         * safe entry. */
        if (!httpd_origin_well_formed(one) || strcmp(one, "null") == 0) {
            snprintf(msg, cap,
                     "entry %zu is neither * nor an origin (scheme://host[:port], without a path "
                     "or a trailing slash; null is never allowed)",
                     entry);
            return -1;
        }
        if (c->n == HTTPD_MAX_CORS_ORIGINS) {
            snprintf(msg, cap, "at most %d origins", HTTPD_MAX_CORS_ORIGINS);
            return -1;
        }
        memcpy(c->origin[c->n++], one, len + 1);
    }
    if (c->any && c->n) {
        snprintf(msg, cap, "* allows every origin: give it alone");
        return -1;
    }
    return 0;
}

enum httpd_origin httpd_cors_check(const struct httpd_cors *c, const char *origin)
{
    if (!origin)
        return ORIGIN_ABSENT;
    if (!httpd_origin_well_formed(origin))
        return ORIGIN_MALFORMED;
    if (strcmp(origin, "null") == 0)
        return ORIGIN_REFUSED;
    if (c->any)
        return ORIGIN_ALLOWED;
    /* Scheme and host are case-insensitive; browsers send them in lower case anyway. */
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(origin, c->origin[i]) == 0)
            return ORIGIN_ALLOWED;
    return ORIGIN_REFUSED;
}

static const char expose[] = "ETag, X-Cache, X-Request-Id";

void httpd_cors_headers(const struct httpd *srv, const struct httpd_request *req,
                        struct MHD_Response *resp)
{
    if (srv->cors.n) /* the answer differs by Origin, whether this one gets CORS headers or not */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    if (!req->origin)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN,
                            srv->cors.any ? "*" : req->origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", expose);
}

static void method_list(unsigned methods, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {HTTPD_GET, "GET"}, {HTTPD_HEAD, "HEAD"}, {HTTPD_POST, "POST"}, {HTTPD_OPTIONS, "OPTIONS"}};
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (methods & names[i].bit)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", names[i].name);
}

enum MHD_Result httpd_send_options(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, unsigned methods)
{
    char allow[64];
    method_list(methods, allow, sizeof allow);
    int preflight =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin") &&
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method");
    if (preflight && !req->origin)
        return httpd_send_error(conn, req, 403,
                                "cross-origin requests from this origin are not "
                                "allowed (--cors-origin)",
                                "ECORS", 0);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (preflight) {
        char max_age[16];
        snprintf(max_age, sizeof max_age, "%d", HTTPD_CORS_MAX_AGE_S);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                srv->napi_keys ? "Content-Type, If-None-Match, X-Request-Id, "
                                                 "Authorization"
                                               : "Content-Type, If-None-Match, X-Request-Id");
        MHD_add_response_header(resp, "Access-Control-Max-Age", max_age);
    }
    return httpd_send(conn, req, MHD_HTTP_NO_CONTENT, "", resp);
}
