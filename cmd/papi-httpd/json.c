/* JSON text for answers and log lines, over libpapi's buffer and string escaping. */
#include <string.h>

#include "httpd.h"

void httpd_json_inert(papi_buf *b, const char *s, size_t n)
{
    size_t start = b->len;
    papi_json_string(b, s, n);
    if (b->oom || (!memchr(b->data + start, '<', b->len - start) &&
                   !memchr(b->data + start, '>', b->len - start)))
        return;
    /* Rare (error answers quoting what a client sent): rewrite the string just appended. */
    papi_buf esc;
    papi_buf_init(&esc);
    papi_buf_append(&esc, b->data + start, b->len - start);
    b->len = start;
    for (size_t i = 0; i < esc.len; i++) {
        char c = esc.data[i];
        if (c == '<')
            papi_buf_append(b, "\\u003c", 6);
        else if (c == '>')
            papi_buf_append(b, "\\u003e", 6);
        else
            papi_buf_putc(b, c);
    }
    if (esc.oom)
        b->oom = 1;
    papi_buf_free(&esc);
}

int httpd_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = papi_utf8_seq(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}
