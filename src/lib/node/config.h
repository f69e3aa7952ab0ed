/* Node configuration: /etc/reaper/reaper.conf (KEY=VALUE) overridden by the environment. */
#ifndef REAPER_CONFIG_H
#define REAPER_CONFIG_H

#include <stdbool.h>

#include "err.h"

#define REAPER_DEFAULT_CONFIG "/etc/reaper/reaper.conf"
#define REAPER_DEFAULT_ROOT   "/run/reaper"
/* REAPER_CRIU_TIMEOUT: a hung criu (a truncated image can do that) must not hang its caller. */
#define CRIU_TIMEOUT_DEFAULT 600
#define CRIU_TIMEOUT_MAX     (7 * 24 * 3600)

enum isolation_mode { ISOLATION_NAMESPACE, ISOLATION_NODE };
enum dns_mode { DNS_HOST, DNS_KUBERNETES };
enum filter_mode { FILTER_APPEND, FILTER_REPLACE };

struct reaper_config {
    char *config_path;             /* REAPER_CONFIG: the file that was read (may not exist) */
    char *runtime_root;            /* REAPER_RUNTIME_ROOT, default /run/reaper */
    bool shared_root;              /* REAPER_SHARED_ROOT: make the root a shared mount point */
    char *shim_log;                /* REAPER_SHIM_LOG, NULL = none */
    char *runtime_log;             /* REAPER_RUNTIME_LOG, NULL = none */
    enum isolation_mode isolation; /* REAPER_OVERLAY_ISOLATION namespace|node */
    char *overlay_base;            /* REAPER_OVERLAY_BASE, default <runtime_root>/overlay */
    enum dns_mode dns_mode;        /* REAPER_DNS_MODE host|kubernetes|k8s, default host */
    bool annotations_enabled;      /* REAPER_ANNOTATIONS_ENABLED, default true */
    bool filter_enabled;           /* REAPER_FILTER_ENABLED, default true */
    enum filter_mode filter_mode;  /* REAPER_FILTER_MODE append|replace */
    char **filter_paths;           /* REAPER_FILTER_PATHS, colon-separated */
    char **filter_allowlist;       /* REAPER_FILTER_ALLOWLIST, colon-separated */
    char *filter_dir;              /* REAPER_FILTER_DIR, default <runtime_root>/overlay-filters */
    char *criu;                    /* REAPER_CRIU: path or name on PATH, default "criu" */
    char *criu_mount_ns;   /* REAPER_CRIU_MOUNT_NS: run criu in this mount ns; NULL = ours */
    unsigned criu_timeout; /* REAPER_CRIU_TIMEOUT seconds, default 600, 0 = none */
    /* Set explicitly; otherwise overlay_base/filter_dir follow runtime_root wherever it is set. */
    bool overlay_base_set, filter_dir_set;
};

/*
 * Load defaults, then the file (path argument, else $REAPER_CONFIG, else the default path; a
 * missing default file is not an error, a missing explicitly named one is), then environment
 * variables from envp (NULL-terminated "KEY=VALUE" list; pass `environ`). Unknown REAPER_* keys
 * in the file are warned about; a bad value is an error naming the key, file and line.
 */
_must_check_ int config_load(struct reaper_config *cfg, const char *path, char *const *envp,
                             rerr **err);
/* Parse reaper.conf text into cfg (used by config_load and the fuzzer). */
_must_check_ int config_parse_text(struct reaper_config *cfg, const char *text, const char *origin,
                                   rerr **err);
/* Apply one KEY=VALUE setting; origin names where it came from for error messages. */
_must_check_ int config_set(struct reaper_config *cfg, const char *key, const char *value,
                            const char *origin, rerr **err);
void config_init_defaults(struct reaper_config *cfg);
void config_free(struct reaper_config *cfg);

const char *dns_mode_name(enum dns_mode m);
_must_check_ int dns_mode_parse(const char *s,
                                enum dns_mode *out); /* host|kubernetes|k8s; -EINVAL */

#endif
