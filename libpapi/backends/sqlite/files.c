/* The file-system steps of a replica sync: the target's folder, the temporary file next to it
 * (and those of killed syncs), the copy an incremental sync starts from, fsync. Kept apart from
 * the writer, which only decides when each happens. */
#include "sqlite_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_BYTES (1 << 20)

bool papi__sq_folder_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return false;
    memcpy(dir, !slash ? "." : slash == path ? "/" : path, n);
    dir[n] = '\0';
    return true;
}

papi_status papi__sq_check_folder(const char *path, papi_error *err)
{
    char dir[4096];
    size_t len = strlen(path);
    if (!papi__sq_folder_of(path, dir, sizeof dir))
        return papi_error_set(err, PAPI_ECONFIG, "replica: the path is too long");
    if (path[len - 1] == '/')
        return papi_error_set(err, PAPI_ECONFIG, "replica: '%.120s' names a folder", path);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return papi_error_set(err, PAPI_ECONFIG,
                              "replica: the folder of '%.120s' does not exist (%s)", path,
                              strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return papi_error_set(err, PAPI_ECONFIG, "replica: the folder of '%.120s' is a file", path);
    return PAPI_OK;
}

void papi__sq_remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[4096];
    DIR *d = papi__sq_folder_of(path, dir, sizeof dir) ? opendir(dir) : NULL;
    if (!d)
        return;
    size_t blen = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp-", 5) != 0)
            continue;
        char *end;
        long pid = strtol(n + blen + 5, &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid() ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, n);
        unlink(full);
    }
    closedir(d);
}

papi_status papi__sq_temp_create(const char *path, char **tmp, int *fd, papi_error *err)
{
    size_t len = strlen(path) + 48;
    if (!(*tmp = malloc(len)))
        return papi_error_set(err, PAPI_ENOMEM, "replica: out of memory");
    for (int attempt = 0; attempt < 8; attempt++) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
            r = (uint32_t)time(NULL) * 2654435761u + (uint32_t)attempt;
        snprintf(*tmp, len, "%s.tmp-%ld-%08x", path, (long)getpid(), (unsigned)r);
        *fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (*fd >= 0)
            return PAPI_OK;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(*tmp);
    *tmp = NULL;
    return papi_error_set(err, PAPI_EIO, "replica: cannot create a file next to '%.120s': %s", path,
                          strerror(e));
}

papi_status papi__sq_copy_into(const char *from, int to, papi_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return papi_error_set(err, PAPI_EIO, "replica: cannot read '%.120s': %s", from,
                              strerror(errno));
    char *buf = malloc(COPY_BYTES);
    papi_status s = buf ? PAPI_OK : papi_error_set(err, PAPI_ENOMEM, "replica: out of memory");
    ssize_t n = 0;
    while (s == PAPI_OK && (n = read(in, buf, COPY_BYTES)) > 0)
        for (ssize_t off = 0; s == PAPI_OK && off < n;) {
            ssize_t k = write(to, buf + off, (size_t)(n - off));
            if (k < 0 && errno != EINTR)
                s = papi_error_set(err, PAPI_EIO, "replica: cannot copy '%.120s': %s", from,
                                   strerror(errno));
            off += k > 0 ? k : 0;
        }
    if (s == PAPI_OK && n < 0)
        s = papi_error_set(err, PAPI_EIO, "replica: cannot read '%.120s': %s", from,
                           strerror(errno));
    free(buf);
    close(in);
    return s;
}

papi_status papi__sq_fsync(const char *path, bool folder, papi_error *err)
{
    char dir[4096];
    if (folder && !papi__sq_folder_of(path, dir, sizeof dir))
        return papi_error_set(err, PAPI_EIO, "replica: the path is too long");
    const char *target = folder ? dir : path;
    int fd = open(target, O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return papi_error_set(err, PAPI_EIO, "replica: cannot fsync '%.120s': %s", target,
                              strerror(e));
    }
    close(fd);
    return PAPI_OK;
}
