/* Snowflake's cell encodings (snowflake-sql-api.md 5.4) decoded into the canonical text of
 * papi_column_type: days to dates, seconds to times and timestamps (never through double: the
 * nanoseconds stay), offsets of TIMESTAMP_TZ, hex, VARIANT re-serialized. */
#include "snowflake.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* days since 1970-01-01 to a civil date (Howard Hinnant's algorithm): exact for any int64 day */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put_date(papi_buf *out, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        papi_buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
    else /* ISO 8601 expanded years */
        papi_buf_printf(out, "%+05" PRId64 "-%02u-%02u", y, m, d);
}

/* "[-]S[.fffffffff]" → whole seconds (floored) and nanoseconds in [0, 1e9). No '.' and more than
 * 11 digits is the older nanosecond form (5.4). */
static bool parse_seconds(const char *s, size_t len, int64_t *secs, int32_t *nanos)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    int64_t ip = 0;
    size_t digits = 0;
    for (; i < len && isdigit((unsigned char)s[i]); i++, digits++) {
        if (ip > (INT64_MAX - 9) / 10)
            return false;
        ip = ip * 10 + (s[i] - '0');
    }
    if (digits == 0)
        return false;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        size_t fd = 0;
        for (i++; i < len && isdigit((unsigned char)s[i]); i++, fd++)
            if (fd < 9)
                frac = frac * 10 + (s[i] - '0');
        for (; fd < 9; fd++)
            frac *= 10;
    } else if (digits > 11) {
        frac = ip % 1000000000;
        ip /= 1000000000;
    }
    if (i != len)
        return false;
    if (neg && frac) {
        *secs = -ip - 1;
        *nanos = (int32_t)(1000000000 - frac);
    } else {
        *secs = neg ? -ip : ip;
        *nanos = (int32_t)frac;
    }
    return true;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void put_fraction(papi_buf *out, int32_t nanos, int scale)
{
    if (scale < 0 || scale > 9)
        scale = 9;
    if (scale == 0)
        return;
    char f[16];
    snprintf(f, sizeof f, "%09d", (int)nanos);
    papi_buf_putc(out, '.');
    papi_buf_append(out, f, (size_t)scale);
}

static void put_clock(papi_buf *out, int64_t secs_of_day, int32_t nanos, int scale)
{
    papi_buf_printf(out, "%02d:%02d:%02d", (int)(secs_of_day / 3600), (int)(secs_of_day / 60 % 60),
                    (int)(secs_of_day % 60));
    put_fraction(out, nanos, scale);
}

static papi_status bad_cell(papi_error *err, const papi__sf_column *col)
{
    return papi_error_set(err, PAPI_EPROTO, "a %s cell is not in Snowflake's encoding",
                          papi__sf_type_name(col->type));
}

papi_status papi__sf_decode_cell(const papi__sf_column *col, const char *cell, size_t len,
                                 papi_buf *out, papi_error *err)
{
    int64_t secs;
    int32_t nanos;
    switch (col->type) {
    case PAPI__SF_DATE: {
        char tmp[32];
        char *end;
        if (len == 0 || len >= sizeof tmp)
            return bad_cell(err, col);
        memcpy(tmp, cell, len);
        tmp[len] = '\0';
        long long days = strtoll(tmp, &end, 10);
        if (*end || days > 1000000000LL || days < -1000000000LL)
            return bad_cell(err, col);
        put_date(out, days);
        break;
    }
    case PAPI__SF_TIME:
        if (!parse_seconds(cell, len, &secs, &nanos) || secs < 0 || secs >= 86400)
            return bad_cell(err, col);
        put_clock(out, secs, nanos, col->scale);
        break;
    case PAPI__SF_TIMESTAMP_NTZ:
    case PAPI__SF_TIMESTAMP_LTZ:
    case PAPI__SF_TIMESTAMP_TZ: {
        int offset_min = 0;
        size_t vlen = len;
        if (col->type == PAPI__SF_TIMESTAMP_TZ) {
            const char *sp = memchr(cell, ' ', len);
            if (!sp)
                return bad_cell(err, col);
            vlen = (size_t)(sp - cell);
            char tmp[16];
            size_t ol = len - vlen - 1;
            if (ol == 0 || ol >= sizeof tmp)
                return bad_cell(err, col);
            memcpy(tmp, sp + 1, ol);
            tmp[ol] = '\0';
            char *end;
            long enc = strtol(tmp, &end, 10);
            if (*end || enc < 0 || enc > 2880)
                return bad_cell(err, col);
            offset_min = (int)enc - 1440; /* encoded as minutes + 1440 (5.4) */
        }
        if (!parse_seconds(cell, vlen, &secs, &nanos) || secs > INT64_MAX / 2 ||
            secs < INT64_MIN / 2)
            return bad_cell(err, col);
        int64_t local = secs + (int64_t)offset_min * 60;
        int64_t days = floordiv(local, 86400);
        put_date(out, days);
        papi_buf_putc(out, 'T');
        put_clock(out, local - days * 86400, nanos, col->scale);
        if (col->type == PAPI__SF_TIMESTAMP_LTZ) {
            papi_buf_putc(out, 'Z'); /* the session time zone is UTC (parameters.timezone) */
        } else if (col->type == PAPI__SF_TIMESTAMP_TZ) {
            int a = offset_min < 0 ? -offset_min : offset_min;
            papi_buf_printf(out, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
        }
        break;
    }
    case PAPI__SF_BINARY:
        for (size_t i = 0; i < len; i++)
            if (!isxdigit((unsigned char)cell[i]))
                return bad_cell(err, col);
        papi_buf_append(out, cell, len);
        break;
    case PAPI__SF_VARIANT: {
        /* may be pretty-printed: re-serialize for stable output; integers beyond int64 make
         * jansson refuse, and then the text goes through as Snowflake wrote it */
        json_t *v = json_loadb(cell, len, JSON_DECODE_ANY, NULL);
        char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
        json_decref(v);
        if (s) {
            papi_buf_puts(out, s);
            free(s);
        } else {
            papi_buf_append(out, cell, len);
        }
        break;
    }
    case PAPI__SF_FIXED:
    case PAPI__SF_REAL:
    case PAPI__SF_DECFLOAT:
    case PAPI__SF_TEXT:
    case PAPI__SF_BOOLEAN:
    case PAPI__SF_UNKNOWN:
        papi_buf_append(out, cell, len);
        break;
    }
    return out->oom ? papi_error_set(err, PAPI_ENOMEM, "out of memory") : PAPI_OK;
}
