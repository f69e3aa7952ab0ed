/*
 * linux.seccomp → libseccomp filter → exported BPF. Follows runc's reading of the object:
 * unknown syscall names are skipped (a profile lists syscalls of many kernels and arches), a
 * rule whose action equals the default action is skipped, errnoRet defaults to EPERM, and args
 * repeating an index become one rule per arg (any may match) instead of one rule with all.
 */
#include "seccomp_filter.h"
#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_SECCOMP "linux.seccomp"

int seccomp_action_from_name(const char *name, int errno_ret, uint32_t *action)
{
    uint16_t e = errno_ret >= 0 ? (uint16_t)errno_ret : EPERM;
    if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *action = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *action = SCMP_ACT_ERRNO(e);
    else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *action = SCMP_ACT_KILL_THREAD;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *action = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *action = SCMP_ACT_TRAP;
    else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        *action = SCMP_ACT_TRACE(e);
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *action = SCMP_ACT_LOG;
    else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
        return -ENOTSUP;
    else
        return -EINVAL;
    return 0;
}

int seccomp_op_from_name(const char *name, int *op)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE},
        {"SCMP_CMP_LT", SCMP_CMP_LT},
        {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ},
        {"SCMP_CMP_GE", SCMP_CMP_GE},
        {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, name) == 0) {
            *op = (int)ops[i].op;
            return 0;
        }
    return -EINVAL;
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}
#define _cleanup_scmp_ __attribute__((cleanup(ctx_releasep)))

/* action + errnoRet members of obj (the top level: defaultAction / defaultErrnoRet). */
static _must_check_ int read_action(const struct jctx *c, json_t *obj, const char *path,
                                    const char *key, const char *errno_key, uint32_t *action)
{
    _cleanup_free_ char *name = NULL;
    uint64_t e = 0;
    bool has_errno = false;
    int r = jget_string(c, obj, path, key, &name);
    if (r == 0)
        r = jget_u64(c, obj, path, errno_key, UINT16_MAX, &e, &has_errno);
    if (r < 0)
        return r;
    if (name == NULL)
        return jerr(c, path, key, "missing");
    r = seccomp_action_from_name(name, has_errno ? (int)e : -1, action);
    if (r == -ENOTSUP)
        return rerr_setx(c->err, ENOTSUP, "%s: %s.%s: %s is not supported by Reaper", c->doc, path,
                         key, name);
    if (r < 0)
        return jerr(c, path, key, "unknown action \"%s\"", name);
    return 0;
}

static _must_check_ int add_arches(const struct jctx *c, json_t *sc, scmp_filter_ctx ctx)
{
    _cleanup_strv_ char **arches = NULL;
    int r = jget_strv(c, sc, PATH_SECCOMP, "architectures", &arches);
    for (size_t i = 0; r == 0 && arches && arches[i]; i++) {
        const char *name = arches[i];
        _cleanup_free_ char *lower = xstrdup(str_startswith(name, "SCMP_ARCH_") ? name + 10 : name);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        uint32_t arch = seccomp_arch_resolve_name(lower);
        if (arch == 0)
            return jerr(c, PATH_SECCOMP, "architectures", "unknown architecture \"%s\"", name);
        int a = seccomp_arch_add(ctx, arch);
        if (a < 0 && a != -EEXIST)
            return rerr_set(c->err, -a, "%s: %s.architectures: add %s", c->doc, PATH_SECCOMP, name);
    }
    return r;
}

