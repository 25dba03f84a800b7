/* Version and compiler quirks in one place (STYLE.md): Debian 12 ships hiredis 0.14 and
 * OpenSSL 3.0; code elsewhere stays free of #if on versions. */
#ifndef PAPI_COMPAT_H
#define PAPI_COMPAT_H

#if defined(__GNUC__)
#define PAPI__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PAPI__UNUSED __attribute__((unused))
#define PAPI__LIKELY(x) __builtin_expect(!!(x), 1)
#define PAPI__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PAPI__PRINTF(fmt, args)
#define PAPI__UNUSED
#define PAPI__LIKELY(x) (x)
#define PAPI__UNLIKELY(x) (x)
#endif

#endif /* PAPI_COMPAT_H */
