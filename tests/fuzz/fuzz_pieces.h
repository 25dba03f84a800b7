/* Shared by the fuzz targets that render rows: the input cut at 0xFF bytes into up to three
 * cells, the ones it does not reach keeping "", "null" and "7". */
#ifndef PAPI_FUZZ_PIECES_H
#define PAPI_FUZZ_PIECES_H
#include <stddef.h>
#include <stdint.h>

static inline void fuzz_pieces(const uint8_t *data, size_t size, const char *piece[3],
                               size_t plen[3])
{
    const char *s = (const char *)data;
    piece[0] = "", piece[1] = "null", piece[2] = "7";
    plen[0] = 0, plen[1] = 4, plen[2] = 1;
    size_t c = 0, start = 0;
    for (size_t i = 0; i <= size && c < 3; i++)
        if (i == size || data[i] == 0xFF) {
            piece[c] = s + start;
            plen[c++] = i - start;
            start = i + 1;
        }
}
#endif
