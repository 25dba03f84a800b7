/* papi-httpd: the HTTP face of libpapi. Everything lives in server.c so tests can reuse it. */
#include "httpd.h"

int main(int argc, char **argv)
{
    return httpd_main(argc, argv, NULL, NULL);
}
