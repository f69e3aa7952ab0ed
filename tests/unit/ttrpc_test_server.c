/* Test ttrpc server: poll() over a listener, an eventfd for stop, and up to 16 connections. */
#include "ttrpc_test_server.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define MAX_CONNS 16

struct test_server {
    int lfd, stopfd;
    bool die;
    ttrpc_handler_fn handler;
    void *user;
    struct ttrpc_conn *conns[MAX_CONNS];
    pthread_t thread;
};

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
        abort(); /* the test cannot go on without its server */
    return fd;
}

static void accept_one(struct test_server *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++)
        if (!s->conns[i]) {
            s->conns[i] = ttrpc_conn_new(fd, s->handler, s->user);
            return;
        }
    close(fd);
}

static void serve_conn(struct test_server *s, int i, short revents)
{
    int r = 0;
    if (revents & (POLLIN | POLLHUP | POLLERR))
        r = ttrpc_conn_on_readable(s->conns[i]);
    if (r == 0 && (revents & POLLOUT))
        r = ttrpc_conn_on_writable(s->conns[i]);
    if (r < 0) {
        ttrpc_conn_close(s->conns[i]);
        s->conns[i] = NULL;
    }
}

static void *server_main(void *arg)
{
    struct test_server *s = arg;
    while (!s->die) {
        struct pollfd p[MAX_CONNS + 2] = {{s->stopfd, POLLIN, 0}, {s->lfd, POLLIN, 0}};
        for (int i = 0; i < MAX_CONNS; i++) {
            p[i + 2].fd = s->conns[i] ? ttrpc_conn_fd(s->conns[i]) : -1;
            p[i + 2].events =
                POLLIN | (s->conns[i] && ttrpc_conn_wants_write(s->conns[i]) ? POLLOUT : 0);
        }
        if (poll(p, MAX_CONNS + 2, -1) < 0 || p[0].revents)
            break;
        if (p[1].revents)
            accept_one(s);
        for (int i = 0; i < MAX_CONNS && !s->die; i++)
            if (s->conns[i] && p[i + 2].revents)
                serve_conn(s, i, p[i + 2].revents);
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i])
            ttrpc_conn_close(s->conns[i]);
    close(s->lfd);
    return NULL;
}

struct test_server *test_server_start(const char *path, ttrpc_handler_fn handler, void *user)
{
    struct test_server *s = xcalloc(1, sizeof(*s));
    s->lfd = listen_on(path);
    s->stopfd = eventfd(0, EFD_CLOEXEC);
    s->handler = handler;
    s->user = user;
    if (s->stopfd < 0 || pthread_create(&s->thread, NULL, server_main, s) != 0)
        abort();
    return s;
}

void test_server_die(struct test_server *s)
{
    s->die = true;
}

void test_server_stop(struct test_server *s)
{
    uint64_t one = 1;
    if (write(s->stopfd, &one, sizeof(one)) != sizeof(one))
        abort();
    pthread_join(s->thread, NULL);
    close(s->stopfd);
    free(s);
}
