/* Status names and sentences, the error filler, the version. Each switch has no default so
 * that a new status without text breaks the build (-Wswitch under -Werror). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *papi_strerror(papi_status status)
{
    switch (status) {
    case PAPI_OK:
        return "success";
    case PAPI_EINVAL:
        return "invalid argument";
    case PAPI_ENOMEM:
        return "out of memory";
    case PAPI_ENODATASET:
        return "unknown dataset";
    case PAPI_ECONFIG:
        return "invalid configuration";
    case PAPI_EAUTH:
        return "the source rejected the credentials";
    case PAPI_EUNAVAIL:
        return "the source is unavailable";
    case PAPI_ETIMEDOUT:
        return "the source did not answer in time";
    case PAPI_ESOURCE:
        return "the source refused the query";
    case PAPI_EPROTO:
        return "the source sent a malformed answer";
    case PAPI_EIO:
        return "input/output error";
    case PAPI_EINTERNAL:
        return "internal error";
    }
    return "unknown status";
}

const char *papi_status_name(papi_status status)
{
    switch (status) {
    case PAPI_OK:
        return "OK";
    case PAPI_EINVAL:
        return "EINVAL";
    case PAPI_ENOMEM:
        return "ENOMEM";
    case PAPI_ENODATASET:
        return "ENODATASET";
    case PAPI_ECONFIG:
        return "ECONFIG";
    case PAPI_EAUTH:
        return "EAUTH";
    case PAPI_EUNAVAIL:
        return "EUNAVAIL";
    case PAPI_ETIMEDOUT:
        return "ETIMEDOUT";
    case PAPI_ESOURCE:
        return "ESOURCE";
    case PAPI_EPROTO:
        return "EPROTO";
    case PAPI_EIO:
        return "EIO";
    case PAPI_EINTERNAL:
        return "EINTERNAL";
    }
    return "EUNKNOWN";
}

const char *papi_version(void)
{
    return PAPI_VERSION_STRING;
}

/* Backs up from cap-1 so a cut never leaves half a UTF-8 sequence behind. */
static void cut_utf8(char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) {
        unsigned char lead = (unsigned char)s[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (len - (i - 1) < need)
            s[i - 1] = '\0';
    }
}

size_t papi_strlcpy(char *dst, const char *src, size_t cap)
{
    if (!dst || cap == 0)
        return 0;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        cut_utf8(dst, cap - 1);
        return strlen(dst);
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

void papi_free(void *p)
{
    free(p);
}

papi_status papi_error_set(papi_error *err, papi_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    err->http_status = 0;
    err->retry_after_s = 0;
    err->source_code[0] = '\0';
    err->sql_state[0] = '\0';
    err->message[0] = '\0';
    err->query_id[0] = '\0';
    memset(err->reserved, 0, sizeof err->reserved);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        if (n >= (int)sizeof err->message)
            cut_utf8(err->message, sizeof err->message - 1);
    }
    return status;
}

papi_status papi_error_set_source(papi_error *err, int32_t http_status, const char *code,
                                  const char *sql_state, const char *query_id)
{
    if (!err)
        return PAPI_OK;
    err->http_status = http_status;
    if (code)
        papi_strlcpy(err->source_code, code, sizeof err->source_code);
    if (sql_state)
        papi_strlcpy(err->sql_state, sql_state, sizeof err->sql_state);
    if (query_id)
        papi_strlcpy(err->query_id, query_id, sizeof err->query_id);
    return err->status;
}
