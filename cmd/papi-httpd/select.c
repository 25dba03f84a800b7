/* ?select=C_FIRST_NAME,C_EMAIL_ADDRESS: the columns a lookup should answer with.
 *
 * This reads the list: the count first (a list past HTTPD_MAX_SELECT names is refused before any
 * name is read, so a thousand names cost nothing), then each name's size. Whether a name is a
 * column of the dataset, and named once, is the library's check (papi_lookup_begin() names the
 * column, escaped). Other query parameters are left alone, as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* The raw value of the one "select" parameter: 1 with *v, *vlen; 0 when absent; -1 when given
 * twice. */
static int find_select(const char *q, size_t qlen, const char **v, size_t *vlen)
{
    int found = 0;
    for (size_t i = 0; i <= qlen;) {
        const char *amp = memchr(q + i, '&', qlen - i);
        size_t end = amp ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q + i, '=', end - i);
        size_t name_len = eq ? (size_t)(eq - (q + i)) : end - i;
        if (name_len == 6 && memcmp(q + i, "select", 6) == 0) {
            if (found++)
                return -1;
            *v = eq ? eq + 1 : q + end;
            *vlen = eq ? (size_t)(q + end - (eq + 1)) : 0;
        }
        i = end + 1;
    }
    return found;
}

static enum httpd_ids_rc check_names(struct httpd_select *sel, char *msg, size_t cap)
{
    for (size_t i = 0; i < sel->n; i++) {
        const char *a = sel->name[i];
        size_t n = strlen(a);
        if (n == 0) {
            snprintf(msg, cap, "select: column %zu is empty", i + 1);
            return IDS_BAD;
        }
        if (n > HTTPD_MAX_COLUMN_BYTES) {
            snprintf(msg, cap, "select: column %zu is longer than %d bytes", i + 1,
                     HTTPD_MAX_COLUMN_BYTES);
            return IDS_BAD;
        }
    }
    return IDS_OK;
}

enum httpd_ids_rc httpd_select_parse(const char *query, size_t qlen, struct httpd_select **out,
                                     char *msg, size_t cap)
{
    *out = NULL;
    const char *v = NULL;
    size_t vlen = 0;
    switch (find_select(query, qlen, &v, &vlen)) {
    case 0:
        return IDS_OK;
    case -1:
        snprintf(msg, cap, "select is given twice: give one comma-separated list");
        return IDS_BAD;
    }
    size_t count = 1;
    for (size_t i = 0; i < vlen; i++)
        count += v[i] == ',' || (v[i] == '%' && i + 2 < vlen && v[i + 1] == '2' &&
                                 (v[i + 2] == 'C' || v[i + 2] == 'c'));
    if (vlen == 0) {
        snprintf(msg, cap, "select is empty: name the columns to answer with, comma-separated");
        return IDS_BAD;
    }
    if (count > HTTPD_MAX_SELECT) {
        snprintf(msg, cap, "select names %zu columns: at most %d", count, HTTPD_MAX_SELECT);
        return IDS_BAD;
    }
    struct httpd_select *sel = malloc(sizeof *sel + vlen + 1);
    if (!sel)
        return IDS_NOMEM;
    long d = httpd_percent_decode(v, vlen, sel->buf);
    if (d < 0) {
        free(sel);
        snprintf(msg, cap, "select: invalid percent-encoding");
        return IDS_BAD;
    }
    sel->n = 0;
    for (char *p = sel->buf;;) {
        sel->name[sel->n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    enum httpd_ids_rc rc = check_names(sel, msg, cap);
    if (rc != IDS_OK) {
        free(sel);
        return rc;
    }
    *out = sel;
    return IDS_OK;
}

struct httpd_select *httpd_select_copy(const struct httpd_select *sel)
{
    /* the names lie one after the other in buf, each NUL-ended */
    const char *last = sel->name[sel->n - 1];
    size_t used = (size_t)(last - sel->buf) + strlen(last) + 1;
    struct httpd_select *c = malloc(sizeof *c + used);
    if (!c)
        return NULL;
    memcpy(c->buf, sel->buf, used);
    c->n = sel->n;
    for (size_t i = 0; i < sel->n; i++)
        c->name[i] = c->buf + (sel->name[i] - sel->buf);
    return c;
}
