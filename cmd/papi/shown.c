/* Text from the library or the source goes to a terminal: a control byte in a Snowflake message
 * or a file name could move the cursor, rewrite earlier lines or forge a second "papi:" line. */
#include "commands.h"

#include <papi/papi_backend.h>

#include <stdio.h>
#include <string.h>

const char *papi_cmd_shown(char *dst, size_t cap, const char *s)
{
    if (cap == 0)
        return "";
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u), o = 0, mark = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : papi_utf8_seq(u + i, n - i);
        char esc[12];
        int elen = 0;
        if (c == '\n' || c == '\r' || c == '\t')
            elen = snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (k == 0 || c < 0x20 || c == 0x7f) /* invalid UTF-8 shows as its bytes */
            elen = snprintf(esc, sizeof esc, "\\x%02x", c);
        else if (c == 0xc2 && u[i + 1] < 0xa0) /* U+0080..U+009F, the C1 controls (CSI...) */
            elen = snprintf(esc, sizeof esc, "\\u%04x", (unsigned)u[i + 1]);
        k = k ? k : 1;
        const char *piece = elen > 0 ? esc : (const char *)u + i;
        size_t plen = elen > 0 ? (size_t)elen : k;
        if (o + plen >= cap) {
            /* cut where "..." still fits: never inside an escape or a character */
            o = mark;
            if (o + 3 < cap) {
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(dst + o, piece, plen);
        o += plen;
        if (o + 3 < cap)
            mark = o;
        i += k;
    }
    dst[o] = '\0';
    return dst;
}
