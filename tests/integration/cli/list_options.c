/* Prints libpapi's options, one a line: key, env var ("-" when none) and "secret" or "-",
 * tab-separated. test_options.py compares the tools' --help with this, the library's own word. */
#include <papi/papi.h>

#include <stdio.h>

int main(void)
{
    for (size_t i = 0; i < papi_config_option_count(); i++) {
        const char *env = NULL;
        int secret = 0;
        const char *key = papi_config_option_key(i, &env, &secret);
        if (!key)
            return 1;
        printf("%s\t%s\t%s\n", key, env ? env : "-", secret ? "secret" : "-");
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
