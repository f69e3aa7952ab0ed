/* Wiring a process's stdio: FIFOs from containerd <-> pipes or a pty given to the process. */
#ifndef REAPER_SHIM_PROCIO_H
#define REAPER_SHIM_PROCIO_H

#include "err.h"
#include "task.h"

/* Fds handed to the child (stdio[3], console socket) and kept by the shim until spawn. */
struct child_io {
    int stdio[3];     /* child ends, -1 = /dev/null */
    int console_sock; /* child end of the console socketpair, or -1 */
    int console_peer; /* shim end */
    int fifo[3];      /* opened FIFOs, shim side */
    int pipe_shim[3]; /* shim ends of the pipes */
};

/* Open the FIFOs and make the pipes/socketpair before the process is spawned. */
_must_check_ int procio_prepare(const struct proc_stdio *io, struct child_io *cio, rerr **err);
/* After spawn: close the child ends, receive the pty master, start the copiers. */
_must_check_ int procio_attach(struct proc *p, struct loop *l, struct child_io *cio,
                               void (*out_done)(struct copier *c, void *data), rerr **err);
void procio_discard(struct child_io *cio);

#endif
