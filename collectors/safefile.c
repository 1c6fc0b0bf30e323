/* safefile: open(2) with the flags fopen cannot express, then fdopen. */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tt_safefile_mkdirs(const char *dir, char *err, size_t errlen)
{
    char tmp[512];
    if (!dir || !*dir || strlen(dir) >= sizeof tmp) {
        snprintf(err, errlen, "directory '%.100s': expected a path of 1-%zu bytes", dir ? dir : "", sizeof tmp - 1);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(tmp, 0700) && errno != EEXIST) { snprintf(err, errlen, "directory %s: %s", tmp, strerror(errno)); return -1; }
            *s = '/';
        }
    if (mkdir(tmp, 0700) && errno != EEXIST) { snprintf(err, errlen, "directory %s: %s", dir, strerror(errno)); return -1; }
    struct stat st;
    if (lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "directory %s: expected a directory (not a symbolic link or a file)", dir);
        return -1;
    }
    return 0;
}

int tt_safefile_fd(const char *path, int flags, char *err, size_t errlen)
{
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, e == ELOOP ? "is a symbolic link (refused)" : strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: expected a regular file", path);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if (flags & O_NONBLOCK) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);   /* a regular file after all */
    else if (st.st_mode & 077) fchmod(fd, 0600);              /* ours, written by an older version: close it */
    return fd;
}

FILE *tt_safefile_open(const char *path, const char *mode, char *err, size_t errlen)
{
    int flags = !strcmp(mode, "r") ? O_RDONLY | O_NONBLOCK
              : !strcmp(mode, "a") ? O_WRONLY | O_APPEND | O_CREAT
              : !strcmp(mode, "a+") ? O_RDWR | O_APPEND | O_CREAT : -1;
    if (flags < 0) { snprintf(err, errlen, "%s: mode '%s': expected r, a or a+", path, mode); return NULL; }
    int fd = tt_safefile_fd(path, flags, err, errlen);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, mode);
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); close(fd); }
    return f;
}
