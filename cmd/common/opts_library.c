/* The library's options seen as descriptors: the one place the tools ask libpapi about them.
 *
 * libpapi describes only an option's key, env var and secrecy today (papi_config_option_key).
 * When it exports papi_option and papi_config_option_info(), cmd_library_option() becomes
 *     papi_option o;
 *     if (papi_config_option_info(index, &o) != PAPI_OK) return -1;
 *     *out = o;   (cmd_option then being a typedef of papi_option)
 *     return 0;
 * and the defaults below stop being read from a fresh configuration. */
#include "opts.h"

size_t cmd_library_option_count(void)
{
    return papi_config_option_count();
}

int cmd_library_option(size_t index, cmd_option *out)
{
    const char *env = NULL;
    int secret = 0;
    const char *key = papi_config_option_key(index, &env, &secret);
    if (!key)
        return -1;
    *out = (cmd_option){
        .key = key,
        .env = env,
        .type = CMD_OPTION_TEXT,
        .flags = secret ? CMD_OPTION_SECRET : 0u,
    };
    return 0;
}

void cmd_opts_help_library(FILE *out)
{
    /* a configuration that was only created holds every default libpapi knows */
    papi_config *fresh = NULL;
    if (papi_config_create(&fresh) != PAPI_OK)
        fresh = NULL;
    for (size_t i = 0, n = cmd_library_option_count(); i < n; i++) {
        cmd_option o;
        if (cmd_library_option(i, &o) != 0)
            continue;
        const char *def = o.def;
        if (!def && fresh && !(o.flags & CMD_OPTION_SECRET))
            def = papi_config_get(fresh, o.key);
        cmd_opts_help_option(out, &o, def, true, 0);
    }
    papi_config_destroy(fresh);
}
