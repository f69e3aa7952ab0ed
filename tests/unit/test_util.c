#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "log.h"
#include "err.h"
#include "util.h"

static void test_rerr_wrap_and_codes(void **state)
{
    rerr *e = NULL;
    assert_int_equal(rerr_set(&e, ENOENT, "open %s", "/x"), -ENOENT);
    assert_string_equal(rerr_msg(e), "open /x: No such file or directory");
    assert_int_equal(rerr_wrap(&e, "create %s", "abc"), -ENOENT);
    assert_string_equal(rerr_msg(e), "create abc: open /x: No such file or directory");
    rerr_free(e);
    e = NULL;
    assert_int_equal(rerr_setx(&e, 0, "plain"), -EIO);
    assert_string_equal(rerr_msg(e), "plain");
    rerr_free(e);
}

static void test_parse_int(void **state)
{
    int64_t v;
    assert_int_equal(parse_int64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(parse_int64("101", 0, 100, &v), -ERANGE);
    assert_int_equal(parse_int64("4x", 0, 100, &v), -EINVAL);
    assert_int_equal(parse_int64("", 0, 100, &v), -EINVAL);
    assert_int_equal(parse_int64(" 1", 0, 100, &v), -EINVAL);
    uint32_t u;
    assert_int_equal(parse_uint32("-1", &u), -ERANGE);
}

static void test_strv_split(void **state)
{
    _cleanup_strv_ char **v = strv_split("::/a:/b::/c:", ":");
    assert_int_equal(strv_len(v), 3);
    assert_string_equal(v[0], "/a");
    assert_string_equal(v[2], "/c");
    assert_true(strv_contains(v, "/b"));
    assert_false(strv_contains(v, "/d"));
}

static void test_dns_label_and_valid_id(void **state)
{
    char long_label[65];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    const struct {
        const char *s;
        bool dns_label, valid_id;
    } cases[] = {
        {"default", true, true}, {"a-b-1", true, true},    {"abc123", true, true},
        {"-a", false, false},    {"a-", false, true},      {"A", false, true},
        {"a_b", false, true},    {"a.b_c-d", false, true}, {"", false, false},
        {"..", false, false},    {"a/b", false, false},    {long_label, false, true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        if (is_dns_label(cases[i].s) != cases[i].dns_label)
            fail_msg("is_dns_label(\"%s\") != %d", cases[i].s, cases[i].dns_label);
        if (is_valid_id(cases[i].s) != cases[i].valid_id)
            fail_msg("is_valid_id(\"%s\") != %d", cases[i].s, cases[i].valid_id);
    }
}

struct cl_target {
    const char *name, *ns;
    bool flag, elect;
    unsigned secs, out;
    enum log_level level;
};

static int run_cmdline(struct cl_target *t, char **argv)
{
    static const char *const outputs[] = {"text", "json", NULL};
    const struct cmdline_opt table[] = {
        {.name = "name", .kind = CL_STRING, .target = &t->name},
        {.name = "ns", .kind = CL_STRING_EMPTY, .target = &t->ns},
        {.name = "flag", .kind = CL_FLAG, .target = &t->flag},
        {.name = "elect", .kind = CL_BOOL, .target = &t->elect},
        {.name = "secs", .kind = CL_SECONDS, .target = &t->secs, .min = 1, .max = 10},
        {.name = "log-level", .kind = CL_LOG_LEVEL, .target = &t->level},
        {.name = "output", .kind = CL_CHOICE, .target = &t->out, .choices = outputs},
        {0},
    };
    const struct cmdline cl = {.program = "prog", .usage = "usage: prog\n", .opts = table};
    int argc = 0;
    while (argv[argc])
        argc++;
    optind = 0; /* a fresh getopt scan per call */
    return cmdline_parse(&cl, argc, argv);
}

static void test_cmdline(void **state)
{
    struct cl_target t = {.ns = "keep", .level = LOG_LVL_INFO};
    char *ok[] = {"prog",   "--name", "a",           "--ns=", "--flag", "--elect",
                  "--secs", "10",     "--log-level", "debug", NULL};
    assert_int_equal(run_cmdline(&t, ok), 0);
    assert_string_equal(t.name, "a");
    assert_null(t.ns); /* empty means unset */
    assert_true(t.flag && t.elect);
    assert_int_equal(t.secs, 10);
    assert_int_equal(t.level, LOG_LVL_DEBUG);
    char *off[] = {"prog", "--elect=false", "--output", "json", NULL};
    assert_int_equal(run_cmdline(&t, off), 0);
    assert_false(t.elect);
    assert_int_equal(t.out, 1);
    char *bad[][4] = {{"prog", "--secs", "11", NULL},  {"prog", "--secs", "0", NULL},
                      {"prog", "--elect=maybe", NULL}, {"prog", "--log-level", "loud", NULL},
                      {"prog", "--nope", NULL},        {"prog", "extra", NULL},
                      {"prog", "--name", NULL},        {"prog", "--output", "yaml", NULL}};
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "we"); /* the messages are for people */
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(run_cmdline(&t, bad[i]), -EINVAL);
    fclose(stderr);
    stderr = saved;
    assert_int_equal(t.secs, 10); /* a rejected value leaves the target alone */
}

/* A wrapper's own options end at the command it runs; repeated options collect. */
static void test_cmdline_stop_at_operand(void **state)
{
    _cleanup_strv_ char **allow = NULL;
    const struct cmdline_opt table[] = {
        {.name = "allow", .kind = CL_STRV, .target = &allow},
        {0},
    };
    const struct cmdline cl = {.program = "prog",
                               .usage = "usage: prog [--allow P]... CMD ARGS...\n",
                               .opts = table,
                               .positionals = true,
                               .stop_at_operand = true};
    char *argv[] = {"prog", "--allow", "a", "--allow=b", "cmd", "--allow", "c", NULL};
    optind = 0;
    assert_int_equal(cmdline_parse(&cl, (int)ARRAY_SIZE(argv) - 1, argv), 0);
    assert_int_equal(strv_len(allow), 2);
    assert_string_equal(allow[0], "a");
    assert_string_equal(allow[1], "b");
    assert_string_equal(argv[optind], "cmd");
    assert_string_equal(argv[optind + 1], "--allow"); /* left for the command, not permuted */
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Replaces the content whole and leaves no temp file beside it. */
static void test_write_file_replace(void **state)
{
    char dir[] = "/tmp/reaper-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/state.json", dir);
    rerr *e = NULL;
    assert_int_equal(write_file_replace(path, "first, longer", 13, 0600, &e), 0);
    assert_int_equal(write_file_replace(path, "second", 6, 0600, &e), 0);
    _cleanup_free_ char *got = NULL;
    size_t len = 0;
    assert_int_equal(read_file(path, 100, &got, &len, &e), 0);
    assert_int_equal(len, 6);
    assert_string_equal(got, "second");
    assert_int_equal(entries(dir), 1);
    _cleanup_free_ char *missing = xasprintf("%s/no/such/dir/f", dir);
    assert_int_equal(write_file_replace(missing, "x", 1, 0600, &e), -ENOENT);
    rerr_free(e);
    unlink(path);
    rmdir(dir);
}

/* A deep call leaves filled stack pages (volatile stores: not elided); released, the deepest is
 * no longer resident. */
/* Not instrumented: with ASan's detect_stack_use_after_return the array would live on a fake
 * stack in the heap. */
static __attribute__((noinline, no_sanitize("address"))) void fill_deep_stack(uintptr_t *where)
{
    volatile char deep[64 * 1024];
    for (size_t i = 0; i < sizeof(deep); i += 64)
        deep[i] = (char)0xaa;
    *where = (uintptr_t)&deep[0]; /* an address to test, never dereferenced */
}

static bool page_resident(uintptr_t addr)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec = 0;
    assert_int_equal(mincore((void *)(addr & ~(uintptr_t)(page - 1)), 1, &vec), 0);
    return vec & 1;
}

