/* Sensitive-file filter: which paths, and how they are masked (see docs/overlay.md). */
#include "filter.h"
#include "cleanup.h"
#include "log.h"
#include "mounts.h"
#include "overlay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static const char *const default_paths[] = {
    "/root/.ssh",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssl/private",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/var/lib/docker",
    "/run/secrets",
};

/* Absolute, without trailing slashes; NULL for relative paths and "/" (never maskable). */
static char *normalize(const char *path)
{
    if (path == NULL || path[0] != '/')
        return NULL;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    return n > 1 ? xstrndup(path, n) : NULL;
}

static void add_path(char ***out, const char *path, char *const *allow)
{
    _cleanup_free_ char *p = normalize(path);
    if (p == NULL || strv_contains(*out, p))
        return;
    for (size_t i = 0; allow && allow[i]; i++) {
        _cleanup_free_ char *a = normalize(allow[i]);
        if (a && strcmp(a, p) == 0)
            return;
    }
    strv_push(out, p);
}

char **filter_effective_paths(const struct reaper_config *cfg)
{
    char **out = xcalloc(1, sizeof(char *));
    if (!cfg->filter_enabled)
        return out;
    if (cfg->filter_mode == FILTER_APPEND)
        for (size_t i = 0; i < ARRAY_SIZE(default_paths); i++)
            add_path(&out, default_paths[i], cfg->filter_allowlist);
    for (size_t i = 0; cfg->filter_paths && cfg->filter_paths[i]; i++)
        add_path(&out, cfg->filter_paths[i], cfg->filter_allowlist);
    return out;
}

char *filter_shadow_mask(const char *text)
{
    size_t n = strlen(text);
    char *out = xmalloc(2 * n + 1), *o = out; /* an empty field grows by one byte */
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? eol + 1 : p + strlen(p);
        const char *c1 = memchr(p, ':', (size_t)(end - p));
        if (c1 == NULL) {
            memcpy(o, p, (size_t)(end - p));
            o += end - p;
        } else {
            const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
            const char *rest = c2 ? c2 : (eol ? eol : end);
            memcpy(o, p, (size_t)(c1 + 1 - p));
            o += c1 + 1 - p;
            *o++ = '!';
            memcpy(o, rest, (size_t)(end - rest));
            o += end - rest;
        }
        p = end;
    }
    *o = '\0';
    return out;
}

static _must_check_ int copy_owner_mode(const char *path, const struct stat *st, rerr **err)
{
    if (lchown(path, st->st_uid, st->st_gid) < 0)
        return rerr_set(err, errno, "chown %s", path);
    if (chmod(path, st->st_mode & 07777) < 0)
        return rerr_set(err, errno, "chmod %s", path);
    return 0;
}

