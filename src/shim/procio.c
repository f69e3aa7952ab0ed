#include "procio.h"
#include "cleanup.h"
#include "console.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static _must_check_ int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* containerd passes plain FIFO paths or fifo:// URIs; other schemes need a logging binary.
 * Output FIFOs are opened read-write so they survive a reader restart (containerd restart).
 * stdin is read-only: the client closing its end is how `ctr run` ends input (EOF), and epoll
 * reports nothing on a FIFO whose writer has not connected yet. */
static _must_check_ int open_fifo(const char *uri, bool is_stdin, int *out, rerr **err)
{
    const char *path = str_startswith(uri, "fifo://") ? uri + 7 : uri;
    if (strstr(path, "://"))
        return rerr_setx(err, ENOTSUP, "IO %s: only FIFO paths are supported", uri);
    int fd = open(path, (is_stdin ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "open IO %s", path);
    *out = fd;
    return 0;
}

static _must_check_ int make_pipe(int *child_end, int *shim_end, bool child_reads, rerr **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return rerr_set(err, errno, "pipe");
    *child_end = child_reads ? p[0] : p[1];
    *shim_end = child_reads ? p[1] : p[0];
    return set_nonblock(*shim_end);
}

static const char *path_of(const struct proc_stdio *io, int i)
{
    const char *p = i == 0 ? io->stdin_path : i == 1 ? io->stdout_path : io->stderr_path;
    return p && *p ? p : NULL;
}

int procio_prepare(const struct proc_stdio *io, struct child_io *cio, rerr **err)
{
    for (int i = 0; i < 3; i++)
        cio->stdio[i] = cio->fifo[i] = cio->pipe_shim[i] = -1;
    cio->console_sock = cio->console_peer = -1;
    int r = 0;
    for (int i = 0; i < 3 && r == 0; i++)
        if (path_of(io, i))
            r = open_fifo(path_of(io, i), i == 0, &cio->fifo[i], err);
    if (r == 0 && io->terminal) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
            r = rerr_set(err, errno, "socketpair");
        else
            cio->console_sock = sp[0], cio->console_peer = sp[1];
    }
    for (int i = 0; i < 3 && r == 0 && !io->terminal; i++)
        if (cio->fifo[i] >= 0)
            r = make_pipe(&cio->stdio[i], &cio->pipe_shim[i], i == 0, err);
    if (r < 0)
        procio_discard(cio);
    return r;
}

void procio_discard(struct child_io *cio)
{
    for (int i = 0; i < 3; i++) {
        close_fd(&cio->stdio[i]);
        close_fd(&cio->fifo[i]);
        close_fd(&cio->pipe_shim[i]);
    }
    close_fd(&cio->console_sock);
    close_fd(&cio->console_peer);
}

/* Output goes into containerd's FIFO, which must be empty before the exit is reported. */
static _must_check_ int start_output(struct copier *c, struct loop *l, int src, int dst,
                                     copier_done_fn on_done, void *data)
{
    int r = copier_start(c, l, src, dst, on_done, data);
    if (r == 0)
        copier_linger_on_fifo(c);
    return r;
}

static void stdin_done(struct copier *c, void *data)
{
    copier_close(c); /* EOF for the process */
}

static _must_check_ int attach_terminal(struct proc *p, struct loop *l, struct child_io *cio,
                                        void (*out_done)(struct copier *c, void *data), rerr **err)
{
    int master = -1;
    _cleanup_free_ char *name = NULL;
    int r = console_recv_fd(cio->console_peer, &master, &name, err);
    if (r < 0)
        return rerr_wrap(err, "receive terminal");
    p->console = master;
    r = set_nonblock(master);
    if (r < 0)
        return rerr_set(err, -r, "terminal: O_NONBLOCK");
    if (cio->fifo[1] >= 0)
        r = start_output(&p->out, l, fcntl(master, F_DUPFD_CLOEXEC, 3), steal_fd(cio->fifo[1]),
                         out_done, p);
    if (r == 0 && cio->fifo[0] >= 0)
        r = copier_start(&p->in, l, steal_fd(cio->fifo[0]), fcntl(master, F_DUPFD_CLOEXEC, 3),
                         stdin_done, p);
    return r < 0 ? rerr_set(err, -r, "watch terminal io") : 0;
}

static _must_check_ int attach_pipes(struct proc *p, struct loop *l, struct child_io *cio,
                                     void (*out_done)(struct copier *c, void *data), rerr **err)
{
    int r = 0;
    if (cio->fifo[1] >= 0)
        r = start_output(&p->out, l, steal_fd(cio->pipe_shim[1]), steal_fd(cio->fifo[1]), out_done,
                         p);
    if (r == 0 && cio->fifo[2] >= 0)
        r = start_output(&p->err, l, steal_fd(cio->pipe_shim[2]), steal_fd(cio->fifo[2]), out_done,
                         p);
    if (r == 0 && cio->fifo[0] >= 0)
        r = copier_start(&p->in, l, steal_fd(cio->fifo[0]), steal_fd(cio->pipe_shim[0]), stdin_done,
                         p);
    return r < 0 ? rerr_set(err, -r, "watch process io") : 0;
}

int procio_attach(struct proc *p, struct loop *l, struct child_io *cio,
                  void (*out_done)(struct copier *c, void *data), rerr **err)
{
    for (int i = 0; i < 3; i++)
        close_fd(&cio->stdio[i]);
    close_fd(&cio->console_sock);
    int r = 0;
    if (cio->console_peer >= 0)
        r = attach_terminal(p, l, cio, out_done, err);
    else
        r = attach_pipes(p, l, cio, out_done, err);
    procio_discard(cio);
    return r;
}
