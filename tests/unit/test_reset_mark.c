/* Reset marks (reset_mark.c) and the destroy/sweep they hook into (overlay.c): files only, no
 * mounts (a destroy of a never-pinned overlay needs no privilege). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "overlay.h"
#include "reset_mark.h"
#include "util.h"

struct fixture {
    char *tmp;
    struct reaper_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/reaper-test-reset-mark-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    f->cfg.runtime_root = xasprintf("%s/run", tmpl);
    f->cfg.overlay_base = xasprintf("%s/base", tmpl);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rm_rf(f->tmp, NULL), 0);
    free(f->tmp);
    free(f->cfg.runtime_root);
    free(f->cfg.overlay_base);
    free(f);
    return 0;
}

static char *path_in(const struct fixture *f, const char *rel)
{
    return xasprintf("%s/%s", f->tmp, rel);
}

static bool exists(const struct fixture *f, const char *rel)
{
    _cleanup_free_ char *p = path_in(f, rel);
    return access(p, F_OK) == 0;
}

static int write_mark(const struct reaper_config *cfg, const char *ns, const char *name,
                      const struct reset_mark *m, rerr **err)
{
    int r = reset_mark_prepare(cfg, ns, name, m, err);
    return r < 0 ? r : reset_mark_commit(cfg, ns, name, err);
}

static void test_write_read_remove(void **state)
{
    struct fixture *f = *state;
    struct reset_mark m = {.uid = "0b7c-uid", .generation = 3, .request = 7}, got = {0};
    rerr *e = NULL;
    assert_int_equal(reset_mark_read(&f->cfg, "team", "cache", &got, &e), 0); /* none yet */
    assert_int_equal(reset_mark_prepare(&f->cfg, "team", "cache", &m, &e), 0);
    assert_true(exists(f, "base/.resets/.team_cache.tmp"));
    assert_int_equal(reset_mark_read(&f->cfg, "team", "cache", &got, &e), 0); /* prepared only */
    assert_int_equal(reset_mark_commit(&f->cfg, "team", "cache", &e), 0);
    assert_false(exists(f, "base/.resets/.team_cache.tmp"));
    _cleanup_free_ char *path = path_in(f, "base/.resets/team_cache");
    _cleanup_free_ char *text = NULL;
    assert_int_equal(read_file(path, 100, &text, NULL, &e), 0);
    assert_string_equal(text, "0b7c-uid 3 7\n");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(reset_mark_read(&f->cfg, "team", "cache", &got, &e), 1);
    assert_string_equal(got.uid, "0b7c-uid");
    assert_int_equal(got.generation, 3);
    assert_int_equal(got.request, 7);

    struct reset_mark other = {.uid = "u2", .generation = 1};
    assert_int_equal(write_mark(&f->cfg, "team", "other", &other, &e), 0);
    assert_int_equal(reset_mark_prepare(&f->cfg, "team", "cache", &other, &e), 0);
    assert_int_equal(reset_mark_remove(&f->cfg, "team", "cache", &e), 0);
    assert_false(exists(f, "base/.resets/team_cache"));
    assert_false(exists(f, "base/.resets/.team_cache.tmp")); /* a prepared one goes too */
    assert_true(exists(f, "base/.resets/team_other"));       /* another object's mark stays */
    assert_int_equal(reset_mark_remove(&f->cfg, "team", "cache", &e), 0); /* none: fine */
    assert_int_equal(reset_mark_remove(&f->cfg, "team", "other", &e), 0);
    assert_false(exists(f, "base/.resets")); /* nothing left behind */
    assert_true(exists(f, "base"));
    assert_null(e);
}

static void test_default_base(void **state)
{
    struct fixture *f = *state;
    struct reaper_config c = {.runtime_root = f->cfg.runtime_root};
    struct reset_mark m = {.uid = "u", .generation = 1};
    rerr *e = NULL;
    assert_int_equal(write_mark(&c, "ns", "o", &m, &e), 0);
    assert_true(exists(f, "run/overlay/.resets/ns_o"));
    assert_int_equal(reset_mark_remove(&c, "ns", "o", &e), 0);
    assert_false(exists(f, "run/overlay/.resets"));
}

static void test_covers(void **state)
{
    (void)state;
    struct reset_mark done = {.uid = "u", .generation = 2, .request = 5};
    struct reset_mark want = done;
    assert_true(reset_mark_covers(&done, &want));
    want.generation = 1; /* an older reset: done too */
    assert_true(reset_mark_covers(&done, &want));
    want.generation = 3;
    assert_false(reset_mark_covers(&done, &want));
    want.generation = 2;
    want.request = 6; /* the controller asked for one more */
    assert_false(reset_mark_covers(&done, &want));
    want.request = 5;
    strcpy(want.uid, "v"); /* the object was deleted and created again */
    assert_false(reset_mark_covers(&done, &want));
}

