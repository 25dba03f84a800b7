/* A deliberately wrong public header for the ABI checker's own test: it declares one function
 * that the leaky library does not export. */
#define PAPI_API __attribute__((visibility("default")))
PAPI_API int papi_leaky_declared(void);
PAPI_API int papi_leaky_missing(void);
