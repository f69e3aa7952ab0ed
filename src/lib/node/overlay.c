/* The shared overlay mount namespaces: join the pinned one, or create and pin it. */
#include "overlay.h"
#include "sync.h"
#include "cleanup.h"
#include "filter.h"
#include "log.h"
#include "syscalls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

const char *overlay_base(const struct reaper_config *cfg, char **owned)
{
    if (cfg->overlay_base)
        return cfg->overlay_base;
    return *owned = xasprintf("%s/overlay", cfg_runtime_root(cfg));
}

int overlay_paths_resolve(const struct reaper_config *cfg, const struct workload_identity *id,
                          struct overlay_paths *out, rerr **err)
{
    memset(out, 0, sizeof(*out));
    const char *ns = cfg->isolation == ISOLATION_NODE ? "_node" : id->k8s_namespace;
    const char *name = id->overlay_name;
    if (ns == NULL || (cfg->isolation != ISOLATION_NODE && !is_dns_label(ns)))
        return rerr_setx(err, EINVAL, "overlay: invalid namespace \"%s\"", ns ? ns : "");
    if (name && !is_dns_label(name))
        return rerr_setx(err, EINVAL, "overlay: invalid overlay name \"%s\"", name);
    _cleanup_free_ char *base_owned = NULL;
    const char *base = overlay_base(cfg, &base_owned);
    const char *root = cfg_runtime_root(cfg);
    out->key = name ? xasprintf("%s_%s", ns, name) : xstrdup(ns);
    out->dir = name ? xasprintf("%s/%s/%s", base, ns, name) : xasprintf("%s/%s", base, ns);
    out->upper = xasprintf("%s/upper", out->dir);
    out->work = xasprintf("%s/work", out->dir);
    out->merged = xasprintf("%s/merged/%s", root, out->key);
    out->pin = xasprintf("%s/ns/%s", root, out->key);
    out->lock = xasprintf("%s/locks/%s.lock", root, out->key);
    return 0;
}

void overlay_paths_free(struct overlay_paths *p)
{
    if (p == NULL)
        return;
    free(p->key);
    free(p->dir);
    free(p->upper);
    free(p->work);
    free(p->merged);
    free(p->pin);
    free(p->lock);
    memset(p, 0, sizeof(*p));
}

static void cleanup_pathsp(struct overlay_paths *p)
{
    overlay_paths_free(p);
}
#define _cleanup_paths_ __attribute__((cleanup(cleanup_pathsp)))

