/* Validators of lookup answers: the ETag over an answer's bytes, and If-None-Match.
 *
 * The tag is a 64-bit hash, not a cryptographic one: a client only ever compares it with the tag
 * of a copy it holds itself, so nobody gains from forging a collision, and between two different
 * answers of one id list a 64-bit tag collides with odds of 2^-64. It reads the body 8 bytes a
 * step (papi_hash64, FNV-1a, takes one byte a step: about four times the instructions on a hit's
 * ~450 bytes, measured in docs/PERFORMANCE.md). It has no seed, so every replica gives one answer
 * one tag, and a client may revalidate against any of them. */
#include <string.h>

#include "httpd.h"

static uint64_t load64_le(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x6A09E667F3BCC909ull ^ ((uint64_t)n * k);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w); /* the tag of one body must not depend on the machine */
#endif
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    if (n) {
        h = (h ^ load64_le(p, n)) * k;
        h ^= h >> 29;
    }
    /* splitmix64's finalizer: every input bit reaches every output bit */
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

void httpd_etag(const char *body, size_t len, char out[HTTPD_ETAG_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = hash_bytes((const unsigned char *)body, len);
    out[0] = '"';
    for (int i = 16; i >= 1; i--, h >>= 4)
        out[i] = hex[h & 15];
    out[17] = '"';
    out[18] = '\0';
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 8.8.3: If-None-Match = "*" / #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
 * A malformed member matches nothing; it is skipped to the next comma. */
enum httpd_inm httpd_if_none_match(const char *h, const char *etag)
{
    size_t elen = strlen(etag);
    int match = 0;
    while (*h) {
        while (ows(*h) || *h == ',')
            h++;
        if (!*h)
            break;
        if (*h == '*')
            return INM_ANY;
        if (h[0] == 'W' && h[1] == '/')
            h += 2;
        if (*h == '"') {
            const char *end = strchr(h + 1, '"');
            if (end) {
                size_t n = (size_t)(end - h) + 1;
                match |= n == elen && memcmp(h, etag, n) == 0;
                h = end + 1;
                continue;
            }
        }
        while (*h && *h != ',')
            h++;
    }
    return match ? INM_MATCH : INM_NONE;
}