static _must_check_ int read_flags(const struct jctx *c, json_t *sc, unsigned *flags)
{
    _cleanup_strv_ char **names = NULL;
    int r = jget_strv(c, sc, PATH_SECCOMP, "flags", &names);
    for (size_t i = 0; r == 0 && names && names[i]; i++) {
        if (strcmp(names[i], "SECCOMP_FILTER_FLAG_LOG") == 0)
            *flags |= SECCOMP_FILTER_FLAG_LOG;
        else if (strcmp(names[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            *flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else if (strcmp(names[i], "SECCOMP_FILTER_FLAG_TSYNC") != 0) /* one thread: moot */
            return jerr(c, PATH_SECCOMP, "flags", "unsupported flag \"%s\"", names[i]);
    }
    return r;
}

struct rule {
    uint32_t action;
    struct scmp_arg_cmp args[6];
    unsigned n_args;
    bool any; /* an index repeats: one rule per arg */
};

static _must_check_ int read_arg(const struct jctx *c, json_t *e, const char *path,
                                 struct scmp_arg_cmp *out)
{
    if (!json_is_object(e))
        return jerr(c, path, NULL, "expected an object");
    uint64_t index = 0, value = 0, two = 0;
    bool has_index = false;
    _cleanup_free_ char *op = NULL;
    int r = jget_u64(c, e, path, "index", 5, &index, &has_index);
    if (r == 0)
        r = jget_u64(c, e, path, "value", UINT64_MAX, &value, NULL);
    if (r == 0)
        r = jget_u64(c, e, path, "valueTwo", UINT64_MAX, &two, NULL);
    if (r == 0)
        r = jget_string(c, e, path, "op", &op);
    if (r < 0)
        return r;
    int cmp;
    if (!has_index || op == NULL)
        return jerr(c, path, has_index ? "op" : "index", "missing");
    if (seccomp_op_from_name(op, &cmp) < 0)
        return jerr(c, path, "op", "unknown operator \"%s\"", op);
    *out = (struct scmp_arg_cmp){
        .arg = (unsigned)index, .op = (enum scmp_compare)cmp, .datum_a = value, .datum_b = two};
    return 0;
}

static _must_check_ int read_args(const struct jctx *c, json_t *e, const char *path,
                                  struct rule *rule)
{
    json_t *a = NULL;
    int r = jget_array(c, e, path, "args", &a);
    if (r < 0 || a == NULL)
        return r;
    _cleanup_free_ char *apath = jpath(path, "args");
    if (json_array_size(a) > ARRAY_SIZE(rule->args))
        return jerr(c, apath, NULL, "more than %zu conditions", ARRAY_SIZE(rule->args));
    size_t i;
    json_t *arg;
    unsigned seen = 0;
    json_array_foreach(a, i, arg)
    {
        _cleanup_free_ char *epath = jpath_index(apath, i);
        if ((r = read_arg(c, arg, epath, &rule->args[i])) < 0)
            return r;
        if (seen & (1u << rule->args[i].arg))
            rule->any = true;
        seen |= 1u << rule->args[i].arg;
        rule->n_args = (unsigned)i + 1;
    }
    return 0;
}

static _must_check_ int add_rule(const struct jctx *c, scmp_filter_ctx ctx, const char *path,
                                 const char *name, const struct rule *rule)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not a syscall of this kernel/arch: runc skips it too */
    int r;
    if (!rule->any) {
        r = seccomp_rule_add_array(ctx, rule->action, nr, rule->n_args, rule->args);
    } else {
        r = 0;
        for (unsigned i = 0; i < rule->n_args && r == 0; i++)
            r = seccomp_rule_add_array(ctx, rule->action, nr, 1, &rule->args[i]);
    }
    if (r < 0)
        return rerr_set(c->err, -r, "%s: %s: add rule for %s", c->doc, path, name);
    return 0;
}

static _must_check_ int add_syscall_entry(const struct jctx *c, scmp_filter_ctx ctx, json_t *e,
                                          const char *path, uint32_t default_action)
{
    if (!json_is_object(e))
        return jerr(c, path, NULL, "expected an object");
    _cleanup_strv_ char **names = NULL;
    _cleanup_free_ char *single = NULL;
    struct rule rule = {0};
    int r = jget_strv(c, e, path, "names", &names);
    if (r == 0)
        r = jget_string(c, e, path, "name", &single); /* pre-1.0 spelling */
    if (r == 0)
        r = read_action(c, e, path, "action", "errnoRet", &rule.action);
    if (r == 0)
        r = read_args(c, e, path, &rule);
    if (r < 0 || rule.action == default_action)
        return r;
    for (size_t i = 0; names && names[i]; i++)
        if ((r = add_rule(c, ctx, path, names[i], &rule)) < 0)
            return r;
    return single ? add_rule(c, ctx, path, single, &rule) : 0;
}

static _must_check_ int add_syscalls(const struct jctx *c, json_t *sc, scmp_filter_ctx ctx,
                                     uint32_t default_action)
{
    json_t *a = NULL;
    int r = jget_array(c, sc, PATH_SECCOMP, "syscalls", &a);
    if (r < 0 || a == NULL)
        return r;
    _cleanup_free_ char *apath = jpath(PATH_SECCOMP, "syscalls");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        _cleanup_free_ char *epath = jpath_index(apath, i);
        if ((r = add_syscall_entry(c, ctx, e, epath, default_action)) < 0)
            return r;
    }
    return 0;
}

/* seccomp_export_bpf writes to an fd: a memfd, read back into memory. */
static _must_check_ int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *out, rerr **err)
{
    _cleanup_close_ int fd = memfd_create("reaper-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "memfd_create for the seccomp filter");
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return rerr_set(err, -r, "export the seccomp filter");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rerr_set(err, errno, "stat the seccomp filter");
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n == 0 || n > BPF_MAXINSNS)
        return rerr_setx(err, E2BIG, "seccomp filter has %zu instructions (max %d)", n,
                         BPF_MAXINSNS);
    struct sock_filter *insns = xcalloc(n, sizeof(*insns));
    ssize_t got = pread(fd, insns, n * sizeof(*insns), 0);
    if (got != (ssize_t)(n * sizeof(*insns))) {
        free(insns);
        return rerr_set(err, got < 0 ? errno : EIO, "read the seccomp filter");
    }
    out->insns = insns;
    out->len = (unsigned short)n;
    return 0;
}

