/*
 * `containerd-shim-reaper-v2 start`: one shim per pod. Containers of a pod carry the sandbox id,
 * so they resolve to the same socket; if a shim already listens there we just print its address.
 * Otherwise we listen, start the daemon (an exec of this binary: `serve`), and print the address.
 */
#include "annotations.h"
#include "cleanup.h"
#include "log.h"
#include "oci_spec.h"
#include "shim.h"
#include "unix_socket.h"
#include "util.h"

#include <errno.h>
#include <spawn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define ANN_RUNC_GROUP "io.containerd.runc.v2.group"

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

char *shim_socket_path(const struct reaper_config *cfg, const char *address, const char *ns,
                       const char *group)
{
    _cleanup_free_ char *key = xasprintf("%s/%s/%s", address ? address : "", ns, group);
    uint64_t a = fnv1a(key, 0xcbf29ce484222325ull);
    uint64_t b = fnv1a(key, a ^ 0x9e3779b97f4a7c15ull);
    return xasprintf("%s/s/%016llx%016llx", cfg->runtime_root, (unsigned long long)a,
                     (unsigned long long)b);
}

/* 0 if a shim already serves path. */
static _must_check_ int try_connect(const char *path)
{
    int fd = unix_connect("socket", path, NULL);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static _must_check_ int listen_on(const char *path, rerr **err)
{
    struct sockaddr_un sa;
    int r = unix_addr("socket", path, &sa, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
    r = mkdir_p(dir, 0711, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return rerr_set(err, errno, "socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return rerr_set(err, errno, "bind %s", path);
    if (chmod(path, 0600) < 0 || listen(fd, 128) < 0)
        return rerr_set(err, errno, "listen %s", path);
    return steal_fd(fd);
}

/* Listen on path, replacing a stale socket; -EADDRINUSE if a live shim took it meanwhile. */
static _must_check_ int claim_socket(const char *path, rerr **err)
{
    int r = try_connect(path);
    if (r == 0)
        return -EADDRINUSE;
    if (r == -ECONNREFUSED)
        unlink(path); /* its shim is gone */
    int fd = listen_on(path, err);
    if (fd != -EADDRINUSE)
        return fd;
    if (try_connect(path) == 0) { /* another start won the race: share its shim */
        rerr_free(*err);
        *err = NULL;
        return -EADDRINUSE;
    }
    return rerr_setx(err, EADDRNOTAVAIL, "socket %s is taken but no shim answers", path);
}

static char *group_of(const char *bundle, const char *id, rerr **err)
{
    struct oci_spec *spec = NULL;
    if (oci_spec_load(bundle, &spec, err) < 0)
        return NULL;
    const char *g = kv_get(spec->annotations, spec->n_annotations, ANN_RUNC_GROUP);
    if (g == NULL)
        g = kv_get(spec->annotations, spec->n_annotations, ANN_SANDBOX_ID);
    char *group = xstrdup(g ? g : id);
    oci_spec_free(spec);
    return group;
}

/* The socket file at path, if it is still the one this daemon bound (same inode). */
static void remove_own_socket(const char *path, const struct stat *bound)
{
    struct stat now;
    if (stat(path, &now) == 0 && now.st_dev == bound->st_dev && now.st_ino == bound->st_ino)
        unlink(path);
}

/* The daemon's environment: the node's, with glibc's per-thread cache of freed blocks off. A
 * shim sleeps most of its life, and each cached block pins its heap page: malloc_trim cannot
 * return it (measured, with the fresh heap of the exec: 59 -> 20 KiB per shim). Tunables are
 * read when a process starts, hence the exec. */
#define TCACHE_OFF "glibc.malloc.tcache_count=0"
static char **daemon_environ(void)
{
    char **env = NULL;
    for (char **e = environ; *e; e++)
        if (!str_startswith(*e, "GLIBC_TUNABLES="))
            strv_push(&env, *e);
    const char *node = env_lookup(environ, "GLIBC_TUNABLES");
    _cleanup_free_ char *tunables = node ? xasprintf("GLIBC_TUNABLES=%s:" TCACHE_OFF, node)
                                         : xstrdup("GLIBC_TUNABLES=" TCACHE_OFF);
    strv_push(&env, tunables);
    return env;
}

static void push_flag(char ***argv, const char *flag, const char *value)
{
    if (value) {
        strv_push(argv, flag);
        strv_push(argv, value);
    }
}

/* argv of `<self> ... -socket PATH serve`: the same flags, the listening socket on fd 3. */
static char **daemon_argv(const struct shim_opts *o, const char *path)
{
    char **argv = NULL;
    strv_push(&argv, "containerd-shim-reaper-v2");
    push_flag(&argv, "-namespace", o->ns);
    push_flag(&argv, "-address", o->address);
    push_flag(&argv, "-publish-binary", o->publish_binary);
    push_flag(&argv, "-id", o->id);
    if (o->debug)
        strv_push(&argv, "-debug");
    push_flag(&argv, "-socket", path);
    strv_push(&argv, "serve");
    return argv;
}

/* Start the daemon: a fresh exec of this binary, in a session of its own, with /dev/null as
 * stdio (holding containerd's pipe, `start` would never return) and the socket on fd 3. */
static _must_check_ int spawn_daemon(const struct shim_opts *o, int listen_fd, const char *path,
                                     rerr **err)
{
    /* dup2 onto itself would keep O_CLOEXEC: move the socket out of the way first. */
    _cleanup_close_ int moved = listen_fd == DAEMON_LISTEN_FD
                                    ? fcntl(listen_fd, F_DUPFD_CLOEXEC, DAEMON_LISTEN_FD + 1)
                                    : -1;
    if (listen_fd == DAEMON_LISTEN_FD && moved < 0)
        return rerr_set(err, errno, "dup the shim socket");
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, moved >= 0 ? moved : listen_fd, DAEMON_LISTEN_FD);
    _cleanup_strv_ char **argv = daemon_argv(o, path);
    _cleanup_strv_ char **env = daemon_environ();
    pid_t pid;
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return rerr_set(err, r, "start the shim daemon (/proc/self/exe)");
    return 0;
}

int shim_serve_daemon(const struct shim_opts *o, const struct reaper_config *cfg, rerr **err)
{
    struct stat bound;
    if (o->socket == NULL || stat(o->socket, &bound) < 0)
        return rerr_setx(err, EINVAL,
                         "serve: -socket names no socket (the daemon is started "
                         "by `start`, not by hand)");
    if (fcntl(DAEMON_LISTEN_FD, F_SETFD, FD_CLOEXEC) < 0)
        return rerr_set(err, errno, "serve: fd %d", DAEMON_LISTEN_FD);
    int r = shim_serve(o, cfg, DAEMON_LISTEN_FD, err);
    if (r < 0) /* our stderr is /dev/null: the shim log is where this can be read */
        log_error("shim: %s", rerr_msg(*err));
    /* Gone with the last task: a later start for this pod makes a new shim and socket. */
    remove_own_socket(o->socket, &bound);
    return r;
}

void shim_socket_remove_stale(const char *bundle)
{
    _cleanup_free_ char *file = xasprintf("%s/address", bundle);
    _cleanup_free_ char *address = NULL;
    if (read_file(file, 4096, &address, NULL, NULL) < 0 || !str_startswith(address, "unix://"))
        return;
    const char *path = address + strlen("unix://");
    struct stat before;
    /* Same inode as the one that refused: a shim that replaced it meanwhile keeps its own. */
    if (stat(path, &before) == 0 && try_connect(path) == -ECONNREFUSED)
        remove_own_socket(path, &before);
}

static void print_address(const char *path)
{
    /* containerd 1.7/2.x (they set MAX_SHIM_VERSION) parse this JSON; 1.6 wants the bare
     * address and reads stdout+stderr together, so nothing else may be printed. */
    if (getenv("MAX_SHIM_VERSION"))
        printf("{\"version\":2,\"address\":\"unix://%s\",\"protocol\":\"ttrpc\"}", path);
    else
        printf("unix://%s", path);
    fflush(stdout);
}

int shim_start(const struct shim_opts *o, const struct reaper_config *cfg, rerr **err)
{
    if (o->id == NULL)
        return rerr_setx(err, EINVAL, "start: -id is required");
    const char *bundle = o->bundle ? o->bundle : ".";
    _cleanup_free_ char *group = group_of(bundle, o->id, err);
    if (group == NULL)
        return rerr_wrap(err, "start %s", o->id);
    _cleanup_free_ char *path = shim_socket_path(cfg, o->address, o->ns, group);
    _cleanup_free_ char *address = xasprintf("unix://%s", path);
    _cleanup_free_ char *address_file = xasprintf("%s/address", bundle);
    int fd = claim_socket(path, err);
    if (fd < 0 && fd != -EADDRINUSE)
        return rerr_wrap(err, "start %s", o->id);
    int r = write_file_replace(address_file, address, strlen(address), 0644, err);
    if (r == 0 && fd >= 0)
        r = spawn_daemon(o, fd, path, err);
    if (fd >= 0)
        close(fd);
    if (r < 0)
        return rerr_wrap(err, "start %s", o->id);
    print_address(path);
    return 0;
}
