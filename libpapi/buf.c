/* A growable byte buffer whose out-of-memory state is sticky, so writers append freely and
 * check once at the end instead of after every call. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void papi_buf_init(papi_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = false;
}

void papi_buf_free(papi_buf *b)
{
    if (!b)
        return;
    free(b->data);
    papi_buf_init(b);
}

void papi_buf_reset(papi_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

int papi_buf_reserve(papi_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void papi_buf_append(papi_buf *b, const void *p, size_t n)
{
    if (!papi_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void papi_buf_puts(papi_buf *b, const char *s)
{
    papi_buf_append(b, s, strlen(s));
}

void papi_buf_putc(papi_buf *b, char c)
{
    if (!papi_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void papi_buf_printf(papi_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n >= room) {
        if (!papi_buf_reserve(b, (size_t)n))
            return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

const char *papi_buf_cstr(papi_buf *b)
{
    if (b->oom)
        return NULL;
    if (!b->data)
        return "";
    return b->data;
}

char *papi_buf_steal(papi_buf *b, size_t *len)
{
    if (b->oom) {
        papi_buf_free(b);
        return NULL;
    }
    if (!papi_buf_reserve(b, 0))
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    papi_buf_init(b);
    return p;
}

uint64_t papi_hash64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