static _must_check_ int compile_object(const struct jctx *c, json_t *sc, struct seccomp_prog *out)
{
    uint32_t def;
    unsigned flags = 0;
    int r = read_action(c, sc, PATH_SECCOMP, "defaultAction", "defaultErrnoRet", &def);
    if (r == 0)
        r = read_flags(c, sc, &flags);
    if (r < 0)
        return r;
    if (json_object_get(sc, "listenerPath"))
        return rerr_setx(c->err, ENOTSUP, "%s: %s.listenerPath is not supported by Reaper", c->doc,
                         PATH_SECCOMP);
    _cleanup_scmp_ scmp_filter_ctx ctx = seccomp_init(def);
    if (ctx == NULL)
        return rerr_setx(c->err, EINVAL, "%s: %s: seccomp_init failed", c->doc, PATH_SECCOMP);
    /* no_new_privs is the spec's own choice (process.noNewPrivileges), not libseccomp's. */
    if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
        return rerr_set(c->err, -r, "seccomp: clear SCMP_FLTATR_CTL_NNP");
    if ((r = add_arches(c, sc, ctx)) < 0 || (r = add_syscalls(c, sc, ctx, def)) < 0)
        return r;
    struct seccomp_prog prog = {.flags = flags};
    if ((r = export_prog(ctx, &prog, c->err)) < 0)
        return r;
    *out = prog;
    return 0;
}

int seccomp_compile(const char *json, size_t len, struct seccomp_prog *out, rerr **err)
{
    const struct jctx c = {.doc = "config.json", .err = err};
    _cleanup_json_ json_t *sc = NULL;
    int r = jload(&c, json, len, &sc);
    if (r < 0)
        return r;
    return compile_object(&c, sc, out);
}

void seccomp_prog_clear(struct seccomp_prog *p)
{
    if (p == NULL)
        return;
    free(p->insns);
    p->insns = NULL;
    p->len = 0;
    p->flags = 0;
}

char *seccomp_prog_serialize(const struct seccomp_prog *p, size_t *len)
{
    uint32_t flags = p->flags;
    size_t n = p->len * sizeof(*p->insns);
    char *buf = xcalloc(1, sizeof(flags) + n);
    memcpy(buf, &flags, sizeof(flags));
    memcpy(buf + sizeof(flags), p->insns, n);
    *len = sizeof(flags) + n;
    return buf;
}

int seccomp_prog_deserialize(const char *buf, size_t len, struct seccomp_prog *out, rerr **err)
{
    uint32_t flags;
    size_t body = len - sizeof(flags);
    size_t n = body / sizeof(struct sock_filter);
    if (len < sizeof(flags) || body % sizeof(struct sock_filter) || n == 0 || n > BPF_MAXINSNS)
        return rerr_setx(err, EINVAL, "not a seccomp program (%zu bytes)", len);
    memcpy(&flags, buf, sizeof(flags));
    struct sock_filter *insns = xcalloc(n, sizeof(*insns));
    memcpy(insns, buf + sizeof(flags), body);
    *out = (struct seccomp_prog){.insns = insns, .len = (unsigned short)n, .flags = flags};
    return 0;
}

int seccomp_prog_install(const struct seccomp_prog *p, rerr **err)
{
    struct sock_fprog fprog = {.len = p->len, .filter = p->insns};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &fprog) < 0)
        return rerr_set(err, errno, "load the seccomp filter (linux.seccomp)");
    return 0;
}
