#include "util.h"
#include "cleanup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        abort();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (p == NULL)
        abort();
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        abort();
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void strv_push(char ***v, const char *s)
{
    size_t n = strv_len(*v);
    *v = xrealloc(*v, (n + 2) * sizeof(char *));
    (*v)[n] = xstrdup(s);
    (*v)[n + 1] = NULL;
}

bool strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

char **strv_split(const char *s, const char *sep)
{
    char **out = xcalloc(1, sizeof(char *));
    while (s && *s) {
        size_t n = strcspn(s, sep);
        if (n > 0) {
            _cleanup_free_ char *field = xstrndup(s, n);
            strv_push(&out, field);
        }
        s += n;
        if (*s)
            s++;
    }
    return out;
}

const char *env_lookup(char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

bool str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_endswith(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int parse_uint32(const char *s, uint32_t *out)
{
    int64_t v;
    int r = parse_int64(s, 0, UINT32_MAX, &v);
    if (r == 0)
        *out = (uint32_t)v;
    return r;
}

bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

int read_fd_all(int fd, size_t max, char **out, size_t *len, rerr **err)
{
    size_t cap = 4096, n = 0;
    _cleanup_free_ char *buf = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max)
                return rerr_setx(err, EFBIG, "file larger than %zu bytes", max);
            cap = cap * 2 > max ? max : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return rerr_set(err, errno, "read");
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    *out = steal_ptr(buf);
    return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *len, rerr **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return rerr_set(err, errno, "open %s", path);
    int r = read_fd_all(fd, max, out, len, err);
    if (r < 0)
        return rerr_wrap(err, "%s", path);
    return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static _must_check_ int write_via_rename(const char *path, const void *data, size_t len,
                                         mode_t mode, bool durable, rerr **err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return rerr_set(err, errno, "create %s", tmp);
    int r = write_all(fd, data, len);
    if (r == 0 && durable && fsync(fd) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return rerr_set(err, -r, "write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        return rerr_set(err, saved, "rename %s to %s", tmp, path);
    }
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, rerr **err)
{
    return write_via_rename(path, data, len, mode, true, err);
}

int write_file_replace(const char *path, const void *data, size_t len, mode_t mode, rerr **err)
{
    return write_via_rename(path, data, len, mode, false, err);
}

static _must_check_ int fds_walk_set_cloexec(int low, rerr **err)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return rerr_set(err, errno, "close_range unavailable and /proc/self/fd unreadable");
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name || fd < low || fd == dirfd(d))
            continue;
        int flags = fcntl((int)fd, F_GETFD);
        if (flags < 0 && errno == EBADF)
            continue;
        if (flags < 0 || fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) < 0)
            r = rerr_set(err, errno, "mark fd %ld close-on-exec", fd);
    }
    closedir(d);
    return r;
}

int fds_set_cloexec_from(int low, rerr **err)
{
    if (syscall(SYS_close_range, (unsigned)low, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    return fds_walk_set_cloexec(low, err);
}

int mkdir_p(const char *path, mode_t mode, rerr **err)
{
    char p[PATH_MAX]; /* mkdir refuses longer paths anyway */
    if (strlen(path) >= sizeof(p))
        return rerr_setx(err, ENAMETOOLONG, "mkdir %s: path too long", path);
    strcpy(p, path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return rerr_set(err, errno, "mkdir %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return rerr_set(err, errno, "mkdir %s", p);
    return 0;
}

static _must_check_ int rm_rf_at(int parent_fd, const char *name, dev_t dev, rerr **err)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : rerr_set(err, errno, "stat %s", name);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
            return rerr_set(err, errno, "unlink %s", name);
        return 0;
    }
    if (st.st_dev != dev)
        return rerr_setx(err, EXDEV, "refusing to remove %s: it is a mount point", name);
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "open %s", name);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return rerr_set(err, errno, "opendir %s", name);
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = rm_rf_at(dirfd(d), de->d_name, dev, err);
    }
    closedir(d);
    if (r < 0)
        return rerr_wrap(err, "%s", name);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return rerr_set(err, errno, "rmdir %s", name);
    return 0;
}

int rm_rf(const char *path, rerr **err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : rerr_set(err, errno, "stat %s", path);
    return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

bool is_dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok)
            return false;
    }
    return s[0] != '-' && s[n - 1] != '-';
}

bool is_valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 1024 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!isalnum((unsigned char)c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

char *rfc3339_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
    return xstrdup(buf);
}

uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The lowest address of the calling thread's stack (for the main thread: as far as it may
 * grow, short of the mapping below it), looked up once per thread; 0 if unknown. */
static uintptr_t stack_low(void)
{
    static __thread uintptr_t low;
    static __thread bool known;
    if (!known) {
        pthread_attr_t a;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0)
                low = (uintptr_t)addr;
            pthread_attr_destroy(&a);
        }
        known = true;
    }
    return low;
}

/* Nothing lives below the stack pointer (the x86-64 red zone is 128 bytes; other ABIs have
 * none). The page we are on and the one below stay, for madvise's own frame; the range never
 * reaches below the thread's own stack. Where the main stack has not grown to yet, madvise
 * fails with ENOMEM after releasing the mapped part: ignored. */
void release_dead_stack(size_t depth)
{
    /* The frame, not a local's address: ASan may keep locals on a fake stack in the heap. */
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t top = (here & ~(page - 1)) - page;
    uintptr_t low = stack_low();
    if (low == 0 || top <= low)
        return;
    uintptr_t from = top - low > depth ? top - depth : low;
    from = (from + page - 1) & ~(page - 1);
    if (from < top)
        IGNORE_RESULT(madvise((void *)from, top - from, MADV_DONTNEED));
}
