/* What is on this node right now: runtime state dirs, overlays on disk, shim processes. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "overlay.h"
#include "scan.h"
#include "util.h"

#define NSFS_MAGIC_VALUE 0x6e736673
#define SHIM_NAME        "containerd-shim-reaper-v2"

char *overlay_key_for(const struct reaper_config *cfg, const char *ns, const char *name)
{
    struct workload_identity id = {.k8s_namespace = (char *)ns, .overlay_name = (char *)name};
    struct overlay_paths p = {0};
    rerr *e = NULL;
    if (overlay_paths_resolve(cfg, &id, &p, &e) < 0) {
        rerr_free(e);
        return NULL;
    }
    char *key = xstrdup(p.key);
    overlay_paths_free(&p);
    return key;
}

static int64_t age_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    return (int64_t)(time(NULL) - st.st_mtime);
}

static void scan_workload(const struct reaper_config *cfg, const char *id, struct workload_info *w)
{
    w->id = xstrdup(id);
    _cleanup_free_ char *dir = state_dir(cfg->runtime_root, id);
    w->age_s = age_of(dir);
    struct container_state *st = NULL;
    rerr *e = NULL;
    if (state_load(cfg->runtime_root, id, &st, &e) < 0) {
        rerr_free(e);
        w->unreadable = true;
        return;
    }
    w->k8s_namespace = st->k8s_namespace ? xstrdup(st->k8s_namespace) : NULL;
    w->overlay_name = st->overlay_name ? xstrdup(st->overlay_name) : NULL;
    w->overlay_key =
        overlay_key_for(cfg, st->k8s_namespace ? st->k8s_namespace : "default", st->overlay_name);
    w->sandbox = st->sandbox;
    w->status = state_live_status(st);
    w->bundle_exists = st->bundle && access(st->bundle, F_OK) == 0;
    state_free(st);
}

static _must_check_ int scan_workloads(const struct reaper_config *cfg, struct node_snapshot *s,
                                       rerr **err)
{
    _cleanup_strv_ char **ids = NULL;
    int n = state_list(cfg->runtime_root, &ids, err);
    if (n < 0)
        return n;
    s->workloads = xcalloc((size_t)n + 1, sizeof(*s->workloads));
    for (int i = 0; i < n; i++)
        scan_workload(cfg, ids[i], &s->workloads[s->n_workloads++]);
    return 0;
}

static __thread uint64_t du_total;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)flag, (void)ftw;
    du_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t disk_usage(const char *dir)
{
    du_total = 0;
    nftw(dir, du_add, 32, FTW_PHYS | FTW_MOUNT);
    return du_total;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void add_overlay(const struct reaper_config *cfg, struct node_snapshot *s, const char *ns,
                        const char *name, const char *dir, bool sizes)
{
    _cleanup_free_ char *upper = xasprintf("%s/upper", dir);
    if (!is_dir(upper))
        return;
    s->overlays = xrealloc(s->overlays, (s->n_overlays + 1) * sizeof(*s->overlays));
    struct overlay_info *o = &s->overlays[s->n_overlays++];
    *o = (struct overlay_info){0};
    o->key = name ? xasprintf("%s_%s", ns, name) : xstrdup(ns);
    o->k8s_namespace = xstrdup(ns);
    o->name = name ? xstrdup(name) : NULL;
    o->upper_bytes = sizes ? disk_usage(upper) : 0;
    _cleanup_free_ char *pin = xasprintf("%s/ns/%s", cfg->runtime_root, o->key);
    struct statfs fs;
    o->pinned = statfs(pin, &fs) == 0 && (unsigned long)fs.f_type == NSFS_MAGIC_VALUE;
}

/* <base>/<key>/upper is the namespace overlay, <base>/<key>/<name>/upper a named one. */
static void scan_overlays(const struct reaper_config *cfg, struct node_snapshot *s, bool sizes)
{
    DIR *d = opendir(cfg->overlay_base);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *dir = xasprintf("%s/%s", cfg->overlay_base, de->d_name);
        add_overlay(cfg, s, de->d_name, NULL, dir, sizes);
        DIR *sub = opendir(dir);
        struct dirent *se;
        while (sub && (se = readdir(sub)) != NULL) {
            if (se->d_name[0] == '.' || strcmp(se->d_name, "upper") == 0 ||
                strcmp(se->d_name, "work") == 0)
                continue;
            _cleanup_free_ char *named = xasprintf("%s/%s", dir, se->d_name);
            add_overlay(cfg, s, de->d_name, se->d_name, named, sizes);
        }
        if (sub)
            closedir(sub);
    }
    if (d)
        closedir(d);
}

static uint64_t rss_of(const char *proc, pid_t pid)
{
    _cleanup_free_ char *path = xasprintf("%s/%d/statm", proc, (int)pid);
    FILE *f = fopen(path, "re");
    unsigned long long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool is_shim(const char *proc, pid_t pid)
{
    _cleanup_free_ char *path = xasprintf("%s/%d/exe", proc, (int)pid);
    char exe[PATH_MAX];
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    /* An upgraded binary shows as "<name> (deleted)" while old shims still run it. */
    return str_startswith(base, SHIM_NAME) &&
           (base[strlen(SHIM_NAME)] == '\0' || base[strlen(SHIM_NAME)] == ' ');
}

static void scan_shims(const char *proc, struct node_snapshot *s)
{
    DIR *d = opendir(proc);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        int64_t pid;
        if (parse_int64(de->d_name, 1, INT_MAX, &pid) < 0 || !is_shim(proc, (pid_t)pid))
            continue;
        s->shims = xrealloc(s->shims, (s->n_shims + 1) * sizeof(*s->shims));
        s->shims[s->n_shims++] = (struct shim_info){(pid_t)pid, rss_of(proc, (pid_t)pid)};
    }
    if (d)
        closedir(d);
}

/* Free counts what root can still write: a full one means ENOSPC for every workload. */
static void scan_overlay_fs(const struct reaper_config *cfg, struct node_snapshot *s)
{
    struct statfs fs;
    if (statfs(cfg->overlay_base, &fs) < 0)
        return;
    s->has_overlay_fs = true;
    s->overlay_fs_size = (uint64_t)fs.f_blocks * (uint64_t)fs.f_bsize;
    s->overlay_fs_free = (uint64_t)fs.f_bfree * (uint64_t)fs.f_bsize;
}

int node_scan(const struct reaper_config *cfg, const char *proc, unsigned what,
              struct node_snapshot *out, rerr **err)
{
    struct node_snapshot s = {0}; /* *out is written only on success */
    int r = (what & SCAN_WORKLOADS) ? scan_workloads(cfg, &s, err) : 0;
    if (r < 0) {
        node_snapshot_free(&s);
        return r;
    }
    if (what & SCAN_OVERLAYS)
        scan_overlays(cfg, &s, what & SCAN_SIZES);
    if ((what & SCAN_OVERLAYS) && (what & SCAN_SIZES))
        scan_overlay_fs(cfg, &s);
    if (what & SCAN_SHIMS)
        scan_shims(proc ? proc : "/proc", &s);
    *out = s;
    return 0;
}
