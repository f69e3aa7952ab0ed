/* An in-process ttrpc server on a unix socket, run by a thread, for client-side unit tests. */
#ifndef REAPER_TTRPC_TEST_SERVER_H
#define REAPER_TTRPC_TEST_SERVER_H

#include "ttrpc.h"

struct test_server;

/* Listen on path (removed first) and serve every accepted connection with handler. */
struct test_server *test_server_start(const char *path, ttrpc_handler_fn handler, void *user);
/* From a handler: after this request, close every connection and the listener and end. */
void test_server_die(struct test_server *s);
/* Stop (if still running), join and free. */
void test_server_stop(struct test_server *s);

#endif