static void test_release_dead_stack(void **state)
{
    uintptr_t deep = 0;
    fill_deep_stack(&deep);
    assert_true(page_resident(deep));
    release_dead_stack(128 * 1024);
    assert_false(page_resident(deep));
}

/* In a thread with a small stack, a depth larger than the stack stops at the stack's end:
 * the thread runs on, and memory mapped next to its stack keeps its content. */
static void *small_stack_thread(void *arg)
{
    uintptr_t deep = 0;
    fill_deep_stack(&deep);
    release_dead_stack(16u << 20);
    *(bool *)arg = !page_resident(deep);
    return NULL;
}

static void test_release_dead_stack_stays_in_the_thread_stack(void **state)
{
    size_t size = 256u << 10;
    char *mem = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    memset(mem, 0x5a, size); /* below the stack */
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstack(&a, mem + size, size);
    bool released = false;
    pthread_t t;
    assert_int_equal(pthread_create(&t, &a, small_stack_thread, &released), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
    assert_true(released);
    for (size_t i = 0; i < size; i += 4096)
        assert_int_equal(mem[i], 0x5a);
    munmap(mem, 2 * size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rerr_wrap_and_codes),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_cmdline_stop_at_operand),
        cmocka_unit_test(test_strv_split),
        cmocka_unit_test(test_dns_label_and_valid_id),
        cmocka_unit_test(test_write_file_replace),
        cmocka_unit_test(test_release_dead_stack),
        cmocka_unit_test(test_release_dead_stack_stays_in_the_thread_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
