/* What containerd's Checkpoint request options become for the checkpoint library. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_opts.h"
#include "runc.pb-c.h"
#include "util.h"

#define RUNC_TYPE     "containerd.runc.v1.CheckpointOptions"
#define PREFIXED_TYPE "types.example.com/containerd.runc.v1.CheckpointOptions"

struct packed {
    uint8_t *data;
    size_t len;
};

static struct packed pack(const Reaper__Runc__CheckpointOptions *o)
{
    struct packed p = {.len = reaper__runc__checkpoint_options__get_packed_size(o)};
    p.data = xmalloc(p.len + 1);
    reaper__runc__checkpoint_options__pack(o, p.data);
    return p;
}

static int parse(const char *path, const char *type, const Reaper__Runc__CheckpointOptions *o,
                 struct ckpt_request *out, rerr **err)
{
    struct packed p = o ? pack(o) : (struct packed){0};
    int r = ckpt_request_parse(path, type, p.data, p.len, out, err);
    free(p.data);
    return r;
}

/* ctr 1.6 on a non-runc runtime: no options; the image goes to containerd's temp dir. */
static void test_no_options(void **state)
{
    struct ckpt_request r;
    assert_int_equal(parse("/tmp/ctd-checkpoint1", NULL, NULL, &r, NULL), 0);
    assert_string_equal(r.opts.image_path, "/tmp/ctd-checkpoint1");
    assert_null(r.opts.work_path);
    assert_true(r.opts.leave_running);
    assert_false(r.opts.tcp_established || r.opts.file_locks || r.opts.ext_unix_sk);
    ckpt_request_free(&r);
}

static void test_every_option(void **state)
{
    Reaper__Runc__CheckpointOptions o = REAPER__RUNC__CHECKPOINT_OPTIONS__INIT;
    o.exit = true, o.open_tcp = true, o.external_unix_sockets = true, o.file_locks = true;
    o.terminal = true, o.cgroups_mode = "soft";
    o.image_path = "/var/lib/ckpt/a", o.work_path = "/var/lib/ckpt/work";
    static const char *const types[] = {RUNC_TYPE, PREFIXED_TYPE,
                                        "containerd.linux.runc.CheckpointOptions"};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        struct ckpt_request r;
        assert_int_equal(parse("/tmp/ctd-checkpoint2", types[i], &o, &r, NULL), 0);
        assert_string_equal(r.opts.image_path, "/var/lib/ckpt/a"); /* image_path wins */
        assert_string_equal(r.opts.work_path, "/var/lib/ckpt/work");
        assert_false(r.opts.leave_running);
        assert_true(r.opts.tcp_established && r.opts.file_locks && r.opts.ext_unix_sk);
        ckpt_request_free(&r);
    }
}

/* containerd's Go client (container.Checkpoint) sends its defaults: file_locks, keep running. */
static void test_defaults_keep_path(void **state)
{
    Reaper__Runc__CheckpointOptions o = REAPER__RUNC__CHECKPOINT_OPTIONS__INIT;
    o.file_locks = true;
    struct ckpt_request r;
    assert_int_equal(parse("/run/x/ckpt", RUNC_TYPE, &o, &r, NULL), 0);
    assert_string_equal(r.opts.image_path, "/run/x/ckpt");
    assert_null(r.opts.work_path);
    assert_true(r.opts.leave_running && r.opts.file_locks);
    assert_false(r.opts.tcp_established || r.opts.ext_unix_sk);
    ckpt_request_free(&r);
}

static void assert_refused(const char *path, const char *type,
                           const Reaper__Runc__CheckpointOptions *o, const char *needle)
{
    struct ckpt_request r = {0};
    rerr *err = NULL;
    assert_int_equal(parse(path, type, o, &r, &err), -EINVAL);
    if (strstr(rerr_msg(err), needle) == NULL)
        fail_msg("\"%s\" does not name \"%s\"", rerr_msg(err), needle);
    assert_null(r.image_path); /* nothing half-written */
    rerr_free(err);
}

static void test_refused(void **state)
{
    Reaper__Runc__CheckpointOptions o = REAPER__RUNC__CHECKPOINT_OPTIONS__INIT;
    assert_refused("", NULL, NULL, "no image path");
    assert_refused("relative/dir", NULL, NULL, "relative/dir");
    assert_refused("/x", "containerd.runhcs.v1.CheckpointOptions", &o, "runhcs");
    char *ns[] = {"network"};
    o.n_empty_namespaces = 1, o.empty_namespaces = ns;
    assert_refused("/x", RUNC_TYPE, &o, "empty_namespaces (network)");
    o.n_empty_namespaces = 0, o.cgroups_mode = "loose";
    assert_refused("/x", RUNC_TYPE, &o, "cgroups_mode \"loose\"");
    o.cgroups_mode = "", o.work_path = "work";
    assert_refused("/x", RUNC_TYPE, &o, "work_path \"work\"");
    o.work_path = "", o.image_path = "img";
    assert_refused("/x", RUNC_TYPE, &o, "\"img\"");
    /* not a CheckpointOptions message at all */
    struct ckpt_request r;
    rerr *err = NULL;
    const uint8_t junk[] = {0x0a, 0x7f};
    assert_int_equal(ckpt_request_parse("/x", RUNC_TYPE, junk, sizeof(junk), &r, &err), -EINVAL);
    assert_non_null(strstr(rerr_msg(err), "cannot decode"));
    rerr_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_options),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_defaults_keep_path),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
