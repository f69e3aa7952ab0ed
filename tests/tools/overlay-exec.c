/*
 * Test-only: run a command the way the runtime will, inside an overlay namespace and a private
 * per-container mount namespace, with a config built from flags (no config file involved; the
 * flags are in USAGE below).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "config.h"
#include "mounts.h"
#include "oci_spec.h"
#include "overlay.h"
#include "util.h"

struct opts {
    struct reaper_config cfg;
    struct workload_identity id;
    struct oci_mount *mounts;
    size_t n_mounts;
    bool destroy, exists;
};

static void add_mount(struct opts *o, const char *spec)
{
    _cleanup_strv_ char **f = strv_split(spec, ":");
    if (strv_len(f) < 2) {
        fprintf(stderr, "overlay-exec: bad --mount %s\n", spec);
        exit(2);
    }
    o->mounts = xrealloc(o->mounts, (o->n_mounts + 1) * sizeof(*o->mounts));
    struct oci_mount *m = &o->mounts[o->n_mounts++];
    memset(m, 0, sizeof(*m));
    m->source = xstrdup(f[0]);
    m->destination = xstrdup(f[1]);
    m->type = xstrdup("bind");
    m->bind = m->recursive = true;
    m->readonly = f[2] && strcmp(f[2], "ro") == 0;
}

#define USAGE                                                                                      \
    "usage: overlay-exec --root R --base B [--ns NS] [--name N] [--isolation namespace|node]\n"    \
    "         [--no-filter] [--filter-path P]... [--filter-mode append|replace] [--allow P]...\n"  \
    "         [--mount SRC:DST[:ro]]... [--destroy | --exists | -- CMD ARGS...]\n"

/* Returns the index of CMD in argv, or -1 after a usage error (or --help). */
static int parse(int argc, char **argv, struct opts *o)
{
    static const char *const isolations[] = {"namespace", "node", NULL}; /* enum isolation_mode */
    static const char *const modes[] = {"append", "replace", NULL};      /* enum filter_mode */
    const char *root = NULL, *base = NULL, *ns = "default", *name = NULL;
    unsigned isolation = ISOLATION_NAMESPACE, mode = FILTER_APPEND;
    bool no_filter = false;
    _cleanup_strv_ char **mounts = NULL;
    const struct cmdline_opt table[] = {
        {.name = "root", .kind = CL_STRING, .target = &root},
        {.name = "base", .kind = CL_STRING, .target = &base},
        {.name = "ns", .kind = CL_STRING, .target = &ns},
        {.name = "name", .kind = CL_STRING, .target = &name},
        {.name = "isolation", .kind = CL_CHOICE, .target = &isolation, .choices = isolations},
        {.name = "filter-path", .kind = CL_STRV, .target = &o->cfg.filter_paths},
        {.name = "filter-mode", .kind = CL_CHOICE, .target = &mode, .choices = modes},
        {.name = "allow", .kind = CL_STRV, .target = &o->cfg.filter_allowlist},
        {.name = "mount", .kind = CL_STRV, .target = &mounts},
        {.name = "no-filter", .kind = CL_FLAG, .target = &no_filter},
        {.name = "destroy", .kind = CL_FLAG, .target = &o->destroy},
        {.name = "exists", .kind = CL_FLAG, .target = &o->exists},
        {0},
    };
    const struct cmdline cl = {.program = "overlay-exec",
                               .usage = USAGE,
                               .opts = table,
                               .positionals = true,
                               .stop_at_operand = true};
    o->cfg.filter_paths = xcalloc(1, sizeof(char *));
    o->cfg.filter_allowlist = xcalloc(1, sizeof(char *));
    if (cmdline_parse(&cl, argc, argv) != 0)
        return -1;
    o->cfg.runtime_root = root ? xstrdup(root) : NULL;
    o->cfg.overlay_base = base ? xstrdup(base) : NULL;
    o->cfg.isolation = isolation;
    o->cfg.filter_mode = mode;
    o->cfg.filter_enabled = !no_filter;
    o->id.k8s_namespace = xstrdup(ns);
    o->id.overlay_name = name ? xstrdup(name) : NULL;
    for (size_t i = 0; i < strv_len(mounts); i++)
        add_mount(o, mounts[i]);
    return optind;
}

static void opts_free(struct opts *o)
{
    for (size_t i = 0; i < o->n_mounts; i++) {
        free(o->mounts[i].source);
        free(o->mounts[i].destination);
        free(o->mounts[i].type);
    }
    free(o->mounts);
    free(o->cfg.runtime_root);
    free(o->cfg.overlay_base);
    free(o->cfg.filter_dir);
    strv_free(o->cfg.filter_paths);
    strv_free(o->cfg.filter_allowlist);
    free(o->id.k8s_namespace);
    free(o->id.overlay_name);
}

static int fail(rerr *e)
{
    fprintf(stderr, "overlay-exec: %s\n", rerr_msg(e));
    rerr_free(e);
    return 1;
}

/* What the runtime does in its forked child: clone sources, join the overlay, go private. */
static int enter(struct opts *o, rerr **err)
{
    struct mount_plan plan = {0};
    int r = mounts_prepare(o->mounts, o->n_mounts, DNS_KUBERNETES, &plan, err);
    if (r == 0)
        r = overlay_enter(&o->cfg, &o->id, err);
    if (r == 0 && unshare(CLONE_NEWNS) < 0)
        r = rerr_set(err, errno, "unshare");
    if (r == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        r = rerr_set(err, errno, "make / rprivate");
    if (r == 0)
        r = mounts_attach(&plan, err);
    mount_plan_free(&plan);
    return r;
}

static int run(int argc, char **argv, struct opts *o)
{
    int first = parse(argc, argv, o);
    if (first < 0 || o->cfg.runtime_root == NULL || o->cfg.overlay_base == NULL)
        return 2;
    o->cfg.filter_dir = xasprintf("%s/overlay-filters", o->cfg.runtime_root);
    rerr *e = NULL;
    if (o->exists)
        return overlay_exists(&o->cfg, &o->id) ? 0 : 3;
    if (o->destroy)
        return overlay_destroy(&o->cfg, &o->id, NULL, NULL, &e) < 0 ? fail(e) : 0;
    if (first >= argc)
        return 2;
    if (enter(o, &e) < 0)
        return fail(e);
    execvp(argv[first], argv + first);
    fprintf(stderr, "overlay-exec: exec %s: %s\n", argv[first], strerror(errno));
    return 127;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int r = run(argc, argv, &o);
    opts_free(&o);
    return r;
}
