/* Validators of lookup answers: the ETag over an answer's bytes, and If-None-Match.
 *
 * The tag is a 64-bit hash, not a cryptographic one: a client only ever compares it with the tag
 * of a copy it holds itself, so nobody gains from forging a collision, and between two different
 * answers of one id list a 64-bit tag collides with odds of about 2^-64. It reads the body 16
 * bytes a step with one 64x64->128-bit multiplication (papi_hash64, FNV-1a, takes one byte a
 * step: several times the instructions on a hit's ~470 bytes; docs/PERFORMANCE.md). It has no
 * seed, so every replica gives one answer one tag, and a client may revalidate against any. */
#include <string.h>

#include "httpd.h"

/* n <= 8 bytes, little-endian: one body has one tag on any machine. */
static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&w, p, n);
#else
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
#endif
    return w;
}

/* The 128-bit product of a and b, folded to 64 bits (wyhash's "mum"). */
static uint64_t mix(uint64_t a, uint64_t b)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t h = (a ^ (b >> 29)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32) ^ b;
#endif
}

/* 16 bytes a step, one multiplication each, as wyhash does. */
static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    static const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull,
                          s2 = 0x8ebc6af09c88c6e3ull;
    uint64_t h = s0 ^ (uint64_t)n;
    size_t len = n;
    for (; n >= 16; p += 16, n -= 16)
        h = mix(load_le(p, 8) ^ s1, load_le(p + 8, 8) ^ h);
    if (n) {
        size_t a = n < 8 ? n : 8;
        h = mix(load_le(p, a) ^ s1, load_le(p + a, n - a) ^ h);
    }
    return mix(h ^ s2, (uint64_t)len ^ s1);
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
