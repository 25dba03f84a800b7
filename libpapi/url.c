/* The one reading of a URL-shaped spec's userinfo. Redaction for log lines (client.c) and the
 * Redis URL parser (backends/redis) both call it: when each split at its own '@', a password
 * holding '@' reached the log. */
#include "internal.h"

#include <string.h>

int papi_url_split(const char *spec, size_t len, papi_key *scheme, papi_key *userinfo,
                   papi_key *rest)
{
    if (!spec || !scheme || !userinfo || !rest)
        return 0;
    size_t s = 0;
    while (s + 2 < len && !(spec[s] == ':' && spec[s + 1] == '/' && spec[s + 2] == '/'))
        s++;
    if (s == 0 || s + 2 >= len)
        return 0;
    size_t auth = s + 3;
    /* the LAST '@': a password may hold '@', a host, port or database never does */
    size_t at = len;
    for (size_t i = len; i-- > auth;)
        if (spec[i] == '@') {
            at = i;
            break;
        }
    *scheme = (papi_key){spec, s};
    if (at == len) {
        *userinfo = (papi_key){NULL, 0};
        *rest = (papi_key){spec + auth, len - auth};
    } else {
        *userinfo = (papi_key){spec + auth, at - auth};
        *rest = (papi_key){spec + at + 1, len - at - 1};
    }
    return 1;
}
