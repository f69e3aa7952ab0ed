/* Which OCI mounts Reaper applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mounts.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_mounts_apply),
        cmocka_unit_test(test_special_filesystems_skipped),
        cmocka_unit_test(test_resolv_conf_depends_on_dns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