static void test_malformed_and_invalid(void **state)
{
    struct fixture *f = *state;
    rerr *e = NULL;
    struct reset_mark got = {.generation = 42};
    const char *bad[] = {"", "u 1\n", "u 1 2", "u x 2\n", "u -1 0\n", "u 1 2 3\n"};
    _cleanup_free_ char *dir = path_in(f, "base/.resets");
    _cleanup_free_ char *path = path_in(f, "base/.resets/ns_o");
    assert_int_equal(mkdir_p(dir, 0700, &e), 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(write_file_atomic(path, bad[i], strlen(bad[i]), 0600, &e), 0);
        assert_int_equal(reset_mark_read(&f->cfg, "ns", "o", &got, &e), -EINVAL);
        assert_non_null(strstr(rerr_msg(e), "reset mark "));
        assert_non_null(strstr(rerr_msg(e), "ns_o: malformed"));
        rerr_free(e);
        e = NULL;
        assert_int_equal(got.generation, 42); /* untouched on failure */
    }
    struct reset_mark m = {.uid = "u", .generation = 1};
    assert_int_equal(reset_mark_prepare(&f->cfg, "../x", "o", &m, &e), -EINVAL);
    assert_string_equal(rerr_msg(e), "reset mark: invalid overlay \"../x/o\"");
    rerr_free(e);
    e = NULL;
    assert_int_equal(reset_mark_read(&f->cfg, "ns", "a_b", &got, &e), -EINVAL);
    rerr_free(e);
    e = NULL;
    struct reset_mark spaced = {.uid = "a b", .generation = 1};
    assert_int_equal(reset_mark_prepare(&f->cfg, "ns", "o", &spaced, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "invalid uid \"a b\""));
    rerr_free(e);
}

static void make_layers(const struct fixture *f)
{
    const char *dirs[] = {"base/team/cache/upper/data", "base/team/cache/work/w"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = path_in(f, dirs[i]);
        assert_int_equal(mkdir_p(d, 0700, NULL), 0);
    }
}

struct seen {
    const struct fixture *f;
    bool layers, trash;
    int calls;
};

static int record(void *ud, rerr **err)
{
    struct seen *s = ud;
    s->calls++;
    s->layers = exists(s->f, "base/team/cache/upper") || exists(s->f, "base/team/cache/work");
    s->trash = exists(s->f, "base/team/cache/.discard-upper/data") &&
               exists(s->f, "base/team/cache/.discard-work/w");
    return reset_mark_commit(&s->f->cfg, "team", "cache", err);
}

static void test_destroy_marks_with_layers_aside(void **state)
{
    struct fixture *f = *state;
    make_layers(f);
    struct workload_identity id = {.k8s_namespace = "team", .overlay_name = "cache"};
    struct seen s = {.f = f};
    rerr *e = NULL;
    struct reset_mark m = {.uid = "u", .generation = 1};
    assert_int_equal(reset_mark_prepare(&f->cfg, "team", "cache", &m, &e), 0);
    assert_int_equal(overlay_destroy(&f->cfg, &id, record, &s, &e), 0);
    assert_int_equal(s.calls, 1);
    assert_false(s.layers); /* called with the layers moved aside, not yet deleted */
    assert_true(s.trash);
    assert_true(exists(f, "base/.resets/team_cache"));
    assert_false(exists(f, "base/team")); /* layers and emptied directories gone */
    assert_false(exists(f, "run/locks/team_cache.lock"));
    assert_null(e);
}

static int refuse(void *ud, rerr **err)
{
    (void)ud;
    return rerr_setx(err, ENOSPC, "mark refused");
}

static void test_destroy_callback_error(void **state)
{
    struct fixture *f = *state;
    make_layers(f);
    struct workload_identity id = {.k8s_namespace = "team", .overlay_name = "cache"};
    rerr *e = NULL;
    assert_int_equal(overlay_destroy(&f->cfg, &id, refuse, NULL, &e), -ENOSPC);
    assert_string_equal(rerr_msg(e), "mark refused");
    rerr_free(e);
    assert_false(exists(f, "base/team")); /* the trash is deleted all the same */
}

static void test_sweep(void **state)
{
    struct fixture *f = *state;
    struct workload_identity id = {.k8s_namespace = "team", .overlay_name = "cache"};
    rerr *e = NULL;
    /* A destroy killed while deleting: the layer aside, the lock file still there. */
    const char *left[] = {"base/team/cache/.discard-upper/data", "base/team/cache/.discard-work",
                          "run/locks"};
    for (size_t i = 0; i < ARRAY_SIZE(left); i++) {
        _cleanup_free_ char *d = path_in(f, left[i]);
        assert_int_equal(mkdir_p(d, 0700, &e), 0);
    }
    _cleanup_free_ char *lock = path_in(f, "run/locks/team_cache.lock");
    assert_int_equal(write_file_atomic(lock, "", 0, 0600, &e), 0);
    assert_int_equal(overlay_sweep(&f->cfg, &id, &e), 0);
    assert_false(exists(f, "base/team"));
    assert_false(exists(f, "run/locks/team_cache.lock"));

    /* Recreated since: its layers stay, only the trash goes. */
    make_layers(f);
    _cleanup_free_ char *trash = path_in(f, "base/team/cache/.discard-upper");
    assert_int_equal(mkdir_p(trash, 0700, &e), 0);
    assert_int_equal(overlay_sweep(&f->cfg, &id, &e), 0);
    assert_true(exists(f, "base/team/cache/upper/data"));
    assert_false(exists(f, "base/team/cache/.discard-upper"));
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_base, setup, teardown),
        cmocka_unit_test(test_covers),
        cmocka_unit_test_setup_teardown(test_malformed_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_marks_with_layers_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_callback_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
