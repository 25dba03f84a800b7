/* Checks of the request head that libmicrohttpd 0.9 does not make (docs/HTTP.md): bytes its
 * parser hides (a NUL ends a C string early; line folding joins lines), conflicting framing
 * (two Content-Lengths, or one with Transfer-Encoding: a request-smuggling shape behind a proxy),
 * and bodies papi will not read.
 *
 * MHD parses the head in place: the request line and every header point into one buffer whose
 * separators (CR, LF, the first space of the request line, each header's colon) it overwrote
 * with NULs, and MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE says how long that buffer's head is. So
 * the head is intact when, walked in order, every byte is either in a string papi was shown or a
 * separator; a byte after a NUL inside a value is neither. Should MHD ever lay its buffer out
 * otherwise, the walk fails closed and every request gets 400: the tests see it at once. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

struct walk {
    uintptr_t p, end; /* the next byte not yet accounted for; the end of the head */
    int ok;
    int content_lengths, transfer_encoding, conflicting;
    struct httpd_head_fields *f;
};

/* Accounts for [w->p, to): a run of nul_min..nul_max NULs (separators MHD overwrote), then any
 * number of bytes from then (white space MHD skipped), and nothing else. */
static void gap(struct walk *w, const char *to, size_t nul_min, size_t nul_max, const char *then)
{
    uintptr_t t = (uintptr_t)to;
    if (!w->ok || t < w->p || t > w->end) {
        w->ok = 0;
        return;
    }
    const char *c = (const char *)w->p;
    size_t nuls = 0;
    while (c < to && *c == '\0')
        c++, nuls++;
    for (; c < to; c++)
        if (!strchr(then, *c) || *c == '\0') {
            w->ok = 0;
            return;
        }
    if (nuls < nul_min || nuls > nul_max)
        w->ok = 0;
    else
        w->p = t;
}

/* Accounts for n bytes papi was shown, starting right here. */
static void shown(struct walk *w, const char *s, size_t n)
{
    gap(w, s, 0, 0, "");
    if (w->ok && n <= w->end - w->p)
        w->p += n;
    else
        w->ok = 0;
}

static int same_token(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* As MHD_lookup_connection_value() would: the first header of a name wins. */
static void keep(const char **field, const char *value)
{
    if (!*field)
        *field = value;
}

/* The headers papi reads, told apart by length first: one walk instead of a lookup each. */
static void take_field(struct walk *w, const char *key, size_t klen, const char *value)
{
    struct httpd_head_fields *f = w->f;
    switch (klen) {
    case 6:
        if (same_token(key, MHD_HTTP_HEADER_EXPECT))
            keep(&f->expect, value);
        else if (same_token(key, MHD_HTTP_HEADER_ORIGIN))
            keep(&f->origin, value);
        break;
    case 12:
        if (same_token(key, "X-Request-Id"))
            keep(&f->request_id, value);
        else if (same_token(key, MHD_HTTP_HEADER_CONTENT_TYPE))
            keep(&f->content_type, value);
        break;
    case 13:
        if (same_token(key, MHD_HTTP_HEADER_IF_NONE_MATCH))
            keep(&f->if_none_match, value);
        else if (same_token(key, MHD_HTTP_HEADER_AUTHORIZATION))
            keep(&f->authorization, value);
        break;
    case 14:
        if (same_token(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
            if (w->content_lengths++ && strcmp(f->content_length, value) != 0)
                w->conflicting = 1;
            if (!f->content_length)
                f->content_length = value;
        }
        break;
    case 17:
        if (same_token(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
            w->transfer_encoding = 1;
        break;
    }
}

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct walk *w = cls;
    if (!key || !value) {
        w->ok = 0;
        return MHD_NO;
    }
    size_t klen = strlen(key);
    gap(w, key, 1, 2, ""); /* the previous line's end: LF, or CR LF */
    shown(w, key, klen);
    gap(w, value, 1, 1, " \t"); /* the colon, then optional white space */
    shown(w, value, strlen(value));
    take_field(w, key, klen, value);
    return w->ok ? MHD_YES : MHD_NO;
}

static int too_large(const char *content_length)
{
    /* MHD already refused a value that is not a number; this one fits in 64 bits. */
    return strtoull(content_length, NULL, 10) > HTTPD_MAX_BODY_BYTES;
}

enum httpd_head_verdict httpd_head_check(struct MHD_Connection *conn, const char *method,
                                         const char *url, size_t uri_len, const char *version,
                                         struct httpd_head_fields *fields)
{
    memset(fields, 0, sizeof *fields);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci || !method || !url || !version)
        return HEAD_HIDDEN_BYTES;
    struct walk w = {
        .p = (uintptr_t)method, .end = (uintptr_t)method + ci->header_size, .ok = 1, .f = fields};
    shown(&w, method, strlen(method));
    gap(&w, url, 1, 1, " "); /* MHD takes several spaces where one is due */
    shown(&w, url, uri_len); /* the whole URI, query included, as the URI callback copied it */
    gap(&w, version, 1, 1, "");
    shown(&w, version, strlen(version));
    if (w.ok)
        MHD_get_connection_values(conn, MHD_HEADER_KIND, each_header, &w);
    gap(&w, (const char *)w.end, 2, 4, ""); /* the last line's end and the empty line */
    if (!w.ok) {
        /* The walk stopped part-way: the client's own request id, as MHD parsed it, still
         * names the 400. */
        fields->request_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        return HEAD_HIDDEN_BYTES;
    }
    if (w.conflicting || (w.content_lengths && w.transfer_encoding))
        return HEAD_CONFLICTING_LENGTH;
    if (w.transfer_encoding)
        return HEAD_CHUNKED;
    if (w.content_lengths && too_large(fields->content_length))
        return HEAD_BODY_TOO_LARGE;
    return HEAD_OK;
}
