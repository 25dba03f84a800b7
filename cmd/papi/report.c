/* How the commands that use a client report: a failed call as one "papi: ..." line on stderr
 * (the source's code and SQL state when it gave them), and the library's log lines on stderr,
 * every message escaped for the terminal. */
#include "commands.h"

#include <stdio.h>

int papi_cmd_fail(papi_status s, const papi_error *err)
{
    char msg[PAPI_CMD_SHOWN_MAX], code[80], state[48];
    papi_cmd_shown(msg, sizeof msg, err->message[0] ? err->message : papi_strerror(s));
    if (err->source_code[0] || err->sql_state[0])
        fprintf(stderr, "papi: %s (code %s, SQL state %s)\n", msg,
                papi_cmd_shown(code, sizeof code, err->source_code[0] ? err->source_code : "-"),
                papi_cmd_shown(state, sizeof state, err->sql_state[0] ? err->sql_state : "-"));
    else
        fprintf(stderr, "papi: %s\n", msg);
    return papi_cmd_exit_code(s);
}

void papi_cmd_log_stderr(void *user, papi_log_level level, const char *message)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr, "papi: %s: %s\n", names[level <= PAPI_LOG_DEBUG ? level : PAPI_LOG_DEBUG],
            papi_cmd_shown(shown, sizeof shown, message));
}
