/* The library's options seen as descriptors: the one place the tools ask libpapi about them
 * (papi_config_option_info: key, env var, type, default, range, secrecy, help). */
#include "opts.h"

size_t cmd_library_option_count(void)
{
    return papi_config_option_count();
}

int cmd_library_option(size_t index, cmd_option *out)
{
    return papi_config_option_info(index, out) == PAPI_OK ? 0 : -1;
}

void cmd_opts_help_library(FILE *out)
{
    for (size_t i = 0, n = cmd_library_option_count(); i < n; i++) {
        cmd_option o;
        if (cmd_library_option(i, &o) != 0)
            continue;
        cmd_opts_help_option(out, &o, o.def, true, 0);
    }
}
