/* Reset marks: <overlay_base>/.resets/<ns>_<name> (see reset_mark.h). */
#include "reset_mark.h"
#include "cleanup.h"
#include "overlay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARK_MAX 256

static char *marks_dir(const struct reaper_config *cfg)
{
    _cleanup_free_ char *owned = NULL;
    return xasprintf("%s/.resets", overlay_base(cfg, &owned));
}

/* ns and name are DNS labels (no '_', no '/'), so "<ns>_<name>" names one object. *tmp (if
 * tmp is not NULL): where reset_mark_prepare writes it. */
static _must_check_ int mark_path(const struct reaper_config *cfg, const char *ns, const char *name,
                                  char **out, char **tmp, rerr **err)
{
    if (ns == NULL || !is_dns_label(ns) || name == NULL || !is_dns_label(name))
        return rerr_setx(err, EINVAL, "reset mark: invalid overlay \"%s/%s\"", ns ? ns : "",
                         name ? name : "");
    _cleanup_free_ char *dir = marks_dir(cfg);
    *out = xasprintf("%s/%s_%s", dir, ns, name);
    if (tmp)
        *tmp = xasprintf("%s/.%s_%s.tmp", dir, ns, name);
    return 0;
}

bool reset_mark_covers(const struct reset_mark *done, const struct reset_mark *wanted)
{
    return strcmp(done->uid, wanted->uid) == 0 && done->generation >= wanted->generation &&
           done->request >= wanted->request;
}

int reset_mark_read(const struct reaper_config *cfg, const char *ns, const char *name,
                    struct reset_mark *out, rerr **err)
{
    _cleanup_free_ char *path = NULL;
    int r = mark_path(cfg, ns, name, &path, NULL, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    r = read_file(path, MARK_MAX, &text, NULL, &e);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return rerr_from(err, -r, rerr_msg(e));
    struct reset_mark m = {0};
    char end = 0;
    if (sscanf(text, "%63s %" SCNd64 " %" SCNd64 "%c", m.uid, &m.generation, &m.request, &end) !=
            4 ||
        end != '\n' || m.generation < 0 || m.request < 0)
        return rerr_setx(err, EINVAL, "reset mark %s: malformed", path);
    *out = m;
    return 1;
}

static _must_check_ int sync_dir(const char *dir, rerr **err)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return rerr_set(err, errno, "sync %s", dir);
    return 0;
}

int reset_mark_prepare(const struct reaper_config *cfg, const char *ns, const char *name,
                       const struct reset_mark *m, rerr **err)
{
    _cleanup_free_ char *path = NULL, *tmp = NULL;
    int r = mark_path(cfg, ns, name, &path, &tmp, err);
    if (r < 0)
        return r;
    if (m->uid[0] == '\0' || strpbrk(m->uid, " \t\n") != NULL)
        return rerr_setx(err, EINVAL, "reset mark %s: invalid uid \"%s\"", path, m->uid);
    _cleanup_free_ char *dir = marks_dir(cfg);
    r = mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text =
        xasprintf("%s %" PRId64 " %" PRId64 "\n", m->uid, m->generation, m->request);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return rerr_set(err, errno, "create %s", tmp);
    r = write_all(fd, text, strlen(text));
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    return r < 0 ? rerr_set(err, -r, "write %s", tmp) : 0;
}

int reset_mark_commit(const struct reaper_config *cfg, const char *ns, const char *name, rerr **err)
{
    _cleanup_free_ char *path = NULL, *tmp = NULL;
    int r = mark_path(cfg, ns, name, &path, &tmp, err);
    if (r < 0)
        return r;
    if (rename(tmp, path) < 0)
        return rerr_set(err, errno, "rename %s to %s", tmp, path);
    _cleanup_free_ char *dir = marks_dir(cfg);
    return sync_dir(dir, err);
}

int reset_mark_remove(const struct reaper_config *cfg, const char *ns, const char *name, rerr **err)
{
    _cleanup_free_ char *path = NULL, *tmp = NULL;
    int r = mark_path(cfg, ns, name, &path, &tmp, err);
    if (r < 0)
        return r;
    if (unlink(path) < 0 && errno != ENOENT)
        return rerr_set(err, errno, "remove %s", path);
    if (unlink(tmp) < 0 && errno != ENOENT)
        return rerr_set(err, errno, "remove %s", tmp);
    _cleanup_free_ char *dir = marks_dir(cfg);
    (void)rmdir(dir); /* only once empty: other objects' marks stay */
    return 0;
}