/* Create upper/<dirs of path> that are missing, each with its host directory's owner and mode. */
static _must_check_ int make_upper_parents(const char *path, const char *upper, rerr **err)
{
    _cleanup_free_ char *host = xstrdup(path);
    for (char *s = strchr(host + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        _cleanup_free_ char *up = xasprintf("%s%s", upper, host);
        struct stat st;
        if (lstat(up, &st) < 0) {
            if (stat(host, &st) < 0)
                return rerr_set(err, errno, "stat %s", host);
            if (mkdir(up, 0700) < 0 && errno != EEXIST)
                return rerr_set(err, errno, "mkdir %s", up);
            int r = copy_owner_mode(up, &st, err);
            if (r < 0)
                return r;
        }
        *s = '/';
    }
    return 0;
}

static _must_check_ int mask_dir(const char *up, const struct stat *st, rerr **err)
{
    if (mkdir(up, 0700) < 0)
        return rerr_set(err, errno, "mkdir %s", up);
    if (setxattr(up, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return rerr_set(err, errno, "mark %s opaque", up);
    return copy_owner_mode(up, st, err);
}

static _must_check_ int mask_file(const char *path, const char *up, const struct stat *st,
                                  rerr **err)
{
    _cleanup_free_ char *content = NULL;
    if (strcmp(path, "/etc/shadow") == 0 || strcmp(path, "/etc/gshadow") == 0) {
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, 64u << 20, &text, NULL, err);
        if (r < 0)
            return r;
        content = filter_shadow_mask(text);
    }
    _cleanup_close_ int fd =
        open(up, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return rerr_set(err, errno, "create %s", up);
    int r = content ? write_all(fd, content, strlen(content)) : 0;
    if (r == 0 && fchown(fd, st->st_uid, st->st_gid) < 0)
        r = -errno;
    if (r == 0 && fchmod(fd, st->st_mode & 07777) < 0)
        r = -errno;
    if (r < 0) {
        unlink(up);
        return rerr_set(err, -r, "write %s", up);
    }
    return 0;
}

/* 1: mask written, 0: upper already has an entry there (kept), negative: error. */
static _must_check_ int mask_one(const char *path, const struct stat *st, const char *upper,
                                 rerr **err)
{
    _cleanup_free_ char *up = xasprintf("%s%s", upper, path);
    struct stat ust;
    if (lstat(up, &ust) == 0 || errno == ENOTDIR)
        return 0;
    if (errno != ENOENT)
        return rerr_set(err, errno, "stat %s", up);
    int r = make_upper_parents(path, upper, err);
    if (r < 0)
        return r;
    r = S_ISDIR(st->st_mode) ? mask_dir(up, st, err) : mask_file(path, up, st, err);
    return r < 0 ? r : 1;
}

/* Errors that mean the upper layer cannot be written at all: refuse instead of logging. */
static bool upper_unwritable(int code)
{
    return code == EROFS || code == ENOSPC || code == EDQUOT || code == EIO;
}

int filter_mask_upper(char *const *paths, const char *upper, char ***elsewhere, rerr **err)
{
    struct stat root;
    if (stat("/", &root) < 0)
        return rerr_set(err, errno, "stat /");
    *elsewhere = xcalloc(1, sizeof(char *));
    for (size_t i = 0; paths && paths[i]; i++) {
        _cleanup_free_ char *real = realpath(paths[i], NULL);
        struct stat st;
        if (real == NULL || lstat(real, &st) < 0)
            continue; /* not on this host: nothing to hide */
        if (st.st_dev != root.st_dev) {
            strv_push(elsewhere, real);
            continue;
        }
        _cleanup_rerr_ rerr *e = NULL;
        int r = mask_one(real, &st, upper, &e);
        if (r >= 0)
            continue;
        if (upper_unwritable(-r)) {
            rerr_from(err, -r, rerr_msg(e));
            return rerr_wrap(err, "filter %s", real);
        }
        log_warn("filter %s: %s (skipped)", real, rerr_msg(e));
    }
    return 0;
}

static char *placeholder(const struct reaper_config *cfg, bool dir, rerr **err)
{
    _cleanup_free_ char *base = cfg->filter_dir
                                    ? xstrdup(cfg->filter_dir)
                                    : xasprintf("%s/overlay-filters", cfg_runtime_root(cfg));
    if (mkdir_p(base, 0755, err) < 0)
        return NULL;
    char *p = xasprintf("%s/%s", base, dir ? "empty-dir" : "empty-file");
    int r = dir ? mkdir(p, 0555) : open(p, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (r < 0 && errno != EEXIST) {
        rerr_set(err, errno, "create %s", p);
        free(p);
        return NULL;
    }
    if (!dir && r >= 0)
        close(r);
    return p;
}

int *filter_clone_placeholders(const struct reaper_config *cfg, char *const *paths)
{
    size_t n = strv_len(paths);
    int *fds = xcalloc(n, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        fds[i] = -1;
        struct stat st;
        if (stat(paths[i], &st) < 0)
            continue;
        _cleanup_rerr_ rerr *e = NULL;
        _cleanup_free_ char *ph = placeholder(cfg, S_ISDIR(st.st_mode), &e);
        int fd = ph ? mount_clone(ph, false, true, &e) : -1;
        if (fd < 0)
            log_warn("filter %s: %s (skipped)", paths[i], rerr_msg(e));
        fds[i] = fd;
    }
    return fds;
}

void filter_attach_placeholders(char *const *paths, int *fds, bool attach)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        if (fds[i] < 0)
            continue;
        _cleanup_rerr_ rerr *e = NULL;
        if (attach && mount_attach_fd(fds[i], paths[i], &e) < 0)
            log_warn("filter %s: %s (skipped)", paths[i], rerr_msg(e));
        cleanup_closep(&fds[i]);
    }
    free(fds);
}
