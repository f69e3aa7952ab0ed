/*
 * One direction of a workload's IO (pipe -> FIFO, FIFO -> pipe, pty <-> FIFO), copied by the
 * event loop without blocking: backpressure moves interest between source and destination.
 * When the process exits the copier is told to drain: it finishes once the source reports EOF,
 * or has nothing more buffered (background children may still hold the pipe open).
 */
#ifndef REAPER_SHIM_IOCOPY_H
#define REAPER_SHIM_IOCOPY_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

struct copier;
typedef void (*copier_done_fn)(struct copier *c, void *data);

struct copier {
    struct loop *loop;
    struct watch src, dst;
    char *buf;
    size_t len, off;
    bool draining, done, dst_broken;
    int fifo_path; /* O_PATH of a one-page destination FIFO to linger on, or -1 */
    bool lingering;
    bool holding; /* no reader now, one will come back: we keep a read end so bytes survive */
    bool (*reader_returns)(void *data);
    copier_done_fn on_done;
    void *data;
};

/* Takes ownership of both fds (non-blocking, CLOEXEC) and starts copying. On failure (the
 * source cannot be watched) both are closed and the copier is finished without on_done. */
_must_check_ int copier_start(struct copier *c, struct loop *l, int src, int dst,
                              copier_done_fn on_done, void *data);
/*
 * The destination is a FIFO whose reader may stop reading soon after we report the exit
 * (containerd 1.6 CRI does): shrink it to one page and, once the source is done, finish only
 * when the reader has emptied it. With no reader left, ask reader_returns(data) (may be NULL):
 * true (containerd is restarting and will re-attach) holds the bytes, keeping a read end of our
 * own, until a new reader has emptied the FIFO; false finishes now. No-op if the FIFO cannot be
 * shrunk.
 */
void copier_linger_on_fifo(struct copier *c, bool (*reader_returns)(void *data));
/* Write data (malloc'd, taken over) to the destination before anything more read from the
 * source: a restored process's earlier output ahead of its new output. */
void copier_prefill(struct copier *c, char *data, size_t len);
/* The process exited: finish as soon as nothing more can arrive. on_done fires once. */
void copier_drain(struct copier *c);
/* Stop now and close both fds (safe on a zeroed or finished copier). */
void copier_close(struct copier *c);
bool copier_active(const struct copier *c);

#endif
