/* --help from the descriptors: one line with the flag, its env var, default and range, then the
 * help line. The "(ENV, ...)" shape is read back by tests (test_deploy.py, test_options.py). */
#include "opts.h"

#include <inttypes.h>

void cmd_opts_help_option(FILE *out, const cmd_option *o, const char *def, bool takes_value,
                          char short_name)
{
    char head[128], shortf[8] = "", range[64] = "", dflt[160] = "";
    const char *ph = !takes_value                 ? ""
                     : o->type == CMD_OPTION_INT  ? " N"
                     : o->type == CMD_OPTION_BOOL ? " 0|1"
                                                  : " VALUE";
    if (short_name)
        snprintf(shortf, sizeof shortf, ", -%c", short_name);
    if (o->key)
        snprintf(head, sizeof head, "--%s%s%s", o->key, shortf, ph);
    else
        snprintf(head, sizeof head, "(environment only)");
    bool secret = (o->flags & CMD_OPTION_SECRET) != 0;
    if (def && *def && !secret)
        snprintf(dflt, sizeof dflt, ", default %s", def);
    if (o->type == CMD_OPTION_INT && o->min < o->max)
        snprintf(range, sizeof range, ", %" PRId64 "..%" PRId64, o->min, o->max);
    fprintf(out, "  %-34s (%s%s%s%s)\n", head, o->env ? o->env : "no env var",
            secret ? ", secret" : "", dflt, range);
    if (o->help)
        fprintf(out, "      %s\n", o->help);
}

void cmd_opts_help(FILE *out, const cmd_flag *flags, size_t nflags)
{
    for (size_t i = 0; i < nflags; i++)
        cmd_opts_help_option(out, &flags[i].opt, flags[i].opt.def, !flags[i].set_to,
                             flags[i].short_name);
}
