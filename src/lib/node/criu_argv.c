/* The command lines of `criu dump` and `criu restore`: pure, so the option mapping is tested. */
#include "criu.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

/* Flags CRIU needs on both dump and restore, in the same meaning. */
static void push_shared(char ***v, const char *image_dir, const char *work_dir, const char *log,
                        const struct checkpoint_opts *o)
{
    const char *fixed[] = {"-D", image_dir, "-W", work_dir ? work_dir : image_dir, "-o", log, "-v4",
                           /* host bind mounts (/dev, /proc, volumes) are bound back from the
                            * host instead of being copied into the image */
                           "--external", "mnt[]",
                           /* the workload stays in the caller's cgroup, as it was created */
                           "--manage-cgroups=ignore"};
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
        strv_push(v, fixed[i]);
    if (o && o->tcp_established)
        strv_push(v, "--tcp-established");
    if (o && o->file_locks)
        strv_push(v, "--file-locks");
    if (o && o->ext_unix_sk)
        strv_push(v, "--ext-unix-sk");
}

static void push_external(char ***v, const char *key, const char *value)
{
    char *arg = xasprintf("mnt[%s]:%s", key, value);
    strv_push(v, "--external");
    strv_push(v, arg);
    free(arg);
}

char **criu_dump_argv(const struct criu_dump_params *p)
{
    char **v = xcalloc(1, sizeof(char *));
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)p->pid);
    strv_push(&v, p->criu);
    strv_push(&v, "dump");
    strv_push(&v, "-t");
    strv_push(&v, pid);
    push_shared(&v, p->image_dir, p->work_dir, CRIU_DUMP_LOG, p->opts);
    for (size_t i = 0; p->ext_mounts && p->ext_mounts[i]; i++)
        push_external(&v, p->ext_mounts[i], p->ext_mounts[i]);
    if (p->opts && p->opts->leave_running)
        strv_push(&v, "--leave-running");
    return v;
}

char **criu_restore_argv(const struct criu_restore_params *p)
{
    char **v = xcalloc(1, sizeof(char *));
    strv_push(&v, p->criu);
    strv_push(&v, "restore");
    push_shared(&v, p->image_dir, p->work_dir, CRIU_RESTORE_LOG, p->opts);
    const char *fixed[] = {"--root", p->root, "--pidfile", p->pidfile,
                           /* criu returns once restored, the tree a child of our caller */
                           "--restore-detached", "--restore-sibling"};
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
        strv_push(&v, fixed[i]);
    for (size_t i = 0; p->inherit && p->inherit[i]; i++) {
        char *arg = xasprintf("fd[%zu]:%s", 3 + i, p->inherit[i]);
        strv_push(&v, "--inherit-fd");
        strv_push(&v, arg);
        free(arg);
    }
    for (size_t i = 0; i < p->n_ext_mounts; i++)
        push_external(&v, p->ext_mounts[i].key, p->ext_mounts[i].value);
    return v;
}