/* An fd on the pinned namespace, or -1 if nothing (or something else) is mounted there. */
static _must_check_ int pin_open(const char *pin)
{
    int fd = open(pin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1: joined, 0: not pinned, negative: setns failed. */
static _must_check_ int pin_join(const char *key, const char *pin, rerr **err)
{
    _cleanup_close_ int fd = pin_open(pin);
    if (fd < 0)
        return 0;
    if (setns(fd, CLONE_NEWNS) < 0)
        return rerr_set(err, errno, "overlay %s: join %s", key, pin);
    return 1;
}

/* True when fd is still the file at path (a destroyer unlinks the lock file it holds). */
static bool same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* Locked fd on path (its directory is created). Closing the fd unlocks. overlay_destroy
 * removes the lock file while holding it, so lock files do not pile up for every name ever
 * used; a locker that raced with that removal holds a dead file and tries again. */
static _must_check_ int lock_path(const char *path, rerr **err)
{
    _cleanup_free_ char *dir = xstrdup(path);
    int r = mkdir_p(dirname(dir), 0700, err);
    if (r < 0)
        return r;
    for (;;) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return rerr_set(err, errno, "open %s", path);
        while (flock(fd, LOCK_EX) < 0)
            if (errno != EINTR)
                return rerr_set(err, errno, "lock %s", path);
        if (same_file(fd, path))
            return steal_fd(fd);
    }
}

static bool is_mount_root(const char *path)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
        return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
           (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/*
 * <runtime_root>/ns becomes a private, unbindable self-bind mount, so that rbinding /run into a
 * new namespace never copies pins (a namespace holding a pin of itself would never be freed).
 */
static _must_check_ int ensure_pin_dir(const char *root, rerr **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/ns", root);
    _cleanup_free_ char *lock = xasprintf("%s/locks/.ns-dir.lock", root);
    int r = mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_close_ int lfd = lock_path(lock, err);
    if (lfd < 0)
        return lfd;
    if (!is_mount_root(dir) && mount(dir, dir, NULL, MS_BIND, NULL) < 0)
        return rerr_set(err, errno, "bind %s onto itself", dir);
    if (mount(NULL, dir, NULL, MS_PRIVATE, NULL) < 0)
        return rerr_set(err, errno, "make %s private", dir);
    if (mount(NULL, dir, NULL, MS_UNBINDABLE, NULL) < 0)
        return rerr_set(err, errno, "make %s unbindable", dir);
    return 0;
}

static _must_check_ int rbind_into(const char *merged, const char *dir, rerr **err)
{
    _cleanup_free_ char *dest = xasprintf("%s%s", merged, dir);
    if (mount(dir, dest, NULL, MS_BIND | MS_REC, NULL) < 0)
        return rerr_set(err, errno, "bind %s on %s", dir, dest);
    return 0;
}

static _must_check_ int mount_overlay(const struct overlay_paths *p, rerr **err)
{
    _cleanup_free_ char *opts = xasprintf("lowerdir=/,upperdir=%s,workdir=%s", p->upper, p->work);
    if (mount("overlay", p->merged, "overlay", 0, opts) < 0)
        return rerr_set(err, errno, "mount overlay on %s", p->merged);
    static const char *const shared[] = {"/proc", "/sys", "/dev", "/run"};
    for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
        int r = rbind_into(p->merged, shared[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static _must_check_ int switch_root(const char *merged, rerr **err)
{
    if (chdir(merged) < 0)
        return rerr_set(err, errno, "chdir %s", merged);
    /* Stack the new root on the old one, then detach the old: no old_root dir needed. */
    if (sys_pivot_root(".", ".") < 0)
        return rerr_set(err, errno, "pivot_root %s", merged);
    if (umount2(".", MNT_DETACH) < 0)
        return rerr_set(err, errno, "detach the old root");
    if (chdir("/") < 0)
        return rerr_set(err, errno, "chdir /");
    return 0;
}

/* Hide Reaper's own state (other namespaces' upper dirs, pins) from workloads. */
static _must_check_ int mask_private_dir(const char *dir, rerr **err)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("tmpfs", dir, "tmpfs", flags, "size=4k,mode=0755") < 0)
        return rerr_set(err, errno, "mask %s", dir);
    return 0;
}

/* In the helper G: build the overlay namespace and make it its own. */
static _must_check_ int ns_build(const struct reaper_config *cfg, const struct overlay_paths *p,
                                 rerr **err)
{
    if (unshare(CLONE_NEWNS) < 0)
        return rerr_set(err, errno, "unshare mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return rerr_set(err, errno, "make / rprivate");
    _cleanup_strv_ char **paths = filter_effective_paths(cfg);
    _cleanup_strv_ char **elsewhere = NULL;
    int r = filter_mask_upper(paths, p->upper, &elsewhere, err);
    if (r < 0)
        return r;
    int *placeholders = filter_clone_placeholders(cfg, elsewhere);
    r = mount_overlay(p, err);
    if (r == 0)
        r = switch_root(p->merged, err);
    filter_attach_placeholders(elsewhere, placeholders, r == 0);
    if (r < 0)
        return r;
    _cleanup_free_ char *base_owned = NULL;
    r = mask_private_dir(cfg_runtime_root(cfg), err);
    if (r == 0)
        r = mask_private_dir(overlay_base(cfg, &base_owned), err);
    return r;
}

static _Noreturn void ns_helper(const struct reaper_config *cfg, const struct overlay_paths *p,
                                int sock)
{
    rerr *e = NULL;
    if (ns_build(cfg, p, &e) < 0) {
        IGNORE_RESULT(sync_send_rerr(sock, e)); /* if it fails, the parent sees EOF */
        _exit(1);
    }
    if (sync_send_ok(sock) < 0)
        _exit(1); /* the parent sees EOF and reports the helper died */
    char done;
    while (read(sock, &done, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

static _must_check_ int pin_namespace(pid_t helper, const char *pin, rerr **err)
{
    int fd = open(pin, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0400);
    if (fd < 0)
        return rerr_set(err, errno, "create %s", pin);
    close(fd);
    _cleanup_free_ char *ns = xasprintf("/proc/%d/ns/mnt", (int)helper);
    if (mount(ns, pin, NULL, MS_BIND, NULL) < 0) {
        int saved = errno;
        unlink(pin);
        return rerr_set(err, saved, "pin %s on %s", ns, pin);
    }
    return 0;
}

/* Our own helper child: waitpid fails only if it was already reaped, so nothing to report. */
static void reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* mkdir_p accepts an existing non-directory; overlayfs would then only say "Invalid argument". */
static _must_check_ int ensure_dir(const char *path, mode_t mode, rerr **err)
{
    struct stat st;
    int r = mkdir_p(path, mode, err);
    if (r < 0)
        return r;
    if (stat(path, &st) < 0)
        return rerr_set(err, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return rerr_set(err, ENOTDIR, "%s", path);
    return 0;
}

/* Under the lock: build the namespace in helper G, pin it from the host namespace. */
static _must_check_ int overlay_create(const struct reaper_config *cfg,
                                       const struct overlay_paths *p, rerr **err)
{
    int r = ensure_dir(p->upper, 0755, err);
    if (r == 0)
        r = ensure_dir(p->work, 0700, err);
    if (r == 0)
        r = ensure_dir(p->merged, 0755, err);
    if (r == 0)
        r = ensure_pin_dir(cfg_runtime_root(cfg), err);
    if (r < 0)
        return r;
    int sv[2];
    r = sync_pair(sv, err);
    if (r < 0)
        return r;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return rerr_set(err, errno, "fork");
    }
    if (pid == 0) {
        close(sv[0]);
        ns_helper(cfg, p, sv[1]);
    }
    close(sv[1]);
    _cleanup_close_ int sock = sv[0];
    r = sync_recv(sock, "overlay helper", err);
    if (r == 0)
        r = pin_namespace(pid, p->pin, err);
    IGNORE_RESULT(write_all(sock, "d", 1)); /* the helper also ends on EOF */
    reap(pid);
    return r;
}

int overlay_enter(const struct reaper_config *cfg, const struct workload_identity *id, rerr **err)
{
    _cleanup_paths_ struct overlay_paths p = {0};
    int r = overlay_paths_resolve(cfg, id, &p, err);
    if (r < 0)
        return r;
    r = pin_join(p.key, p.pin, err); /* the hot path: no lock */
    if (r != 0)
        return r < 0 ? r : 0;
    _cleanup_close_ int lock = lock_path(p.lock, err);
    if (lock < 0)
        return rerr_wrap(err, "overlay %s", p.key);
    r = pin_join(p.key, p.pin, err); /* someone else created it meanwhile */
    if (r != 0)
        return r < 0 ? r : 0;
    r = overlay_create(cfg, &p, err);
    if (r < 0)
        return rerr_wrap(err, "overlay %s", p.key);
    r = pin_join(p.key, p.pin, err);
    if (r == 0)
        return rerr_setx(err, EIO, "overlay %s: %s is not pinned after creation", p.key, p.pin);
    return r < 0 ? r : 0;
}

bool overlay_exists(const struct reaper_config *cfg, const struct workload_identity *id)
{
    _cleanup_paths_ struct overlay_paths p = {0};
    _cleanup_rerr_ rerr *e = NULL;
    if (overlay_paths_resolve(cfg, id, &p, &e) < 0)
        return false;
    _cleanup_close_ int fd = pin_open(p.pin);
    return fd >= 0;
}

/* Move dir/<layer> aside to dir/.discard-<layer> (deleted by discard_trash): a destroyer killed
 * midway leaves the layer whole or gone, never half-removed, and the next destroy or sweep
 * deletes the leftover. Dot names are neither overlay names nor scanned. */
static _must_check_ int move_aside(const char *dir, const char *path, const char *layer, rerr **err)
{
    _cleanup_free_ char *trash = xasprintf("%s/.discard-%s", dir, layer);
    int r = rm_rf(trash, err);
    if (r < 0)
        return r;
    if (rename(path, trash) < 0 && errno != ENOENT)
        return rerr_set(err, errno, "rename %s to %s", path, trash);
    return 0;
}

/* Under the lock: delete what move_aside left, the directories left empty and, unless the
 * namespace is pinned (in use again), the lock file (see lock_path). */
static _must_check_ int discard_trash(const struct overlay_paths *p, bool named, rerr **err)
{
    _cleanup_free_ char *upper = xasprintf("%s/.discard-upper", p->dir);
    _cleanup_free_ char *work = xasprintf("%s/.discard-work", p->dir);
    if (rm_rf(upper, err) < 0 || rm_rf(work, err) < 0)
        return rerr_wrap(err, "overlay %s", p->key);
    (void)rmdir(p->dir); /* directories left empty go too */
    if (named) {
        _cleanup_free_ char *parent = xstrdup(p->dir);
        (void)rmdir(dirname(parent));
    }
    _cleanup_close_ int pinned = pin_open(p->pin);
    if (pinned < 0 && unlink(p->lock) < 0 && errno != ENOENT) /* still held: see lock_path */
        return rerr_set(err, errno, "overlay %s: remove %s", p->key, p->lock);
    return 0;
}

/* Resolve id's paths into *p and take its lock: the fd holding it, or a negative errno. */
static _must_check_ int lock_overlay(const struct reaper_config *cfg,
                                     const struct workload_identity *id, struct overlay_paths *p,
                                     rerr **err)
{
    int r = overlay_paths_resolve(cfg, id, p, err);
    if (r < 0)
        return r;
    int fd = lock_path(p->lock, err);
    return fd < 0 ? rerr_wrap(err, "overlay %s", p->key) : fd;
}

int overlay_destroy(const struct reaper_config *cfg, const struct workload_identity *id,
                    overlay_destroyed_fn destroyed, void *ud, rerr **err)
{
    _cleanup_paths_ struct overlay_paths p = {0};
    _cleanup_close_ int lock = lock_overlay(cfg, id, &p, err);
    if (lock < 0)
        return lock;
    if (umount2(p.pin, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        return rerr_set(err, errno, "overlay %s: unmount %s", p.key, p.pin);
    if (unlink(p.pin) < 0 && errno != ENOENT)
        return rerr_set(err, errno, "overlay %s: remove %s", p.key, p.pin);
    (void)rmdir(p.merged);
    /* Only its own layers: the namespace overlay's directory also holds the named overlays. */
    if (move_aside(p.dir, p.work, "work", err) < 0 || move_aside(p.dir, p.upper, "upper", err) < 0)
        return rerr_wrap(err, "overlay %s", p.key);
    int r = destroyed ? destroyed(ud, err) : 0; /* right after the data went, still locked */
    if (r < 0) { /* its error is the one to report; a later destroy or sweep retries this */
        IGNORE_RESULT(discard_trash(&p, id->overlay_name != NULL, NULL));
        return r;
    }
    return discard_trash(&p, id->overlay_name != NULL, err);
}

int overlay_sweep(const struct reaper_config *cfg, const struct workload_identity *id, rerr **err)
{
    _cleanup_paths_ struct overlay_paths p = {0};
    _cleanup_close_ int lock = lock_overlay(cfg, id, &p, err);
    if (lock < 0)
        return lock;
    return discard_trash(&p, id->overlay_name != NULL, err);
}
