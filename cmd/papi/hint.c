/* The hint after a lookup's client could not be created: a missing demo database is the usual
 * first stumble. Its own file so that a unit test links it alone (tests/unit/cmd). */
#include "commands.h"

#include <string.h>
#include <unistd.h>

const char *papi_cmd_demo_hint(const char *source, const char *default_db, papi_status status,
                               const char *message)
{
    if (status != PAPI_ECONFIG)
        return NULL;
    const char *path;
    if (source && *source) {
        if (strncmp(source, "sqlite:", 7) != 0)
            return NULL;
        path = source + 7;
    } else {
        /* Unset: papi_client_create() chose the source (a built-in's detect(), else the demo
         * database). It was the demo database when the failure names that file. */
        if (!default_db || !*default_db || !message || !strstr(message, default_db))
            return NULL;
        path = default_db;
    }
    return *path && access(path, F_OK) != 0 ? path : NULL;
}
