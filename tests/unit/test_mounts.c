/* Which OCI mounts Reaper applies, and where their mount points resolve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "util.h"
#include "root_mount.h"

static bool applies(const char *type, char **options, bool bind, const char *dest,
                    enum dns_mode dns, const char **why)
{
    struct oci_mount m = {.destination = (char *)dest,
                          .source = "/src",
                          .type = (char *)type,
                          .options = options,
                          .bind = bind};
    return mounts_should_apply(&m, dns, why);
}

static void test_bind_mounts_apply(void **state)
{
    const char *why = "unset";
    assert_true(applies("bind", NULL, false, "/data", DNS_HOST, &why));
    assert_null(why);
    char *rbind[] = {"rbind", "ro", NULL};
    assert_true(applies(NULL, rbind, false, "/data", DNS_HOST, NULL));
    char *bind[] = {"bind", NULL};
    assert_true(applies("none", bind, false, "/etc/hosts", DNS_HOST, NULL));
    assert_true(applies(NULL, NULL, true, "/data", DNS_HOST, NULL));
}

static void test_special_filesystems_skipped(void **state)
{
    static const char *const types[] = {"proc", "sysfs", "devpts", "mqueue", "tmpfs", "cgroup"};
    char *opts[] = {"nosuid", "noexec", NULL};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *why = NULL;
        assert_false(applies(types[i], opts, false, "/proc", DNS_KUBERNETES, &why));
        assert_non_null(strstr(why, "not a bind mount"));
    }
}

static void test_resolv_conf_depends_on_dns(void **state)
{
    const char *why = NULL;
    assert_false(applies("bind", NULL, true, "/etc/resolv.conf", DNS_HOST, &why));
    assert_non_null(strstr(why, "dns mode host"));
    assert_true(applies("bind", NULL, true, "/etc/resolv.conf", DNS_KUBERNETES, &why));
    assert_false(applies("bind", NULL, true, "relative", DNS_KUBERNETES, &why));
}

/* The path an O_PATH fd refers to. */
static char *fd_path(int fd)
{
    char link[64], *out = xcalloc(1, PATH_MAX);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    assert_true(n > 0);
    return out;
}

static void test_mount_point_follows_symlinks_and_creates(void **state)
{
    char dir[] = "/tmp/reaper-point-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *real = xasprintf("%s/real", dir);
    _cleanup_free_ char *lnk = xasprintf("%s/lnk", dir);
    _cleanup_free_ char *dang = xasprintf("%s/dang", dir);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(symlink(real, lnk), 0);       /* like /var/lock -> /run/lock */
    assert_int_equal(symlink("new/sub", dang), 0); /* relative and dangling */
    rerr *e = NULL;
    int fd = mount_point_open(lnk, true, &e);
    assert_true(fd >= 0);
    _cleanup_free_ char *p1 = fd_path(fd);
    assert_string_equal(p1, real);
    close(fd);
    fd = mount_point_open(dang, true, &e); /* the link's target is created */
    assert_true(fd >= 0);
    _cleanup_free_ char *p2 = fd_path(fd);
    _cleanup_free_ char *want = xasprintf("%s/new/sub", dir);
    assert_string_equal(p2, want);
    close(fd);
    _cleanup_free_ char *file = xasprintf("%s/a/b/file/", dir); /* parents, trailing slash */
    fd = mount_point_open(file, false, &e);
    assert_true(fd >= 0);
    close(fd);
    struct stat st;
    file[strlen(file) - 1] = '\0';
    assert_int_equal(stat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    _cleanup_rerr_ rerr *rm = NULL;
    assert_int_equal(rm_rf(dir, &rm), 0);
}

static const char MOUNTINFO[] =
    "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 26 0:40 / /run rw,nosuid - tmpfs tmpfs rw\n"
    "41 40 0:40 /reaper /run/reaper rw master:3 - tmpfs tmpfs rw\n"
    "42 40 0:41 / /run/my\\040dir rw shared:7 master:2 - tmpfs tmpfs rw\n"
    "43 41 0:40 /reaper /run/reaper rw shared:9 - tmpfs tmpfs rw\n";

static void test_root_mount_inspect(void **state)
{
    bool is_mount, shared;
    root_mount_inspect(MOUNTINFO, "/run", &is_mount, &shared);
    assert_true(is_mount);
    assert_false(shared); /* the mount holding it is not what counts */
    root_mount_inspect(MOUNTINFO, "/run/reaper", &is_mount, &shared);
    assert_true(is_mount);
    assert_true(shared); /* the last entry is the mount on top */
    root_mount_inspect(MOUNTINFO, "/run/my dir", &is_mount, &shared);
    assert_true(is_mount);
    assert_true(shared);
    root_mount_inspect(MOUNTINFO, "/run/reaper/ns", &is_mount, &shared);
    assert_false(is_mount);
    assert_false(shared);
    root_mount_inspect("41 40 0:40 / /x rw master:3 - tmpfs tmpfs rw shared:1\n", "/x", &is_mount,
                       &shared);
    assert_true(is_mount);
    assert_false(shared); /* after "-" come filesystem fields, not propagation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_mounts_apply),
        cmocka_unit_test(test_special_filesystems_skipped),
        cmocka_unit_test(test_resolv_conf_depends_on_dns),
        cmocka_unit_test(test_mount_point_follows_symlinks_and_creates),
        cmocka_unit_test(test_root_mount_inspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
